// The backend chain on this machine (no tfjs-node packages: their install needs the
// network) and, through an injected importer, the failures users meet elsewhere.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, test } from 'vitest';
import { BackendError, missingLibraries, selectBackend, trainingKernelsMissing, TRAINING_KERNELS, type BackendName } from '../backend';
import { describeAdapter, eglEnv, probeWebGpu, softwareAdapterReason, type WebGpuAdapter } from '../backend-webgpu';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const nativeInstalled = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');
if (nativeInstalled) console.warn('backend tests: a tfjs-node package is installed here; the "not installed" expectations are skipped');
// Here and in CI the only WebGPU adapter is Mesa's llvmpipe (software), which automatic choice refuses.
const gpuHere = (await probeWebGpu()).adapters.some((a) => a.software === null);
if (gpuHere) console.warn('backend tests: a GPU adapter is present; the expectations of a machine without one are skipped');
const cpuOnly = nativeInstalled || gpuHere;
/** The webgpu attempt's reason on this machine: a software adapter, refused for automatic choice. */
const SOFTWARE_WEBGPU = /^webgpu: only a software adapter, .+ \(.+software.+\), slower than wasm, so not chosen automatically$/;

const realImport = (name: string): Promise<unknown> => import(/* @vite-ignore */ name);
/** wasm's reason once the lab's kernels are in: with XNNPACK's thread count where it has threads. */
const WASM_REASON = /^wasm \(XNNPACK(, \d+ threads)?\) with the lab's training kernels( \(no threads: .+\))?$/;

/** A stand-in for a working tfjs-node: registers 'tensorflow' in OUR tf, computing with the cpu kernels. */
function fakeNativePackage(options: { usingGpu?: boolean; coreVersion?: string } = {}): () => Promise<unknown> {
  return async () => {
    const cpuFactory = tf.findBackendFactory('cpu');
    if (cpuFactory == null) throw new Error('no cpu backend');
    for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
    // Synchronous, as tfjs-node's NodeJSKernelBackend is.
    tf.registerBackend('tensorflow', () => Object.assign(cpuFactory() as tf.KernelBackend, { isUsingGpuDevice: options.usingGpu ?? false }), 3);
    return { version: { ...tf.version, 'tfjs-core': options.coreVersion ?? tf.version_core, 'tfjs-node': '4.22.0' } };
  };
}

