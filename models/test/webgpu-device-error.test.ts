// A WebGPU error is reported to the device's listeners, not thrown, and the work that hit it
// yields zeros: the lab must stop the step instead of updating with them. Its own file: the
// device stays marked broken for the rest of the process, as it should.
import * as tf from '@tensorflow/tfjs';
import { expect, test } from 'vitest';
import { Optimizer } from '../../electron/trainer/training/optimizer';
import { namedParams, trainStep } from '../../electron/trainer/training/train-step';
import { checkWebGpu, GpuDeviceError } from '../webgpu-device';
import { buildModel } from '../lightcnn';
import { useBackend } from './backend-compare';

test('a GPU validation error stops the next step with a GpuDeviceError that says what to do; nothing is updated', async () => {
  await useBackend('webgpu');
  const built = buildModel({ architecture: 'tiny', inputSize: 16, widthMultiplier: 0.25, numClasses: 3, seed: 1 });
  const params = namedParams(built.model);
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, params);
  const xs = tf.randomUniform([2, 16, 16, 1]) as tf.Tensor4D;
  const ys = tf.tensor1d([0, 2], 'int32');
  try {
    const input = { xs, ys, numClasses: 3, lr: 0.1, clipNorm: 0 };
    expect((await trainStep(built.model, params, optimizer, input)).finite).toBe(true);
    expect(() => checkWebGpu()).not.toThrow();

    // What a bad shader or an impossible buffer does: a validation error, delivered as an event.
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
    await device.queue.onSubmittedWorkDone();

    const before = await Promise.all(params.map(async (p) => Float32Array.from(await p.variable.data())));
    const error = await trainStep(built.model, params, optimizer, input).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/^WebGPU: the GPU reported an error: .+\. The results since then are not trustworthy; the last checkpoint is kept\. Resume on another backend \(--backend wasm\)/);
    const after = await Promise.all(params.map(async (p) => Float32Array.from(await p.variable.data())));
    expect(after).toEqual(before);
  } finally {
    built.model.dispose();
    optimizer.dispose();
    xs.dispose();
    ys.dispose();
  }
});
