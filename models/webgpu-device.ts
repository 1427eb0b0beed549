// What a WebGPU device reports on the side. A WebGPU error is not thrown where it happens: an
// invalid pipeline or an out-of-memory buffer goes to the device's 'uncapturederror' listeners,
// and the work that used it silently yields zeros. A lost device (a driver reset, another
// process taking the GPU) is a promise. Both are kept here, and the trainer asks after every
// step and before a checkpoint (checkWebGpu). No Node imports: the compute core that calls it
// is meant to run in a browser context too.
import * as tf from '@tensorflow/tfjs';

/** The device reported an error or was lost: what was computed since is not to be trusted. */
export class GpuDeviceError extends Error {
  override readonly name = 'GpuDeviceError';
}

let deviceProblem: string | undefined;
let deviceLost: Promise<unknown> | undefined;
const problemListeners = new Set<(problem: string) => void>();

/** Records the first problem of the device, and tells the listeners (the app's GPU host page gives its device up). */
function noteProblem(problem: string): void {
  if (deviceProblem !== undefined) return;
  deviceProblem = problem;
  for (const listener of problemListeners) listener(problem);
}

/** Calls `listener` once the device reports an error or is lost (at once when it already has); returns what stops listening. */
export function onDeviceProblem(listener: (problem: string) => void): () => void {
  if (deviceProblem !== undefined) {
    listener(deviceProblem);
    return () => undefined;
  }
  problemListeners.add(listener);
  return () => void problemListeners.delete(listener);
}

/** Listens to `device` for errors and loss (the backend's factory calls it on the device it makes). */
export function watchDevice(device: GPUDevice): void {
  deviceProblem = undefined;
  device.addEventListener('uncapturederror', (event) => {
    noteProblem(describeError((event as GPUUncapturedErrorEvent).error));
  });
  deviceLost = device.lost;
  void device.lost.then((info) => {
    noteProblem(`the GPU device was lost (${info.reason}${info.message ? `: ${firstLine(info.message)}` : ''})`);
  });
}

/** Why the webgpu device cannot be trusted any more (an error it reported, or its loss); undefined while it is sound. */
export function webGpuProblem(): string | undefined {
  return deviceProblem;
}

const SCOPES: readonly GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/**
 * Runs `work` (a step, an evaluation, a read of the weights) inside WebGPU error scopes on the
 * webgpu backend: an error raised by any GPU call the work makes is caught by its scope, not
 * left to the 'uncapturederror' event (whose timing is the implementation's), and a read that
 * fails because the device was lost is told as such. Either way a GpuDeviceError is thrown,
 * after the work, and the device is marked broken. On other backends it just runs `work`.
 */
export async function guardGpu<T>(work: () => Promise<T>): Promise<T> {
  if (tf.getBackend() !== 'webgpu') return work();
  checkWebGpu();
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  for (const filter of SCOPES) device.pushErrorScope(filter);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await popScopes(device);
    // A lost device fails reads with an error of its own; its reason arrives through `lost`.
    if (deviceLost !== undefined) await Promise.race([deviceLost, new Promise((resolve) => setTimeout(resolve, 200))]);
    checkWebGpu();
    throw error;
  }
  await popScopes(device);
  checkWebGpu();
  return result;
}

async function popScopes(device: GPUDevice): Promise<void> {
  for (let i = 0; i < SCOPES.length; i++) {
    const error = await device.popErrorScope().catch(() => null);
    if (error !== null) noteProblem(describeError(error));
  }
}

function describeError(error: GPUError): string {
  return `the GPU reported ${error.constructor.name === 'GPUOutOfMemoryError' ? 'that it is out of memory' : 'an error'}: ${firstLine(error.message)}`;
}

/** Throws a GpuDeviceError when the webgpu device reported an error or was lost since it was made; no-op on other backends. */
export function checkWebGpu(): void {
  if (deviceProblem !== undefined && tf.getBackend() === 'webgpu') throw new GpuDeviceError(`WebGPU: ${deviceProblem}. The results since then are not trustworthy; the last checkpoint is kept. Resume on another backend (--backend wasm on the command line; in the app, Resume in Runs on another backend), or for a new GPU device restart the lab (in the app, a resume opens a fresh GPU host); update the GPU driver if it happens again`);
}

function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? text).trim();
}
