// Which tfjs backend the lab computes on, and why.
//
// The chain (DESIGN.md, "Backends"): @tensorflow/tfjs-node-gpu (TensorFlow on CUDA) →
// @tensorflow/tfjs-node (TensorFlow on the CPU) → @tensorflow/tfjs-backend-wasm (XNNPACK)
// → the pure JavaScript `cpu` backend. The first that loads AND can do what it is asked
// for ('train' or 'infer') wins; every attempt keeps its reason, so the user is told which
// backend runs and why the others do not ("tfjs-node not installed", "CUDA libraries not
// found: libcudart.so.11.0", "wasm lacks Conv2DBackpropFilter").
//
// One tfjs-core, shared. @tensorflow/tfjs-node 4.22 (src/index.ts) does
// `import * as tf from '@tensorflow/tfjs'` (its dependency, pinned to exactly 4.22.0),
// registers its kernels for backendName 'tensorflow' (`import './kernels/all_kernels'`,
// before it loads the native addon), then `tf.registerBackend('tensorflow', () => new
// NodeJSKernelBackend(binding, 'tfjs-node' | 'tfjs-node-gpu'), 3)` and calls
// `tf.setBackend('tensorflow')` (a Promise in 4.x, so its `if (!success) throw` never
// fires: a backend whose constructor fails is only logged). All of that happens on the
// tfjs-core *that package* resolves. npm hoists it to the very node_modules/@tensorflow/
// tfjs(-core) the lab uses only when the versions match; otherwise tfjs-node gets its own
// nested copy. tfjs-core 4.x keeps its engine (globalThis._tfengine) and its kernel and
// gradient registries (globalThis._tfGlobals) process-wide, so a second copy often
// attaches to our engine, but then kernels and gradients written for another tfjs-core
// version run under ours (different kernel attributes, "Overriding the gradient for …"),
// which fails in odd places mid-training; and a copy that keeps an engine of its own
// registers 'tensorflow' where our `tf` never sees it: training would silently run on
// whatever our engine has. So after the import we require `tf.findBackend('tensorflow')`
// to be non-null in OUR instance and the package's tfjs-core version to equal ours, and
// otherwise report "tfjs-node loaded a different copy of tfjs-core" with the fix (install
// the tfjs-node version equal to our tfjs-core's).
//
// The native packages are imported through a variable so bundlers do not try to resolve
// them: they are optional dependencies whose install downloads libtensorflow, and are
// usually absent. tfjs-node-gpu 4.x is built on libtensorflow 2.9.1 for CUDA 11.2 + cuDNN
// 8.1. Without those libraries it either throws at import ("libcudart.so.11.0: cannot
// open shared object file", old builds linked them directly) or, as libtensorflow 2.x
// does, loads, prints to the native stderr "Could not load dynamic library
// 'libcudart.so.11.0'; dlerror: …" and "Skipping registering GPU devices", and runs on the
// CPU. We cannot read the native stderr, so in that second case we ask the backend
// (`isUsingGpuDevice`) and probe the CUDA libraries it needs ourselves to name the missing
// ones. The GPU package's TensorFlow then still serves as the native CPU backend: loading
// tfjs-node as well would load a second libtensorflow into the process.
import * as tf from '@tensorflow/tfjs';
import { installCpuConv2dBackpropFilter } from './kernels/cpu-conv2d-backprop-filter';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/**
 * A backend the user asked for (or any backend at all) cannot be used here: a forced
 * backend that is not installed or lacks what training needs, an unknown backend name,
 * no usable backend. The message says why and what to install; the command line and the
 * app show it as it is. Plain Errors from this module are programming errors.
 */
export class BackendError extends Error {
  override readonly name = 'BackendError';
}

export interface BackendAttempt {
  name: BackendName;
  /** Loaded, and able to do the purpose asked for. */
  ok: boolean;
  /** Why it was (not) usable, one phrase for the user. */
  reason: string;
  /** Loaded, has every kernel a training step needs, and a test gradient came out right. */
  canTrain: boolean;
}

export interface BackendChoice {
  name: BackendName;
  /** tf.getBackend() after the choice: 'tensorflow', 'wasm' or 'cpu'. */
  tfBackend: string;
  canTrain: boolean;
  attempts: BackendAttempt[];
  /** One line for the user: which backend, and why not the ones before it. */
  summary: string;
}

