// The compute core on Chromium's WebGPU: what a page (in the app, a hidden window; in the
// tests, Debian's Chromium) runs to train for a trainer in another process. The page holds
// the tensors; the trainer drives it through a port (training/core-port.ts) and keeps the
// files. No Node here: this module is bundled for the browser.
import * as tf from '@tensorflow/tfjs';
// Registers its kernels and, where navigator.gpu exists, the 'webgpu' backend.
import '@tensorflow/tfjs-backend-webgpu';
import { computeCheck } from '../../../models/backend-check';
import { installWebGpuAddN } from '../../../models/kernels/webgpu-addn';
import { installWebGpuConv2dBackpropFilter } from '../../../models/kernels/webgpu-conv2d-backprop-filter';
import { registerWebGpuMaxPiecesKernels } from '../../../models/kernels/webgpu-max-pieces';
import { describeAdapter, softwareAdapterReason, type WebGpuAdapter } from '../../../models/webgpu-adapter';
import { onDeviceProblem, watchDevice } from '../../../models/webgpu-device';
import { InProcessCore } from '../training/compute-core';
import { serveCore, type CoreHost, type PortLike } from '../training/core-port';

export interface GpuHostStart {
  /** The adapter Chromium gave, named as the lab names adapters. */
  readonly adapter: WebGpuAdapter;
  readonly description: string;
  /**
   * Settles with the reason once the device is lost or reports an error: the host can compute
   * nothing trustworthy any more (the app then gives this page up and opens a fresh one).
   */
  readonly lost: Promise<string>;
}

/**
 * Makes tfjs compute on Chromium's WebGPU with the lab's kernels, checks that a test
 * convolution and its gradients come out right, and reports the adapter. A software adapter
 * is reported as such (the caller decides: automatic choice refuses it). Throws, saying why,
 * where there is no WebGPU or it computes wrong.
 */
export async function startWebGpu(): Promise<GpuHostStart> {
  // The trainer's tsconfig has no DOM library (so DOM globals cannot slip into Node code): the page's navigator, typed here.
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (gpu === undefined) throw new Error('this page has no WebGPU (navigator.gpu): Chromium needs --enable-unsafe-webgpu on Linux, and a secure origin');
  if (!(await tf.setBackend('webgpu'))) throw new Error('WebGPU is there, but tfjs could not start its webgpu backend on it');
  installWebGpuConv2dBackpropFilter();
  installWebGpuAddN();
  registerWebGpuMaxPiecesKernels();
  const backend = tf.backend() as unknown as { device: GPUDevice & { adapterInfo?: GPUAdapterInfo } };
  watchDevice(backend.device);
  // The adapter tfjs made its device on: the device says (Chromium 132+); else ask as tfjs'
  // factory asked, so a laptop with two GPUs names the one that trains.
  const info = backend.device.adapterInfo ?? (await gpu.requestAdapter({ powerPreference: tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance' }))?.info;
  const limits = backend.device.limits;
  const found = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true,
  };
  const described: WebGpuAdapter = {
    vendor: found.vendor,
    architecture: found.architecture,
    device: found.device,
    description: found.description,
    api: 'Chromium',
    featureLevel: 'core',
    software: softwareAdapterReason(found),
    maxBufferSize: limits.maxBufferSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
  };
  const problem = await computeCheck('train');
  if (problem !== null) throw new Error(`WebGPU on ${describeAdapter(described)}: ${problem}`);
  const lost = new Promise<string>((resolve) => onDeviceProblem(resolve));
  return { adapter: described, description: describeAdapter(described), lost };
}

/**
 * Serves one compute core on `port` (one port per run). Its replies are copied, never
 * transferred: the trainer's end is Electron's MessagePortMain, which loses a message whose
 * transfer list holds an ArrayBuffer (core-port.ts PortOptions).
 */
export function serveGpuCore(port: PortLike): CoreHost {
  return serveCore(port, (spec) => InProcessCore.create(spec), { transfer: false });
}

/** The device, for a test that loses it on purpose. */
export function gpuDevice(): GPUDevice {
  return (tf.backend() as unknown as { device: GPUDevice }).device;
}
