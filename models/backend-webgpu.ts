// The webgpu backend in Node: Dawn's Node bindings (the npm package `webgpu`, an optional
// dependency) give a GPUAdapter, and @tensorflow/tfjs-backend-webgpu computes on it.
//
// Finding the adapter runs in a child process (probeWebGpu): Dawn and the GPU drivers print
// to the native stderr while they look for adapters ("XDG_RUNTIME_DIR is invalid", Vulkan
// capability warnings), which would litter every `lab train` on a machine with no usable
// GPU, and a driver that crashes while being enumerated would take the trainer with it. Only
// once an adapter is found, and webgpu is chosen, does this process load Dawn.
//
// Paths tried, in order: the platform's native API at WebGPU's core feature level (Vulkan on
// Linux, Metal on macOS, D3D12 on Windows), then OpenGL at the compatibility feature level,
// which is what Mesa's software rasteriser (llvmpipe) offers on a machine with no GPU.
// Software adapters (llvmpipe, lavapipe, softpipe, SwiftShader, WARP, or any the adapter
// itself calls a fallback) are never chosen automatically: they are slower than wasm. They
// serve `--backend webgpu`, which is how the tests run WebGPU code on a machine without a GPU.
// Dawn reports llvmpipe on GL with isFallbackAdapter false, so the names are checked too.
//
// tfjs-backend-webgpu registers its kernels when imported but its backend only where
// `navigator.gpu` exists (browsers); its WebGPUBackend constructor also checks
// `navigator.gpu`. So the lab makes the adapter itself and registers its own factory, after
// giving Node a `navigator.gpu` (Node 20 has no `navigator`) and the GPU* constant objects
// (GPUBufferUsage, GPUMapMode, ...) that the backend reads as globals.
//
// Reads: tfjs-webgpu's synchronous reads (dataSync, arraySync) draw through OffscreenCanvas,
// which Node lacks, so every read in the lab is `await data()`.
//
// Electron: Dawn's addon hands out external ArrayBuffers, which Electron's V8 memory cage
// forbids, so inside Electron this path is refused with that reason (the desktop app's GPU
// compute belongs in a browser context).
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { errorText, firstLine, type Importer, type Outcome } from './backend-packages';
import { watchDevice } from './webgpu-device';
import { describeAdapter, softwareAdapterReason, type GpuApi, type WebGpuAdapter } from './webgpu-adapter';

export { adapterLimits, describeAdapter, softwareAdapterReason, type GpuApi, type WebGpuAdapter } from './webgpu-adapter';

export const WEBGPU_PACKAGE = 'webgpu';
export const WEBGPU_BACKEND_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

/** How to ask Dawn for an adapter: its backend flag and the feature level. */
interface AdapterPath {
  api: GpuApi;
  flag: string;
  featureLevel: 'core' | 'compatibility';
}

function nativePath(): AdapterPath | null {
  if (process.platform === 'linux') return { api: 'Vulkan', flag: 'backend=vulkan', featureLevel: 'core' };
  if (process.platform === 'darwin') return { api: 'Metal', flag: 'backend=metal', featureLevel: 'core' };
  if (process.platform === 'win32') return { api: 'D3D12', flag: 'backend=d3d12', featureLevel: 'core' };
  return null;
}

/** Every path, best first. */
export function adapterPaths(): AdapterPath[] {
  const native = nativePath();
  const gl: AdapterPath[] = process.platform === 'linux' ? [{ api: 'OpenGL', flag: 'backend=opengl', featureLevel: 'compatibility' }] : [];
  return native ? [native, ...gl] : gl;
}

// ---------------------------------------------------------------------------------------
// The probe, in a child process

/** Runs in the child (plain ESM, node's own loader): asks one path for its adapter, one JSON line on stdout. */
const PROBE_SCRIPT = `
const [packageUrl, pathJson] = process.argv.slice(1);
const path = JSON.parse(pathJson);
let row;
try {
  const { create } = await import(packageUrl);
  const gpu = create([path.flag]);
  const options = path.featureLevel === 'compatibility' ? { featureLevel: 'compatibility' } : { powerPreference: 'high-performance' };
  const adapter = await gpu.requestAdapter(options);
  if (!adapter) row = { found: false };
  else {
    const i = adapter.info;
    row = { found: true, info: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter === true }, limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } };
  }
} catch (error) {
  row = { found: false, error: String((error && error.message) || error) };
}
process.stdout.write('WEBGPU_PROBE ' + JSON.stringify(row) + '\\n', () => process.exit(0));
`;