export type BackendPurpose = 'train' | 'infer';

export interface SelectBackendOptions {
  /** Use exactly this backend, or throw saying why it cannot be used and what to install. */
  force?: BackendName;
  /** Default 'train'. */
  purpose?: BackendPurpose;
  /** For tests only: replaces the dynamic import, to simulate a package that throws a given error. */
  importer?: (name: string) => Promise<unknown>;
}

export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * Kernels one training step of the lab's conv nets runs, found by profiling (tf.profile) a
 * step on the cpu backend of a small net with every activation (MFM, maxout, PReLU,
 * RReLU, leaky ReLU, ELU, SELU, GELU, swish, mish), dropout, max and average pooling, a
 * residual add, softmax cross-entropy with weight decay, gradient-norm clipping, a
 * NaN/Inf guard and SGD-momentum and Adam updates, and read against tfjs-core 4.22's
 * gradient definitions (dist/gradients/*_grad.js). Random numbers (dropout masks, RReLU
 * slopes) are drawn in JavaScript by tf.randomUniform and written as a tensor: no kernel,
 * any backend. tfjs-layers' Conv2D and Dense call the fused ops (FusedConv2D,
 * _FusedMatMul), whose gradients are written with Conv2DBackpropInput/Filter and
 * BatchMatMul.
 */
export const TRAINING_KERNELS: readonly string[] = [
  // convolutions, dense layers, pooling, forward and backward
  'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter',
  'BatchMatMul', '_FusedMatMul',
  'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad',
  // activations and their gradients: MFM and maxout (SplitV/Reshape + Maximum/Max, whose
  // gradients use GreaterEqual/Less/Equal + Cast), PReLU and leaky ReLU (Greater + Select),
  // RReLU (GreaterEqual + Select), ReLU (Step), ELU (EluGrad), SELU (Exp), GELU (Erf),
  // swish (Sigmoid), mish (Softplus, Tanh)
  'Maximum', 'Minimum', 'Max', 'Greater', 'GreaterEqual', 'Less', 'Equal', 'Select', 'Cast',
  'Relu', 'Step', 'LeakyRelu', 'Prelu', 'Elu', 'EluGrad', 'Selu', 'Sigmoid', 'Tanh', 'Softplus', 'Erf',
  // plumbing: residual adds, splits, concatenation, padding
  'Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Square', 'Sqrt', 'Exp', 'Log', 'Floor',
  'Reshape', 'Identity', 'Slice', 'SplitV', 'Concat', 'Pack', 'Unpack', 'PadV2', 'ZerosLike', 'Fill',
  // loss, accuracy, the NaN/Inf guard
  'Sum', 'Mean', 'Softmax', 'OneHot', 'ArgMax', 'IsFinite', 'IsNan', 'All', 'Any', 'LogicalNot',
];

/** Kernels a training step needs that `backendName` has not registered, e.g. ['Conv2DBackpropFilter'] for wasm 4.22. */
export function trainingKernelsMissing(backendName: string): string[] {
  return TRAINING_KERNELS.filter((kernel) => tf.getKernel(kernel, backendName) === undefined);
}

// ---------------------------------------------------------------------------------------
// Failure messages

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

const NATIVE = {
  'tensorflow-gpu': { pkg: '@tensorflow/tfjs-node-gpu', short: 'tfjs-node-gpu' },
  tensorflow: { pkg: '@tensorflow/tfjs-node', short: 'tfjs-node' },
} as const;
type NativeName = keyof typeof NATIVE;

const CUDA_NEEDS = 'tfjs-node-gpu 4.x is built on libtensorflow 2.9.1 and needs CUDA 11.2 and cuDNN 8.1';

/**
 * Shared libraries named as missing in a loader message: glibc's "libX.so.N: cannot open
 * shared object file", TensorFlow's "Could not load dynamic library 'libX.so.N'" (also
 * 'cudart64_110.dll' on Windows), macOS's "Library not loaded: @rpath/libX.dylib".
 */
export function missingLibraries(message: string): string[] {
  const found: string[] = [];
  const patterns = [
    /([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/g,
    /Could not load dynamic library '([^']+)'/g,
    /Library not loaded: (?:\S*\/)?([^\s/]+\.dylib)/g,
  ];
  for (const pattern of patterns) {
    for (const match of message.matchAll(pattern)) {
      const library = match[1];
      if (library !== undefined && !found.includes(library)) found.push(library);
    }
  }
  return found;
}

function isCudaLibrary(library: string): boolean {
  return /^(lib)?(cuda|cudart|cublas|cufft|curand|cusolver|cusparse|cudnn|nvinfer|nvrtc)/i.test(library);
}

function isNativeTensorFlowLibrary(library: string): boolean {
  return /^(lib)?tensorflow/i.test(library);
}

function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? text).trim();
}

