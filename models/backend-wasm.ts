// Loading @tensorflow/tfjs-backend-wasm (XNNPACK): its import, the folder of its .wasm
// binaries, and its initialisation (once per module), with threads where they work.
//
// Threads under Node. The package only offers its threaded SIMD build to browsers: its
// WASM_HAS_MULTITHREAD_SUPPORT check answers false under Node (tfjs issue #3830). The build
// itself runs under Node 20 (SharedArrayBuffer, shared WebAssembly memory and worker_threads
// are all there); what fails is the glue: (1) the package hands Emscripten its pthread
// worker as a blob: URL, which Node's Worker refuses (ERR_WORKER_PATH), and posts the main
// script to the workers as a Blob, which the worker reads with fs.readFileSync; (2) the
// C++ side caps XNNPACK's pool at emscripten_num_logical_cores() / 2 (it assumes two
// hyperthreads a core), which on a 2-core machine is 1. So, for the threaded init only:
// the worker is written to a file (the package's own worker code, told the main script's
// path) in a private folder of this process (workerFile: never a shared, predictable temp
// path another local user could plant code at), URL.createObjectURL returns that file, and os.cpus() reports twice the threads
// wanted; both are restored as soon as the backend is up. If anything fails, the
// single-threaded SIMD build loads as before. FACE_CNN_LAB_WASM_THREADS=1 turns threads
// off (=N asks for N, at most 8).
import * as tf from '@tensorflow/tfjs';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unpackedPath } from '../datasets/asar-unpacked';
import { errorText, firstLine, installHint, WASM_PACKAGE, type Importer, type Outcome } from './backend-packages';
import { installWasmTrainingKernels } from './kernels/wasm-training-kernels';

// The wasm package is a real dependency: a literal import, so bundlers ship it.
const importWasm: Importer = () => import('@tensorflow/tfjs-backend-wasm');

interface WasmModule {
  setWasmPaths(prefixOrFileMap: string | Record<string, string>, usePlatformFetch?: boolean): void;
  setThreadsCount?(threads: number): void;
  getThreadsCount?(): number;
  version_wasm?: string;
}

// Not named `require`: bundlers (electron-vite) declare their own at the top of the bundle.
const requireHere = createRequire(import.meta.url);

let threadsInUse = 1;
let threadsNote = '';

/** Threads the wasm backend computes with (XNNPACK's pool, the calling thread included); 1 without threads. */
export function wasmThreads(): number {
  return threadsInUse;
}

/** Why wasm runs without threads, if it does (empty when it has them or was asked for one). */
export function wasmThreadsNote(): string {
  return threadsNote;
}

function wantedThreads(): number {
  const asked = process.env['FACE_CNN_LAB_WASM_THREADS'];
  if (asked !== undefined && asked !== '') {
    const n = Number(asked);
    if (Number.isInteger(n) && n >= 1) return Math.min(n, 8);
  }
  return Math.min(availableParallelism(), 8);
}

const wasmInits = new WeakMap<object, Promise<Outcome>>();

/**
 * Folder of the .wasm binaries, with the trailing separator setWasmPaths needs (it concatenates
 * prefix + file name). In the packaged app, their unpacked copies: the threaded build's workers
 * read them by path, outside Electron's asar support (datasets/asar-unpacked.ts).
 */
export function wasmBinaryFolder(main = createRequire(import.meta.url).resolve(WASM_PACKAGE)): string {
  // The package has no "exports" map, so its main file resolves; the binaries sit beside it in dist/.
  return `${dirname(unpackedPath(join(dirname(main), 'tfjs-backend-wasm-simd.wasm')))}/`;
}

/** The threaded build's main script, which its pthread workers read by path: the unpacked copy in the packaged app. */
export function threadedMainScript(packageDir: string): string {
  return unpackedPath(join(packageDir, 'wasm-out/tfjs-backend-wasm-threaded-simd.js'));
}