/** What one path's child answered. */
interface ProbeRow {
  found: boolean;
  error?: string;
  info?: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean };
  limits?: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

export interface WebGpuProbe extends Outcome {
  /** Adapters found, best first: GPUs before software adapters, in path order. */
  adapters: WebGpuAdapter[];
}

const PROBE_TIMEOUT_MS = 30_000;

/**
 * Linux EGL needs a platform to run without a display (a headless server, CI); set it only
 * where the user has not. An empty value counts as not set: EGL would find no platform by it.
 */
export function eglEnv(env: NodeJS.ProcessEnv, path: Pick<AdapterPath, 'api'>, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  return usesEgl(path, platform) && !env['EGL_PLATFORM'] ? { ...env, EGL_PLATFORM: 'surfaceless' } : env;
}

function probeEnv(path: AdapterPath): NodeJS.ProcessEnv {
  return eglEnv({ ...process.env }, path);
}

function usesEgl(path: Pick<AdapterPath, 'api'>, platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' && (path.api === 'OpenGL' || path.api === 'OpenGL ES');
}

function packageUrl(): string | null {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve(WEBGPU_PACKAGE)).href;
  } catch {
    return null;
  }
}

export const INSTALL_HINT = `Install it with \`npm install ${WEBGPU_PACKAGE}\` (Dawn's prebuilt Node bindings for Linux, macOS and Windows)`;

let cachedProbe: Promise<WebGpuProbe> | undefined;

/** Which WebGPU adapters this machine has, found in child processes (once per process: the hardware does not change). */
export function probeWebGpu(): Promise<WebGpuProbe> {
  cachedProbe ??= runProbe();
  return cachedProbe;
}

/**
 * Asks one path in its own child, so a driver that crashes or hangs on one API (a Vulkan
 * driver, say) costs only that path. Resolves with the row, or with why there is none.
 */
function askPath(url: string, path: AdapterPath): Promise<ProbeRow> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, url, JSON.stringify(path)], { env: probeEnv(path), encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, windowsHide: true, maxBuffer: 1 << 20 }, (error, stdout) => {
      const line = stdout.split('\n').find((l) => l.startsWith('WEBGPU_PROBE '));
      if (line !== undefined) return resolve(JSON.parse(line.slice('WEBGPU_PROBE '.length)) as ProbeRow);
      const failed = error as (NodeJS.ErrnoException & { killed?: boolean; signal?: string | null }) | null;
      const why =
        failed?.killed === true && failed.signal === 'SIGTERM' ? `the ${path.api} driver did not answer within ${PROBE_TIMEOUT_MS / 1000} s`
        : failed?.signal ? `looking for a ${path.api} adapter crashed (${failed.signal})`
        : `looking for a ${path.api} adapter failed (${failed ? firstLine(errorText(failed).message) : 'no answer'})`;
      resolve({ found: false, error: why });
    });
  });
}

async function runProbe(): Promise<WebGpuProbe> {
  const none = (reason: string, hint: string): WebGpuProbe => ({ ok: false, reason, hint, adapters: [] });
  if (process.versions['electron'] !== undefined) {
    return none("webgpu: Dawn's Node addon cannot run inside Electron (its external buffers break Electron's V8 memory cage)", 'The desktop app computes on the CPU backends for now; `npm run lab` and serve mode can use webgpu');
  }
  const url = packageUrl();
  if (url === null) return none('webgpu not installed', INSTALL_HINT);
  const paths = adapterPaths();
  if (paths.length === 0) return none(`webgpu: no WebGPU path on ${process.platform}`, '');
  const rows = await Promise.all(paths.map((path) => askPath(url, path)));
  const adapters: WebGpuAdapter[] = [];
  rows.forEach((row, i) => {
    const path = paths[i] as AdapterPath;
    if (!row.found || !row.info || !row.limits) return;
    adapters.push({
      ...row.info,
      api: row.info.description.startsWith('OpenGL ES') ? 'OpenGL ES' : path.api,
      featureLevel: path.featureLevel,
      software: softwareAdapterReason(row.info),
      maxBufferSize: row.limits.maxBufferSize,
      maxStorageBufferBindingSize: row.limits.maxStorageBufferBindingSize,
    });
  });
  adapters.sort((a, b) => Number(a.software !== null) - Number(b.software !== null));
  if (adapters.length === 0) {
    const errors = rows.map((r) => r.error).filter((e): e is string => e !== undefined);
    const tried = paths.map((p) => p.api).join(', ');
    return none(`webgpu: no adapter found (tried ${tried})${errors.length > 0 ? `: ${errors.map(firstLine).join('; ')}` : ''}`, process.platform === 'linux' ? 'Install the GPU\'s Vulkan driver (for NVIDIA, the proprietary driver; for AMD and Intel, Mesa\'s `mesa-vulkan-drivers`)' : 'Update the GPU driver');
  }
  return { ok: true, reason: `webgpu: ${describeAdapter(adapters[0] as WebGpuAdapter)}`, hint: '', adapters };
}