function errorText(error: unknown): { message: string; code: string | undefined } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: error.message, code: typeof code === 'string' ? code : undefined };
  }
  return { message: String(error), code: undefined };
}

interface Outcome {
  ok: boolean;
  reason: string;
  /** What the user can do about it (install, version, CUDA), a sentence; used by `force` errors. */
  hint: string;
}

function installHint(pkg: string): string {
  const extra = pkg === NATIVE['tensorflow-gpu'].pkg ? `; on Linux x64 with an NVIDIA GPU, ${CUDA_NEEDS}` : '';
  return `Install it with \`npm install ${pkg}@${tf.version_core}\` (the same version as the lab's tfjs-core; its install downloads libtensorflow and needs the network${extra})`;
}

/** Can the dynamic loader find `library`? Node's dlopen loads it, then refuses it as an addon. */
function libraryLoads(library: string): boolean {
  try {
    process.dlopen({ exports: {} }, library);
    return true;
  } catch (error) {
    return !/cannot open shared object file|could not be found|image not found|no such file/i.test(errorText(error).message);
  }
}

/** Other CUDA runtimes present, to say "you have CUDA 13, it needs 11.2". */
function otherCudaRuntimes(): string[] {
  if (process.platform !== 'linux') return [];
  return ['libcudart.so.10.0', 'libcudart.so.10.1', 'libcudart.so.10.2', 'libcudart.so.12', 'libcudart.so.13'].filter(libraryLoads);
}

function cudaMissingReason(libraries: string[]): string {
  const others = otherCudaRuntimes();
  const found = others.length > 0 ? `; this machine has ${others.join(', ')}, another CUDA version` : '';
  return `CUDA libraries not found: ${libraries.join(', ')} (${CUDA_NEEDS}${found})`;
}

/** Libraries TensorFlow 2.9 opens for the GPU (CUDA 11.2, cuDNN 8.1), by platform. */
function cudaLibrariesNeeded(): string[] {
  if (process.platform === 'linux') {
    return ['libcuda.so.1', 'libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcufft.so.10', 'libcurand.so.10', 'libcusolver.so.11', 'libcusparse.so.11', 'libcudnn.so.8'];
  }
  if (process.platform === 'win32') {
    return ['nvcuda.dll', 'cudart64_110.dll', 'cublas64_11.dll', 'cublasLt64_11.dll', 'cufft64_10.dll', 'curand64_10.dll', 'cusolver64_11.dll', 'cusparse64_11.dll', 'cudnn64_8.dll'];
  }
  return [];
}

/** tfjs-node-gpu loaded but TensorFlow registered no GPU: name what is missing. */
function noGpuReason(): string {
  const missing = cudaLibrariesNeeded().filter((library) => !libraryLoads(library));
  const driverLibraries: readonly string[] = ['libcuda.so.1', 'nvcuda.dll'];
  const driver = missing.filter((library) => driverLibraries.includes(library));
  const toolkit = missing.filter((library) => !driver.includes(library));
  if (toolkit.length > 0) return cudaMissingReason(toolkit) + (driver.length > 0 ? `; no NVIDIA driver (${driver.join(', ')})` : '');
  if (driver.length > 0) return `no NVIDIA driver: ${driver.join(', ')} not found`;
  if (process.platform !== 'linux' && process.platform !== 'win32') return `tfjs-node-gpu has no GPU support on ${process.platform}`;
  return `TensorFlow found no usable GPU although the CUDA libraries load (is the driver new enough for CUDA 11.2, and the GPU supported by TensorFlow 2.9?)`;
}