/** The package's pthread worker, told where the main script is, as the text of a CommonJS file; null when the package lacks it. */
export function wasmWorkerSource(): string | null {
  const packageDir = dirname(dirname(requireHere.resolve(WASM_PACKAGE)));
  // The worker module is required here, where Electron's asar support applies.
  const mainScript = threadedMainScript(packageDir);
  const workerModule = join(packageDir, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
  if (!existsSync(mainScript) || !existsSync(workerModule)) return null;
  const { wasmWorkerContents } = requireHere(workerModule) as { wasmWorkerContents?: string };
  if (typeof wasmWorkerContents !== 'string') return null;
  // The package escapes the newlines its template literal turned into real ones (string
  // literals in the worker code contain "\n"); so must we.
  return (
    `// Written by Face CNN Lab (models/backend-wasm.ts): tfjs-backend-wasm's pthread worker, reading the main script from a file.\n` +
    `URL.createObjectURL = () => ${JSON.stringify(mainScript)}; URL.revokeObjectURL = () => {};\n` +
    wasmWorkerContents.replace(/\n/g, '\\n')
  );
}

let workerPath: string | undefined;

/** Removes this user's worker folders left by processes that are gone (their pid is in the name). */
export function removeStaleWorkerFolders(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = Number(new RegExp(`^${FOLDER_PREFIX}(\\d+)-`).exec(name)?.[1] ?? Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    const path = join(tmpdir(), name);
    try {
      const stat = lstatSync(path);
      // Only real folders of this user: never through a link, never another user's.
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** Folders of the worker file: `face-cnn-lab-wasm-<pid>-<random>` in the temp folder. */
const FOLDER_PREFIX = 'face-cnn-lab-wasm-';

/**
 * The worker as a file Node can start, written once per process into a folder of its own:
 * mkdtemp makes it with a name no one can guess beforehand and mode 0700 (only this user can
 * enter it), and the file is created exclusively ('wx': never through a file or link that was
 * already there). Code that runs inside the trainer must never come from a shared temp path:
 * on a shared machine another user could have put their own there. The folder goes at exit;
 * those of processes that died without exiting (killed, crashed) go the next time.
 */
export function workerFile(): string | null {
  if (workerPath !== undefined) return workerPath;
  const text = wasmWorkerSource();
  if (text === null) return null;
  removeStaleWorkerFolders();
  const folder = mkdtempSync(join(tmpdir(), `${FOLDER_PREFIX}${process.pid}-`));
  process.once('exit', () => {
    try {
      rmSync(folder, { recursive: true, force: true });
    } catch {
      // On Windows a file still open by a worker cannot go yet: the next start removes it.
    }
  });
  const file = join(folder, 'wasm-worker.cjs');
  writeFileSync(file, text, { flag: 'wx', mode: 0o600 });
  workerPath = file;
  return file;
}

const THREADED_INIT_TIMEOUT_MS = 20_000;

/** Initialises the threaded SIMD build with `threads` threads; null when it runs, else why not. */
async function initThreaded(module: WasmModule, threads: number): Promise<string | null> {
  if (typeof SharedArrayBuffer !== 'function') return 'no SharedArrayBuffer';
  if (typeof module.setThreadsCount !== 'function' || typeof module.getThreadsCount !== 'function') return 'the package has no setThreadsCount';
  let worker: string | null;
  try {
    worker = workerFile();
  } catch (error) {
    return `its worker could not be written: ${firstLine(errorText(error).message)}`;
  }
  if (worker === null) return 'the package has no threaded build';
  const os = requireHere('node:os') as typeof import('node:os');
  const realCpus = os.cpus;
  const realCreateObjectURL = URL.createObjectURL;
  let timer: NodeJS.Timeout | undefined;
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    module.setThreadsCount(threads);
    os.cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0] as ReturnType<typeof realCpus>[number]);
    URL.createObjectURL = () => worker;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), THREADED_INIT_TIMEOUT_MS);
    });
    const ok = await Promise.race([tf.setBackend('wasm'), timeout]);
    if (!ok) return 'the threaded build did not initialise';
    const got = module.getThreadsCount();
    threadsInUse = got;
    // XNNPACK's pool threads wait for work forever, and Emscripten keeps a running pthread's
    // worker ref'd: the process would never exit on its own. They hold no work between kernels.
    const pthreads = (tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers?: Array<{ unref?: () => void }> } } }).wasm?.PThread;
    for (const w of pthreads?.runningWorkers ?? []) w.unref?.();
    return got > 1 ? null : `XNNPACK made a pool of ${got} thread`;
  } catch (error) {
    return firstLine(errorText(error).message);
  } finally {
    clearTimeout(timer);
    os.cpus = realCpus;
    URL.createObjectURL = realCreateObjectURL;
  }
}

async function initWasmUncached(module: WasmModule): Promise<Outcome> {
  try {
    // Under Node the binaries are read from the file system; the default prefix is the folder of
    // the script that loaded them, wrong once the app is bundled, so it is set explicitly. A folder
    // without the trailing slash fails ("…/disttfjs-backend-wasm-simd.wasm": ENOENT); a file:// URL
    // also works.
    module.setWasmPaths(wasmBinaryFolder());
  } catch (error) {
    // Already initialised (or aborted) by someone else: setWasmPaths refuses, setBackend tells.
    void error;
  }
  let initialised = false;
  let failure = '';
  const threads = wantedThreads();
  if (threads > 1) {
    const problem = await initThreaded(module, threads);
    if (problem === null) initialised = true;
    else threadsNote = `no threads: ${problem}`;
  }
  if (!initialised) {
    threadsInUse = 1;
    try {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      initialised = await tf.setBackend('wasm');
    } catch (error) {
      failure = firstLine(errorText(error).message);
    }
  }
  if (!initialised) {
    // Leave no broken backend for tfjs' priority order (wasm 2 > cpu 1) to pick later.
    if (tf.findBackendFactory('wasm') != null) tf.removeBackend('wasm');
    return { ok: false, reason: `wasm failed to initialise${failure ? `: ${failure}` : ' (its .wasm binary could not be loaded)'}`, hint: `Reinstall it: \`npm install ${WASM_PACKAGE}@${tf.version_core}\`` };
  }
  // The package lacks Conv2DBackpropFilter and computes MaxPoolGrad wrongly for windows with no
  // positive value; the lab's kernels (models/kernels/wasm-*.ts) make it a training backend.
  installWasmTrainingKernels();
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
