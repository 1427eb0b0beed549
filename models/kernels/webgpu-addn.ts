// AddN on webgpu in groups the device can bind. tfjs-webgpu 4.22's AddN binds every input
// as its own storage buffer in one shader (addn_packed_webgpu.js), so a sum of more inputs
// than the device's maxStorageBuffersPerShaderStage (8 by WebGPU's default, often 8-16)
// fails pipeline validation, and WebGPU reports that as an uncaptured error while the result
// stays zeros. The training step sums the squared norm of every gradient with tf.addN (20+
// tensors for LightCNN-9). Concat already splits its inputs this way; this does the same
// for AddN: sums of at most (limit - 1) inputs, then a sum of those sums.
import * as tf from '@tensorflow/tfjs';

interface WebGpuDeviceBackend {
  device: GPUDevice;
  disposeData(dataId: object, force?: boolean): boolean;
}

let original: tf.KernelFunc | undefined;

const groupedAddN: tf.KernelFunc = (args) => {
  const inner = original;
  if (inner === undefined) throw new Error('AddN on webgpu: the original kernel was not found');
  const backend = args.backend as unknown as WebGpuDeviceBackend;
  const inputs = args.inputs as unknown as tf.TensorInfo[];
  const most = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one binding is the output
  if (inputs.length <= most) return inner(args);
  const partial: tf.TensorInfo[] = [];
  for (let start = 0; start < inputs.length; start += most) {
    const group = inputs.slice(start, start + most);
    partial.push(group.length === 1 ? (group[0] as tf.TensorInfo) : (inner({ ...args, inputs: group as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo));
  }
  const out = groupedAddN({ ...args, inputs: partial as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
  for (const t of partial) if (!inputs.includes(t)) backend.disposeData(t.dataId);
  return out;
};

/** Replaces webgpu's AddN with the grouped one (idempotent); call after tfjs-backend-webgpu is imported. */
export function installWebGpuAddN(): void {
  const current = tf.getKernel('AddN', 'webgpu');
  if (current === undefined || current.kernelFunc === groupedAddN) return;
  original = current.kernelFunc;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ kernelName: 'AddN', backendName: 'webgpu', kernelFunc: groupedAddN });
}