/** Why importing a native package failed, in the user's terms. */
function nativeImportFailure(name: NativeName, error: unknown): Outcome {
  const { pkg, short } = NATIVE[name];
  const { message, code } = errorText(error);
  const missingModule = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(message);
  if (/tfjs_binding\.node/.test(message)) {
    if (missingModule) {
      return {
        ok: false,
        reason: `${short} is installed but its native addon is missing (its install could not download libtensorflow)`,
        hint: `Run \`npm rebuild ${pkg}\` with network access`,
      };
    }
    if (/specified module could not be found/i.test(message)) {
      // Windows: the addon exists but a DLL it depends on does not.
      return name === 'tensorflow-gpu'
        ? { ok: false, reason: `${short}: a DLL it needs was not found (CUDA 11.2 / cuDNN 8.1 not on PATH?)`, hint: `Install them (${CUDA_NEEDS}) with their bin folders on PATH` }
        : { ok: false, reason: `${short}: tensorflow.dll was not found next to its addon`, hint: `Run \`npm rebuild ${pkg}\` with network access` };
    }
  }
  if (missingModule && message.includes(`'${pkg}'`)) {
    return { ok: false, reason: `${short} not installed`, hint: installHint(pkg) };
  }
  const libraries = missingLibraries(message);
  const cuda = libraries.filter(isCudaLibrary);
  if (cuda.length > 0) {
    return { ok: false, reason: cudaMissingReason(cuda), hint: `Install CUDA 11.2 and cuDNN 8.1 and put them on the library path (LD_LIBRARY_PATH), or use another backend` };
  }
  const tensorflow = libraries.filter(isNativeTensorFlowLibrary);
  if (tensorflow.length > 0) {
    return { ok: false, reason: `${short}: its libtensorflow is missing (${tensorflow.join(', ')})`, hint: `Run \`npm rebuild ${pkg}\` with network access` };
  }
  if (libraries.length > 0) {
    return { ok: false, reason: `${short}: a library it needs was not found: ${libraries.join(', ')}`, hint: 'Install that library' };
  }
  if (missingModule) {
    return { ok: false, reason: `${short} is installed but cannot load: ${firstLine(message)}`, hint: `Reinstall it: \`npm install ${pkg}@${tf.version_core}\`` };
  }
  return { ok: false, reason: `${short} failed to load: ${firstLine(message)}`, hint: `Reinstall it: \`npm install ${pkg}@${tf.version_core}\`` };
}

/** The tfjs-core version a tfjs-node module says it runs on (its `version` merges tf.version). */
function reportedCoreVersion(module: unknown): string | undefined {
  const read = (value: unknown): string | undefined => {
    if (typeof value !== 'object' || value === null) return undefined;
    const version = (value as { version?: unknown }).version;
    if (typeof version !== 'object' || version === null) return undefined;
    const core = (version as Record<string, unknown>)['tfjs-core'];
    return typeof core === 'string' ? core : undefined;
  };
  return read(module) ?? read((module as { default?: unknown } | null)?.default);
}

