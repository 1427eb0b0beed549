// What the WebGPU tests share: the software adapter as the 'webgpu' backend (forced, as
// `--backend webgpu` does; the tests need Debian's mesa packages, which .ci/run installs),
// and running one computation on two backends to compare. Reads are `await data()`: tfjs-webgpu
// has no synchronous read in Node.
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendChoice } from '../backend';

let choice: Promise<BackendChoice> | undefined;

/** Registers webgpu on this machine's adapter (a software one here) once per test file; fails the test when there is none. */
export function webGpuReady(): Promise<BackendChoice> {
  choice ??= selectBackend({ force: 'webgpu' });
  return choice;
}

export interface Input {
  readonly shape: number[];
  readonly values: Float32Array;
}

/** Runs `f` on `backend` with fresh tensors of `inputs`; returns every output's values and frees every tensor. */
export async function onBackend(backend: 'webgpu' | 'cpu' | 'wasm', inputs: readonly Input[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  if (backend === 'webgpu') await webGpuReady();
  if (!(await tf.setBackend(backend))) throw new Error(`could not switch to ${backend}`);
  const outputs = tf.tidy(() => {
    const out = f(...inputs.map((i) => tf.tensor(i.values, i.shape)));
    return Array.isArray(out) ? out : [out];
  });
  try {
    return await Promise.all(outputs.map(async (t) => Float32Array.from(await t.data())));
  } finally {
    for (const t of outputs) t.dispose();
  }
}

/** ||a - b|| / ||b|| (0 when both are all zeros). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    diff += (x - y) ** 2;
    norm += y * y;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}
