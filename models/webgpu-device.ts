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

/** Listens to `device` for errors and loss (the backend's factory calls it on the device it makes). */
export function watchDevice(device: GPUDevice): void {
  deviceProblem = undefined;
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    deviceProblem ??= `the GPU reported ${error.constructor.name === 'GPUOutOfMemoryError' ? 'that it is out of memory' : 'an error'}: ${firstLine(error.message)}`;
  });
  void device.lost.then((info) => {
    deviceProblem ??= `the GPU device was lost (${info.reason}${info.message ? `: ${firstLine(info.message)}` : ''})`;
  });
}

/** Throws a GpuDeviceError when the webgpu device reported an error or was lost since it was made; no-op on other backends. */
export function checkWebGpu(): void {
  if (deviceProblem !== undefined && tf.getBackend() === 'webgpu') throw new GpuDeviceError(`WebGPU: ${deviceProblem}. The results since then are not trustworthy; the last checkpoint is kept. Resume on another backend (--backend wasm), or restart the lab for a new GPU device (after updating the GPU driver, if it happens again)`);
}

function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? text).trim();
}