/** Remove what a half-loaded native package left: kernels registered before its addon failed. */
function removeOrphanTensorFlowKernels(): void {
  if (tf.findBackendFactory('tensorflow') != null) return;
  for (const kernel of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(kernel.kernelName, 'tensorflow');
}

// ---------------------------------------------------------------------------------------
// Loading (once per process with the default importer; each call with an injected one)

type Importer = (name: string) => Promise<unknown>;

const defaultImporter: Importer = (name) =>
  // The wasm package is a real dependency: a literal import, so bundlers ship it. The native
  // ones are optional and usually absent: imported through a variable, never resolved at build time.
  name === WASM_PACKAGE ? import('@tensorflow/tfjs-backend-wasm') : import(/* @vite-ignore */ name);

interface NativeLoad extends Outcome {
  /** Set when the 'tensorflow' backend is live: whether it computes on a GPU (undefined: unknown). */
  gpu?: boolean | undefined;
}

const nativeLoads = new Map<NativeName, Promise<NativeLoad>>();

async function loadNativeUncached(name: NativeName, importer: Importer): Promise<NativeLoad> {
  const { pkg, short } = NATIVE[name];
  let module: unknown;
  try {
    module = await importer(pkg);
  } catch (error) {
    removeOrphanTensorFlowKernels();
    return nativeImportFailure(name, error);
  }
  const fix = `Install \`${pkg}@${tf.version_core}\`, the version whose tfjs-core is the lab's, so that both share one`;
  const theirs = reportedCoreVersion(module);
  if (theirs !== undefined && theirs !== tf.version_core) {
    return { ok: false, reason: `${short} loaded a different copy of tfjs-core (${theirs}; the lab runs ${tf.version_core})`, hint: fix };
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return { ok: false, reason: `${short} loaded a different copy of tfjs-core: its 'tensorflow' backend is not registered with the lab's tfjs`, hint: fix };
  }
  // findBackend initialises a registered backend on first use (tfjs-node's is synchronous);
  // an asynchronous one is awaited through setBackend.
  let backend = tf.findBackend('tensorflow') as (tf.KernelBackend & { isUsingGpuDevice?: unknown }) | null;
  if (backend === null && (await tf.setBackend('tensorflow').catch(() => false))) backend = tf.findBackend('tensorflow');
  if (backend === null) {
    return { ok: false, reason: `${short} registered its backend but TensorFlow failed to initialise (see the messages above)`, hint: `Reinstall it: \`npm install ${pkg}@${tf.version_core}\`` };
  }
  const gpu = typeof backend.isUsingGpuDevice === 'boolean' ? backend.isUsingGpuDevice : undefined;
  return { ok: true, reason: `${short} loaded`, hint: '', gpu };
}

function loadNative(name: NativeName, importer: Importer | undefined): Promise<NativeLoad> {
  if (importer !== undefined) return loadNativeUncached(name, importer);
  let load = nativeLoads.get(name);
  if (load === undefined) {
    load = loadNativeUncached(name, defaultImporter);
    nativeLoads.set(name, load);
  }
  return load;
}

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

async function loadWasm(importer: Importer): Promise<Outcome> {
  let module: unknown;
  try {
    module = await importer(WASM_PACKAGE);
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

// ---------------------------------------------------------------------------------------
// Does it compute right? A 2x2 valid convolution of a 4x4 image, and its gradients, against
// sums written out here (float32, small integers: exact on every backend).

const IMAGE = Array.from({ length: 16 }, (_, i) => i + 1); // 4x4, row-major
const FILTER = [1, 2, 3, 4]; // 2x2
const pixel = (r: number, c: number): number => IMAGE[r * 4 + c] ?? Number.NaN;
const weight = (a: number, b: number): number => FILTER[a * 2 + b] ?? Number.NaN;

function expectedConv(): number[] {
  const out: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out.push(pixel(r, c) * weight(0, 0) + pixel(r, c + 1) * weight(0, 1) + pixel(r + 1, c) * weight(1, 0) + pixel(r + 1, c + 1) * weight(1, 1));
  return out;
}

/** d(sum of the output)/d(filter): each weight sees a 3x3 window of the image. */
function expectedFilterGrad(): number[] {
  const out: number[] = [];
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      let s = 0;
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) s += pixel(r + a, c + b);
      out.push(s);
    }
  }
  return out;
}

/** d(sum of the output)/d(image): each pixel collects the weights whose window covers it. */
function expectedInputGrad(): number[] {
  const out: number[] = [];
  for (let p = 0; p < 4; p++) {
    for (let q = 0; q < 4; q++) {
      let s = 0;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) if (p - a >= 0 && p - a < 3 && q - b >= 0 && q - b < 3) s += weight(a, b);
      out.push(s);
    }
  }
  return out;
}

function sameValues(actual: ArrayLike<number>, expected: number[]): boolean {
  if (actual.length !== expected.length) return false;
  return expected.every((value, i) => Math.abs((actual[i] ?? Number.NaN) - value) <= 1e-4 * Math.max(1, Math.abs(value)));
}

/** Runs the test on the current backend; null when right, else what went wrong. */
function computeCheck(purpose: BackendPurpose): string | null {
  // A plain scope rather than tf.tidy, whose callback must return tensors.
  tf.engine().startScope();
  try {
    const x = tf.tensor4d(IMAGE, [1, 4, 4, 1]);
    const f = tf.tensor4d(FILTER, [2, 2, 1, 1]);
    const y = tf.conv2d(x, f, 1, 'valid');
    if (!sameValues(y.dataSync(), expectedConv())) return 'a test convolution gave wrong values';
    if (purpose === 'infer') return null;
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid')))([x, f]);
    if (dx === undefined || df === undefined) return 'a test gradient was not computed';
    if (!sameValues(df.dataSync(), expectedFilterGrad()) || !sameValues(dx.dataSync(), expectedInputGrad())) return 'a test gradient gave wrong values';
    return null;
  } catch (error) {
    return `a test convolution failed: ${firstLine(errorText(error).message)}`;
  } finally {
    tf.engine().endScope();
  }
}

