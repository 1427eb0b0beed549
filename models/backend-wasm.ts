// Loading @tensorflow/tfjs-backend-wasm (XNNPACK): its import, the folder of its .wasm
// binaries, and its initialisation (once per module).
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { errorText, firstLine, installHint, WASM_PACKAGE, type Importer, type Outcome } from './backend-packages';

// The wasm package is a real dependency: a literal import, so bundlers ship it.
const importWasm: Importer = () => import('@tensorflow/tfjs-backend-wasm');

interface WasmModule {
  setWasmPaths(prefixOrFileMap: string | Record<string, string>, usePlatformFetch?: boolean): void;
  version_wasm?: string;
}

const wasmInits = new WeakMap<object, Promise<Outcome>>();

/** Folder of the .wasm binaries, with the trailing separator setWasmPaths needs (it concatenates prefix + file name). */
function wasmBinaryFolder(): string {
  // The package has no "exports" map, so its main file resolves; the binaries sit beside it in dist/.
  const main = createRequire(import.meta.url).resolve(WASM_PACKAGE);
  return `${dirname(main)}/`;
}

async function initWasmUncached(module: WasmModule): Promise<Outcome> {
  try {
    // Under Node the binaries are read from the file system; the default prefix is the folder of
    // the script that loaded them, wrong once the app is bundled, so it is set explicitly. A folder
    // without the trailing slash fails ("…/disttfjs-backend-wasm-simd.wasm": ENOENT); a file:// URL
    // also works. Node 20 has WebAssembly SIMD but not the threaded build, so the SIMD binary loads.
    module.setWasmPaths(wasmBinaryFolder());
  } catch (error) {
    // Already initialised (or aborted) by someone else: setWasmPaths refuses, setBackend tells.
    void error;
  }
  let initialised = false;
  let failure = '';
  try {
    initialised = await tf.setBackend('wasm');
  } catch (error) {
    failure = firstLine(errorText(error).message);
  }
  if (!initialised) {
    // Leave no broken backend for tfjs' priority order (wasm 2 > cpu 1) to pick later.
    if (tf.findBackendFactory('wasm') != null) tf.removeBackend('wasm');
    return { ok: false, reason: `wasm failed to initialise${failure ? `: ${failure}` : ' (its .wasm binary could not be loaded)'}`, hint: `Reinstall it: \`npm install ${WASM_PACKAGE}@${tf.version_core}\`` };
  }
  return { ok: true, reason: 'wasm loaded', hint: '' };
}

/** Imports, sets up and initialises the wasm backend; `importer` replaces the import (tests). */
export async function loadWasm(importer: Importer | undefined): Promise<Outcome> {
  let module: unknown;
  try {
    module = await (importer ?? importWasm)(WASM_PACKAGE);
  } catch (error) {
    const { message, code } = errorText(error);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(message)) && message.includes(WASM_PACKAGE)) {
      return { ok: false, reason: 'wasm not installed', hint: installHint(WASM_PACKAGE) };
    }
    return { ok: false, reason: `wasm failed to load: ${firstLine(message)}`, hint: `Reinstall it: \`npm install ${WASM_PACKAGE}@${tf.version_core}\`` };
  }
  const wasm = module as WasmModule;
  if (typeof wasm.setWasmPaths !== 'function') {
    return { ok: false, reason: 'wasm failed to load: the package has no setWasmPaths', hint: `Reinstall it: \`npm install ${WASM_PACKAGE}@${tf.version_core}\`` };
  }
  let init = wasmInits.get(wasm);
  if (init === undefined) {
    init = initWasmUncached(wasm);
    wasmInits.set(wasm, init);
  }
  return init;
}
