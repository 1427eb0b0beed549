// The packages of the backend chain (their names, how to install them) and what their
// loaders (backend-native.ts, backend-wasm.ts) share: the outcome of a load, in the
// user's words, and the pieces those words are made of.
import * as tf from '@tensorflow/tfjs';

export const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

export const NATIVE = {
  'tensorflow-gpu': { pkg: '@tensorflow/tfjs-node-gpu', short: 'tfjs-node-gpu' },
  tensorflow: { pkg: '@tensorflow/tfjs-node', short: 'tfjs-node' },
} as const;
export type NativeName = keyof typeof NATIVE;

export const CUDA_NEEDS = 'tfjs-node-gpu 4.x is built on libtensorflow 2.9.1 and needs CUDA 11.2 and cuDNN 8.1';

/** Imports a package by name; tests inject one to simulate a package that throws a given error. */
export type Importer = (name: string) => Promise<unknown>;

export interface Outcome {
  ok: boolean;
  reason: string;
  /** What the user can do about it (install, version, CUDA), a sentence; used by `force` errors. */
  hint: string;
}

export function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? text).trim();
}

export function errorText(error: unknown): { message: string; code: string | undefined } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: error.message, code: typeof code === 'string' ? code : undefined };
  }
  return { message: String(error), code: undefined };
}

export function installHint(pkg: string): string {
  const extra = pkg === NATIVE['tensorflow-gpu'].pkg ? `; on Linux x64 with an NVIDIA GPU, ${CUDA_NEEDS}` : '';
  return `Install it with \`npm install ${pkg}@${tf.version_core}\` (the same version as the lab's tfjs-core; its install downloads libtensorflow and needs the network${extra})`;
}
