// Loading and diagnosing the native backends, @tensorflow/tfjs-node-gpu and
// @tensorflow/tfjs-node: the import, the check that they share the lab's tfjs-core, and
// the names of the CUDA (or other) libraries missing when they do not load or find no GPU.
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
import { CUDA_NEEDS, errorText, firstLine, installHint, NATIVE, type Importer, type NativeName, type Outcome } from './backend-packages';

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
export function otherCudaRuntimes(): string[] {
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
export function noGpuReason(): string {
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

// Optional and usually absent: imported through a variable, never resolved at build time.
const importNative: Importer = (name) => import(/* @vite-ignore */ name);

export interface NativeLoad extends Outcome {
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

export function loadNative(name: NativeName, importer: Importer | undefined): Promise<NativeLoad> {
  if (importer !== undefined) return loadNativeUncached(name, importer);
  let load = nativeLoads.get(name);
  if (load === undefined) {
    load = loadNativeUncached(name, importNative);
    nativeLoads.set(name, load);
  }
  return load;
}

/** The load of `name` this process already started with the default importer, if any. */
export function cachedNativeLoad(name: NativeName): Promise<NativeLoad> | undefined {
  return nativeLoads.get(name);
}