async function removeFakeNative(): Promise<void> {
  await tf.setBackend('cpu');
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  for (const kernel of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(kernel.kernelName, 'tensorflow');
}

/** Deterministic values in [-1, 1). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

afterEach(async () => {
  await tf.setBackend('cpu');
  expect(tf.getBackend()).toBe('cpu');
});

describe('selectBackend on this machine', () => {
  test.skipIf(cpuOnly)("training picks wasm with the lab's kernels over cpu, saying why not the native ones", async () => {
    const choice = await selectBackend();
    expect(choice.name).toBe('wasm');
    expect(choice.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.canTrain).toBe(true);
    expect(choice.attempts.map((a) => [a.name, a.ok])).toEqual([
      ['tensorflow-gpu', false],
      ['webgpu', false],
      ['tensorflow', false],
      ['wasm', true],
    ]);
    expect(choice.attempts[0]?.reason).toBe('tfjs-node-gpu not installed');
    expect(choice.attempts[1]?.reason).toMatch(SOFTWARE_WEBGPU);
    expect(choice.attempts[2]?.reason).toBe('tfjs-node not installed');
    expect(choice.attempts[3]).toMatchObject({ name: 'wasm', ok: true, canTrain: true });
    expect(choice.attempts[3]?.reason).toMatch(WASM_REASON);
    expect(choice.summary).toMatch(/^training on wasm \(WebAssembly with XNNPACK and the lab's training kernels\): tfjs-node-gpu not installed; webgpu: only a software adapter, .+; tfjs-node not installed$/);
    expect(trainingKernelsMissing('wasm')).toEqual([]);
  });

  test.skipIf(cpuOnly)('wasm without the Conv2DBackpropFilter kernel is refused for training, naming it, and cpu trains', async () => {
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    if (kernel === undefined) throw new Error('wasm has no Conv2DBackpropFilter');
    await selectBackend({ purpose: 'infer' }); // wasm loaded (and its kernels installed) first
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    try {
      const choice = await selectBackend();
      expect(choice.name).toBe('cpu');
      expect(choice.attempts[3]?.reason).toMatch(/^wasm lacks Conv2DBackpropFilter, needed for training/);
      expect(choice.attempts[3]?.canTrain).toBe(false);
      expect(choice.summary).toMatch(/^training on cpu \(pure JavaScript\): tfjs-node-gpu not installed; webgpu: .+; tfjs-node not installed; wasm lacks Conv2DBackpropFilter/);
      await expect(selectBackend({ force: 'wasm' })).rejects.toThrow(/The wasm backend cannot be used for training: wasm lacks Conv2DBackpropFilter/);
    } finally {
      tf.registerKernel(kernel);
    }
  });

  test.skipIf(cpuOnly)('inference picks wasm, and its conv2d equals the cpu result', async () => {
    const choice = await selectBackend({ purpose: 'infer' });
    expect(choice.name).toBe('wasm');
    expect(choice.tfBackend).toBe('wasm');
    expect(choice.canTrain).toBe(true);
    expect(choice.attempts.find((a) => a.name === 'wasm')?.reason).toMatch(WASM_REASON);
    expect(choice.summary).toMatch(/^inference on wasm \(WebAssembly with XNNPACK and the lab's training kernels\): tfjs-node-gpu not installed; webgpu: only a software adapter, .+; tfjs-node not installed$/);

    const x = values(2 * 9 * 9 * 3, 1);
    const f = values(3 * 3 * 3 * 4, 2);
    const conv = (): Float32Array =>
      tf.tidy(() => tf.conv2d(tf.tensor4d(x, [2, 9, 9, 3]), tf.tensor4d(f, [3, 3, 3, 4]), 2, 'same').dataSync() as Float32Array);
    expect(tf.getBackend()).toBe('wasm');
    const onWasm = conv();
    await tf.setBackend('cpu');
    const onCpu = conv();
    expect(onWasm.length).toBe(2 * 5 * 5 * 4);
    for (let i = 0; i < onCpu.length; i++) expect(Math.abs((onWasm[i] ?? NaN) - (onCpu[i] ?? NaN))).toBeLessThan(1e-4 * Math.max(1, Math.abs(onCpu[i] ?? 0)));
  });

  test('force cpu uses cpu and tries nothing else', async () => {
    const choice = await selectBackend({ force: 'cpu' });
    expect(choice.name).toBe('cpu');
    expect(choice.canTrain).toBe(true);
    expect(choice.attempts.map((a) => a.name)).toEqual(['cpu']);
    expect(choice.summary).toBe('training on cpu (pure JavaScript) (chosen by name, not automatically)');
  });

  test('force wasm works for inference and for training', async () => {
    const choice = await selectBackend({ force: 'wasm', purpose: 'infer' });
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([2, 2, 1, 1]) as tf.Tensor4D, 1, 'valid').sum().dataSync()[0])).toBe(36);
    await tf.setBackend('cpu');
    const training = await selectBackend({ force: 'wasm' });
    expect(training).toMatchObject({ name: 'wasm', canTrain: true, summary: "training on wasm (WebAssembly with XNNPACK and the lab's training kernels) (chosen by name, not automatically)" });
    expect(tf.getBackend()).toBe('wasm');
  });

  test.skipIf(nativeInstalled)('force tensorflow throws, telling how to install it', async () => {
    await expect(selectBackend({ force: 'tensorflow' })).rejects.toThrow(
      /The tensorflow backend cannot be used for training: tfjs-node not installed\. Install it with `npm install @tensorflow\/tfjs-node@4\.22\.0`/,
    );
    await expect(selectBackend({ force: 'tensorflow-gpu', purpose: 'infer' })).rejects.toThrow(/tfjs-node-gpu not installed.*npm install @tensorflow\/tfjs-node-gpu@4\.22\.0.*CUDA 11\.2 and cuDNN 8\.1/);
  });

  test('trainingKernelsMissing: cpu has them all; an unknown backend has none', () => {
    expect(trainingKernelsMissing('cpu')).toEqual([]);
    expect(trainingKernelsMissing('no-such-backend')).toEqual([...TRAINING_KERNELS]);
  });
});

describe('webgpu in the chain', () => {
  test.skipIf(gpuHere)('a software adapter is refused by automatic selection, with its reason, and can be forced', async () => {
    const automatic = await selectBackend({ purpose: 'infer' });
    expect(automatic.name).not.toBe('webgpu');
    expect(automatic.attempts.find((a) => a.name === 'webgpu')?.reason).toMatch(SOFTWARE_WEBGPU);
    const forced = await selectBackend({ force: 'webgpu' });
    expect(forced).toMatchObject({ name: 'webgpu', tfBackend: 'webgpu', canTrain: true });
    expect(forced.adapter?.software).toMatch(/software/);
    expect(forced.summary).toMatch(/^training on webgpu \(WebGPU through Dawn on .+, a software adapter: correct, not fast\) \(chosen by name, not automatically\)/);
    expect(forced.attempts[0]?.reason).toMatch(/max buffer \d+ MiB, max storage binding \d+ MiB/);
  });

  test('software adapters are known by name, or by the adapter saying so; GPUs are not', () => {
    const info = (device: string, description = '', vendor = '', isFallbackAdapter = false) => ({ vendor, architecture: '', device, description, isFallbackAdapter });
    expect(softwareAdapterReason(info('llvmpipe-llvm-15-0-6-256-bits-', 'OpenGL version 4.5 (Core Profile) Mesa 22.3.6'))).toMatch(/llvmpipe is Mesa's software rasteriser/);
    expect(softwareAdapterReason(info('llvmpipe (LLVM 15.0.6, 256 bits)', 'Mesa lavapipe'))).toMatch(/software/);
    expect(softwareAdapterReason(info('SwiftShader Device (Subzero)', '', 'google'))).toMatch(/SwiftShader/);
    expect(softwareAdapterReason(info('Microsoft Basic Render Driver', 'D3D12'))).toMatch(/WARP/);
    expect(softwareAdapterReason(info('Some Adapter', '', '', true))).toMatch(/fallback/);
    expect(softwareAdapterReason(info('NVIDIA GeForce RTX 4090', 'Vulkan driver 550.54', 'nvidia'))).toBeNull();
    expect(softwareAdapterReason(info('Apple M2 Pro', 'Metal', 'apple'))).toBeNull();
    expect(softwareAdapterReason(info('AMD Radeon RX 7900 XTX (RADV NAVI31)', 'radv Mesa 24.0', 'amd'))).toBeNull();
  });

  test('an adapter is named with its vendor, device and API', () => {
    const adapter: WebGpuAdapter = { vendor: 'nvidia', architecture: 'ampere', device: 'NVIDIA GeForce RTX 3060', description: '', api: 'Vulkan', featureLevel: 'core', software: null, maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 };
    expect(describeAdapter(adapter)).toBe('nvidia ampere (NVIDIA GeForce RTX 3060), Vulkan');
    expect(describeAdapter({ ...adapter, vendor: '', architecture: '', device: 'llvmpipe', api: 'OpenGL', featureLevel: 'compatibility' })).toBe('llvmpipe, OpenGL at the compatibility feature level');
    // What Chromium's SwiftShader reports (vendor and architecture, no device name): no empty parentheses.
    const swiftshader = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true };
    expect(describeAdapter({ ...adapter, ...swiftshader, api: 'Chromium' })).toBe('google swiftshader, in Chromium');
    expect(softwareAdapterReason(swiftshader)).toMatch(/SwiftShader/);
  });
});

describe('selectBackend with simulated packages', () => {
  test('tfjs-node-gpu without CUDA: the missing library is named and the chain goes on', async () => {
    const importer = (name: string): Promise<unknown> =>
      name === '@tensorflow/tfjs-node-gpu'
        ? Promise.reject(new Error('Error: libcudart.so.11.0: cannot open shared object file: No such file or directory'))
        : name === '@tensorflow/tfjs-node'
          ? Promise.reject(Object.assign(new Error("Cannot find package '@tensorflow/tfjs-node' imported from /lab/models/backend.ts"), { code: 'ERR_MODULE_NOT_FOUND' }))
          : realImport(name);
    const choice = await selectBackend({ importer });
    expect(choice.attempts[0]).toMatchObject({ name: 'tensorflow-gpu', ok: false, canTrain: false });
    expect(choice.attempts[0]?.reason).toMatch(/^CUDA libraries not found: libcudart\.so\.11\.0 \(tfjs-node-gpu 4\.x is built on libtensorflow 2\.9\.1 and needs CUDA 11\.2 and cuDNN 8\.1/);
    expect(choice.attempts[2]?.reason).toBe('tfjs-node not installed');
    expect(choice.attempts.map((a) => a.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm']);
    expect(choice.name).toBe('wasm');
    expect(choice.summary).toMatch(/^training on wasm \(WebAssembly with XNNPACK and the lab's training kernels\): CUDA libraries not found: libcudart\.so\.11\.0/);
  });

  test('a native addon that was never downloaded, and a missing libtensorflow, are told apart', async () => {
    const importer = (name: string): Promise<unknown> =>
      name === '@tensorflow/tfjs-node-gpu'
        ? Promise.reject(Object.assign(new Error("Cannot find module '/lab/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node'"), { code: 'MODULE_NOT_FOUND' }))
        : name === '@tensorflow/tfjs-node'
          ? Promise.reject(new Error('libtensorflow.so.2: cannot open shared object file: No such file or directory'))
          : realImport(name);
    const choice = await selectBackend({ importer, purpose: 'infer' });
    expect(choice.attempts[0]?.reason).toBe('tfjs-node-gpu is installed but its native addon is missing (its install could not download libtensorflow)');
    expect(choice.attempts[2]?.reason).toBe('tfjs-node: its libtensorflow is missing (libtensorflow.so.2)');
    expect(choice.name).toBe('wasm');
  });

  test('without the wasm package, inference falls back to cpu', async () => {
    const notFound = (name: string): Promise<unknown> => Promise.reject(Object.assign(new Error(`Cannot find package '${name}' imported from /lab/models/backend.ts`), { code: 'ERR_MODULE_NOT_FOUND' }));
    const choice = await selectBackend({ importer: notFound, purpose: 'infer' });
    expect(choice.attempts.map((a) => a.reason)).toEqual(['tfjs-node-gpu not installed', 'webgpu not installed', 'tfjs-node not installed', 'wasm not installed', 'cpu is always available']);
    expect(choice.name).toBe('cpu');
  });

  test('a tfjs-node whose backend is not in our tf is reported as a different copy of tfjs-core', async () => {
    const importer = (name: string): Promise<unknown> =>
      name === '@tensorflow/tfjs-node' ? Promise.resolve({ version: { 'tfjs-core': tf.version_core } }) : name === '@tensorflow/tfjs-node-gpu' ? Promise.reject(new Error("Cannot find package '@tensorflow/tfjs-node-gpu'")) : realImport(name);
    const choice = await selectBackend({ importer });
    expect(choice.attempts[2]?.reason).toMatch(/^tfjs-node loaded a different copy of tfjs-core/);
    expect(choice.name).toBe('wasm');
    await expect(selectBackend({ importer, force: 'tensorflow' })).rejects.toThrow(/different copy of tfjs-core.*Install `@tensorflow\/tfjs-node@4\.22\.0`/);
  });

  test('a tfjs-node built on another tfjs-core version is refused before it is used', async () => {
    try {
      const importer = (name: string): Promise<unknown> =>
        name === '@tensorflow/tfjs-node' ? fakeNativePackage({ coreVersion: '3.21.0' })() : name === '@tensorflow/tfjs-node-gpu' ? Promise.reject(new Error("Cannot find package '@tensorflow/tfjs-node-gpu'")) : realImport(name);
      const choice = await selectBackend({ importer });
      expect(choice.attempts[2]?.reason).toBe(`tfjs-node loaded a different copy of tfjs-core (3.21.0; the lab runs ${tf.version_core})`);
      expect(choice.name).toBe('wasm');
    } finally {
      await removeFakeNative();
    }
  });

  test('a working tfjs-node is chosen for training, sharing our tfjs-core', async () => {
    try {
      const calls: string[] = [];
      const importer = (name: string): Promise<unknown> => {
        calls.push(name);
        return name === '@tensorflow/tfjs-node' ? fakeNativePackage()() : name === '@tensorflow/tfjs-node-gpu' ? Promise.reject(new Error("Cannot find package '@tensorflow/tfjs-node-gpu'")) : realImport(name);
      };
      const choice = await selectBackend({ importer });
      expect(choice).toMatchObject({ name: 'tensorflow', tfBackend: 'tensorflow', canTrain: true });
      expect(tf.getBackend()).toBe('tensorflow');
      expect(choice.attempts[2]).toEqual({ name: 'tensorflow', ok: true, reason: 'tfjs-node loaded, on the CPU', canTrain: true });
      expect(choice.summary).toMatch(/^training on tensorflow \(native TensorFlow on the CPU\): tfjs-node-gpu not installed; webgpu: only a software adapter, [^;]+$/);
      expect(calls).toEqual(['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-node']);
    } finally {
      await removeFakeNative();
    }
  });

  test('tfjs-node-gpu that loads without a GPU: CUDA reason, then its TensorFlow serves the CPU (tfjs-node not loaded too)', async () => {
    try {
      const calls: string[] = [];
      const importer = (name: string): Promise<unknown> => {
        calls.push(name);
        return name === '@tensorflow/tfjs-node-gpu' ? fakeNativePackage({ usingGpu: false })() : realImport(name);
      };
      const choice = await selectBackend({ importer });
      expect(choice.attempts[0]).toMatchObject({ name: 'tensorflow-gpu', ok: false });
      // What is missing depends on the machine; here (no CUDA 11) it names libcudart.so.11.0.
      expect(choice.attempts[0]?.reason).toMatch(/CUDA libraries not found: .*|no NVIDIA driver|no usable GPU|no GPU support/);
      if (process.platform === 'linux' && !choice.attempts[0]?.reason.includes('no usable GPU')) expect(choice.attempts[0]?.reason).toMatch(/libcudart\.so\.11\.0|libcuda\.so\.1/);
      expect(choice.attempts[2]).toEqual({ name: 'tensorflow', ok: true, reason: "tfjs-node-gpu's TensorFlow, on the CPU (tfjs-node not loaded as well)", canTrain: true });
      expect(choice.name).toBe('tensorflow');
      expect(calls).toEqual(['@tensorflow/tfjs-node-gpu', 'webgpu']);
    } finally {
      await removeFakeNative();
    }
  });
});

describe('BackendError: what a user can fix, told in one line', () => {
  const notInstalled = (name: string): Promise<unknown> =>
    name === '@tensorflow/tfjs-backend-wasm' ? realImport(name) : Promise.reject(Object.assign(new Error(`Cannot find package '${name}' imported from /lab/models/backend.ts`), { code: 'ERR_MODULE_NOT_FOUND' }));
  const nothingInstalled = (name: string): Promise<unknown> =>
    Promise.reject(Object.assign(new Error(`Cannot find package '${name}' imported from /lab/models/backend.ts`), { code: 'ERR_MODULE_NOT_FOUND' }));

  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    try {
      await promise;
    } catch (error) {
      return error;
    }
    throw new Error('expected a rejection');
  }

  test('a forced backend that cannot be used', async () => {
    const error = await rejection(selectBackend({ force: 'tensorflow', importer: notInstalled }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toBeInstanceOf(Error);
    expect((error as BackendError).name).toBe('BackendError');
    expect((error as BackendError).message).toMatch(/^The tensorflow backend cannot be used for training: tfjs-node not installed\. Install it with `npm install @tensorflow\/tfjs-node@/);
    const webgpu = await rejection(selectBackend({ force: 'webgpu', importer: nothingInstalled }));
    expect((webgpu as Error).message).toMatch(/^The webgpu backend cannot be used for training: webgpu not installed\. Install it with `npm install webgpu`/);
    const wasm = await rejection(selectBackend({ force: 'wasm', importer: nothingInstalled }));
    expect(wasm).toBeInstanceOf(BackendError);
    expect((wasm as Error).message).toMatch(/^The wasm backend cannot be used for training: wasm not installed\. Install it with `npm install @tensorflow\/tfjs-backend-wasm@/);
  });

  test('an unknown backend name', async () => {
    const error = await rejection(selectBackend({ force: 'cuda' as BackendName }));
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toBe('Unknown backend "cuda": choose one of tensorflow-gpu, webgpu, tensorflow, wasm, cpu');
  });

  test('no backend usable at all (here: no wasm package and a cpu backend without a training kernel)', async () => {
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'cpu');
    if (kernel === undefined) throw new Error('the cpu backend has no Conv2DBackpropFilter');
    tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
    try {
      const error = await rejection(selectBackend({ importer: nothingInstalled }));
      expect(error).toBeInstanceOf(BackendError);
      expect((error as Error).message).toBe('No backend can be used for training: tfjs-node-gpu not installed; webgpu not installed; tfjs-node not installed; wasm not installed; cpu: lacks Conv2DBackpropFilter, needed for training');
    } finally {
      tf.registerKernel(kernel);
    }
  });
});

describe('missingLibraries', () => {
  test('reads the loader and TensorFlow messages users see', () => {
    // tfjs issue #8269 (TensorFlow's own log line) and #708 (an import that throws).
    const log =
      "2024-05-06 00:05:33.767399: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: No such file or directory";
    expect(missingLibraries(log)).toEqual(['libcudnn.so.8']);
    expect(missingLibraries('Error: libcublas.so.9.0: cannot open shared object file: No such file or directory')).toEqual(['libcublas.so.9.0']);
    expect(missingLibraries("Could not load dynamic library 'cudart64_110.dll'; dlerror: cudart64_110.dll not found")).toEqual(['cudart64_110.dll']);
    expect(missingLibraries('dlopen(tfjs_binding.node, 0x0001): Library not loaded: @rpath/libtensorflow.2.dylib')).toEqual(['libtensorflow.2.dylib']);
    expect(missingLibraries('Cannot find module')).toEqual([]);
  });
});

describe('EGL platform for the OpenGL paths on Linux', () => {
  test('surfaceless where the user set none, an empty value counting as none; a platform the user chose is kept; other paths untouched', () => {
    const gl = { api: 'OpenGL' as const };
    expect(eglEnv({}, gl, 'linux')['EGL_PLATFORM']).toBe('surfaceless');
    expect(eglEnv({ EGL_PLATFORM: '' }, gl, 'linux')['EGL_PLATFORM']).toBe('surfaceless');
    expect(eglEnv({ EGL_PLATFORM: 'x11' }, gl, 'linux')['EGL_PLATFORM']).toBe('x11');
    expect(eglEnv({}, { api: 'Vulkan' }, 'linux')['EGL_PLATFORM']).toBeUndefined();
    expect(eglEnv({}, gl, 'darwin')['EGL_PLATFORM']).toBeUndefined();
  });
});