// ---------------------------------------------------------------------------------------
// Loading it here

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

interface WebGpuBackendModule {
  WebGPUBackend: new (device: GPUDevice, adapterInfo?: GPUAdapterInfo) => tf.KernelBackend;
}

export interface WebGpuLoad extends Outcome {
  adapter?: WebGpuAdapter;
}

let registered: WebGpuAdapter | undefined;

/**
 * Registers the tfjs backend 'webgpu' on `adapter` (from probeWebGpu) in this process. Once
 * registered it stays on that adapter: tfjs keeps one backend instance per name.
 */
export async function loadWebGpu(adapter: WebGpuAdapter, importer?: Importer): Promise<WebGpuLoad> {
  if (registered !== undefined && tf.findBackendFactory('webgpu') != null) return { ok: true, reason: '', hint: '', adapter: registered };
  const load = importer ?? ((name: string) => import(name));
  let dawn: DawnModule;
  let backendModule: WebGpuBackendModule;
  try {
    // Through a variable: optional packages, resolved at run time.
    const dawnName = WEBGPU_PACKAGE;
    const backendName = WEBGPU_BACKEND_PACKAGE;
    dawn = (await load(dawnName)) as DawnModule;
    // Imported before navigator.gpu exists, so it registers its kernels and no backend of its own.
    backendModule = (await load(backendName)) as WebGpuBackendModule;
  } catch (error) {
    return { ok: false, reason: `webgpu: could not load its packages (${firstLine(errorText(error).message)})`, hint: INSTALL_HINT };
  }
  const path = adapterPaths().find((p) => p.featureLevel === adapter.featureLevel && (p.api === adapter.api || (adapter.api === 'OpenGL ES' && p.api === 'OpenGL')));
  if (path === undefined) return { ok: false, reason: `webgpu: no way to reach ${describeAdapter(adapter)} here`, hint: '' };
  const platform = eglEnv(process.env, path)['EGL_PLATFORM'];
  if (platform !== undefined) process.env['EGL_PLATFORM'] = platform;
  for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  const gpu = dawn.create([path.flag]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav === undefined) (globalThis as { navigator?: object }).navigator = { gpu };
  else Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });

  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const options: GPURequestAdapterOptions = path.featureLevel === 'compatibility' ? { featureLevel: 'compatibility' } : { powerPreference: 'high-performance' };
    const found = await gpu.requestAdapter(options);
    if (found === null) throw new Error(`the ${path.api} adapter found a moment ago is gone`);
    // The probe ran in another process: make sure this one got the adapter that was reported (and whose limits fit the batch).
    const info = found.info;
    if (info.device !== adapter.device || info.description !== adapter.description) {
      throw new Error(`Dawn offers ${info.device || info.description} here, not ${describeAdapter(adapter)} that the probe found`);
    }
    const limits = found.limits;
    // The backend's own factory asks for these limits (the defaults are far lower); so does the lab.
    const device = await found.requestDevice({
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        // AddN and Concat bind one storage buffer per input: the more the device allows, the fewer passes.
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
    watchDevice(device);
    return new backendModule.WebGPUBackend(device, found.info);
  }, 0);
  registered = adapter;
  return { ok: true, reason: '', hint: '', adapter };
}

/**
 * Gives the GPU back: removes the 'webgpu' backend (freeing its buffers), destroys its device
 * and drops Dawn's instance from `navigator`, which would otherwise keep Node's event loop
 * alive (the webgpu package's README, "Lifetime"). The command line calls it when a command
 * ends; a later selection registers the backend again.
 */
export function releaseWebGpu(): void {
  if (registered === undefined) return;
  const engine = tf.engine() as unknown as { registry: Record<string, { device?: GPUDevice } | undefined> };
  const device = engine.registry['webgpu']?.device;
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  device?.destroy();
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav !== undefined) delete nav.gpu;
  registered = undefined;
}

/** The adapter the registered 'webgpu' backend computes on, if any. */
export function webGpuAdapter(): WebGpuAdapter | undefined {
  return registered;
}