/** Switches to `tfBackend` and checks it computes what `purpose` needs; null when it does. */
async function usableFor(tfBackend: string, purpose: BackendPurpose): Promise<{ problem: string | null; canTrain: boolean }> {
  const missing = trainingKernelsMissing(tfBackend);
  let switched = false;
  try {
    switched = await tf.setBackend(tfBackend);
  } catch (error) {
    return { problem: `could not switch to it: ${firstLine(errorText(error).message)}`, canTrain: false };
  }
  if (!switched) return { problem: 'could not switch to it', canTrain: false };
  const inferProblem = computeCheck('infer');
  if (inferProblem !== null) return { problem: inferProblem, canTrain: false };
  if (missing.length > 0) {
    const what = `lacks ${missing.join(', ')}, needed for training`;
    return { problem: purpose === 'train' ? what : null, canTrain: false };
  }
  const trainProblem = computeCheck('train');
  if (purpose === 'train') return { problem: trainProblem, canTrain: trainProblem === null };
  return { problem: null, canTrain: trainProblem === null };
}

// ---------------------------------------------------------------------------------------
// The attempts

interface Attempt extends BackendAttempt {
  hint: string;
}

const DESCRIPTION: Record<BackendName, string> = {
  'tensorflow-gpu': 'native TensorFlow on the GPU',
  tensorflow: 'native TensorFlow on the CPU',
  wasm: 'WebAssembly with XNNPACK',
  cpu: 'pure JavaScript',
};

const TF_BACKEND: Record<BackendName, string> = { 'tensorflow-gpu': 'tensorflow', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

interface Context {
  purpose: BackendPurpose;
  importer: Importer | undefined;
  /** The GPU package's load in this selection, if it was tried. */
  gpuLoad?: NativeLoad;
}

async function attemptNative(name: NativeName, context: Context): Promise<Attempt> {
  const { short } = NATIVE[name];
  const fail = (reason: string, hint: string): Attempt => ({ name, ok: false, reason, canTrain: false, hint });
  let load: NativeLoad;
  let via = short;
  if (name === 'tensorflow') {
    // Once tfjs-node-gpu has loaded, its TensorFlow is the native CPU backend too: importing
    // tfjs-node would load a second libtensorflow and register 'tensorflow' twice.
    const gpuLoad = context.gpuLoad ?? (context.importer === undefined ? await nativeLoads.get('tensorflow-gpu') : undefined);
    if (gpuLoad?.ok === true) {
      load = gpuLoad;
      via = NATIVE['tensorflow-gpu'].short;
    } else {
      load = await loadNative(name, context.importer);
    }
  } else {
    load = await loadNative(name, context.importer);
    context.gpuLoad = load;
  }
  if (!load.ok) return fail(load.reason, load.hint);
  if (name === 'tensorflow-gpu' && load.gpu === false) {
    return fail(noGpuReason(), `Install them (${CUDA_NEEDS}); without them its TensorFlow still runs on the CPU (--backend tensorflow)`);
  }
  const { problem, canTrain } = await usableFor('tensorflow', context.purpose);
  if (problem !== null) return fail(`${short}: ${problem}`, `Reinstall it: \`npm install ${NATIVE[name].pkg}@${tf.version_core}\``);
  const device = load.gpu === true ? 'on the GPU' : load.gpu === false ? 'on the CPU' : name === 'tensorflow-gpu' ? 'GPU use not reported' : 'on the CPU';
  const reason = via !== short ? `${via}'s TensorFlow, ${device} (${short} not loaded as well)` : `${short} loaded, ${device}`;
  return { name, ok: true, reason, canTrain, hint: '' };
}

async function attemptWasm(context: Context): Promise<Attempt> {
  const load = await loadWasm(context.importer ?? defaultImporter);
  if (!load.ok) return { name: 'wasm', ok: false, reason: load.reason, canTrain: false, hint: load.hint };
  const { problem, canTrain } = await usableFor('wasm', context.purpose);
  if (problem !== null) {
    const missing = trainingKernelsMissing('wasm');
    const reason = missing.length > 0 && problem.startsWith('lacks') ? `wasm ${problem} (fine for inference)` : `wasm: ${problem}`;
    const hint = missing.length > 0 ? 'Train on another backend (cpu, or tensorflow with tfjs-node installed) and keep wasm for inference' : '';
    return { name: 'wasm', ok: false, reason, canTrain: false, hint };
  }
  const note = canTrain ? '' : `; lacks ${trainingKernelsMissing('wasm').join(', ')}, so inference only`;
  return { name: 'wasm', ok: true, reason: `wasm loaded${note}`, canTrain, hint: '' };
}

async function attemptCpu(context: Context): Promise<Attempt> {
  const { problem, canTrain } = await usableFor('cpu', context.purpose);
  if (problem !== null) return { name: 'cpu', ok: false, reason: `cpu: ${problem}`, canTrain: false, hint: 'Reinstall @tensorflow/tfjs' };
  return { name: 'cpu', ok: true, reason: 'cpu is always available', canTrain, hint: '' };
}

function attempt(name: BackendName, context: Context): Promise<Attempt> {
  if (name === 'wasm') return attemptWasm(context);
  if (name === 'cpu') return attemptCpu(context);
  return attemptNative(name, context);
}

function publicAttempt({ name, ok, reason, canTrain }: Attempt): BackendAttempt {
  return { name, ok, reason, canTrain };
}

/** Makes sure the global backend is a working one after a failed selection. */
async function restoreBackend(previous: string | null): Promise<void> {
  const candidates = previous !== null ? [previous, 'cpu'] : ['cpu'];
  for (const candidate of candidates) {
    if (tf.findBackendFactory(candidate) == null) continue;
    try {
      if (await tf.setBackend(candidate)) return;
    } catch {
      // try the next one
    }
  }
}

function currentBackend(): string | null {
  try {
    return tf.getBackend() ?? null;
  } catch {
    return null;
  }
}

/**
 * Chooses the backend and makes it tfjs' global backend: the first of tfjs-node-gpu →
 * tfjs-node → wasm → cpu that loads and can do `purpose` (default 'train'), or exactly
 * `force`. Throws a BackendError saying why the forced backend (or every backend) cannot be
 * used and what to install.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  // The lab says which backend runs and why; tfjs' own first-use banner ("install
  // our node backend") would only repeat it, less accurately.
  tf.enableProdMode();
  const purpose = options.purpose ?? 'train';
  const context: Context = { purpose, importer: options.importer };
  const previous = currentBackend();
  const attempts: Attempt[] = [];
  const order = options.force !== undefined ? [options.force] : BACKEND_ORDER;
  let chosen: Attempt | undefined;
  for (const name of order) {
    if (!BACKEND_ORDER.includes(name)) throw new BackendError(`Unknown backend "${name}": choose one of ${BACKEND_ORDER.join(', ')}`);
    const result = await attempt(name, context);
    attempts.push(result);
    if (result.ok) {
      chosen = result;
      break;
    }
  }
  const doing = purpose === 'train' ? 'training' : 'inference';
  if (chosen === undefined) {
    await restoreBackend(previous);
    const last = attempts[attempts.length - 1];
    if (options.force !== undefined && last !== undefined) {
      throw new BackendError(`The ${options.force} backend cannot be used for ${doing}: ${last.reason}${last.hint ? `. ${last.hint}` : ''}.`);
    }
    throw new BackendError(`No backend can be used for ${doing}: ${attempts.map((a) => a.reason).join('; ')}`);
  }
  const tfBackend = TF_BACKEND[chosen.name];
  if (!(await tf.setBackend(tfBackend))) throw new Error(`Could not switch tfjs to the ${tfBackend} backend`);
  if (tfBackend === 'cpu') installCpuConv2dBackpropFilter(); // tfjs' own makes CPU training ~10x slower
  const others = attempts.filter((a) => a !== chosen).map((a) => a.reason);
  const forced = options.force !== undefined ? ' (forced with --backend)' : '';
  const summary = `${doing} on ${chosen.name} (${DESCRIPTION[chosen.name]})${forced}${others.length > 0 ? `: ${others.join('; ')}` : ''}`;
  return { name: chosen.name, tfBackend: tf.getBackend(), canTrain: chosen.canTrain, attempts: attempts.map(publicAttempt), summary };
}
