// A GPU error in the middle of a step, caught by guardGpu's error scopes (not left to the
// uncaptured-error event, whose timing is the implementation's), and what follows from it: the
// device is marked broken, so backend selection passes over webgpu until the lab restarts.
// Its own file: the broken device stays broken for the rest of the process, as it should.
import * as tf from '@tensorflow/tfjs';
import { expect, test } from 'vitest';
import { Optimizer } from '../../electron/trainer/training/optimizer';
import { namedParams, trainStep } from '../../electron/trainer/training/train-step';
import { BackendError, selectBackend } from '../backend';
import { buildModel } from '../lightcnn';
import { GpuDeviceError, guardGpu, webGpuProblem } from '../webgpu-device';
import { useBackend } from './backend-compare';

test('an error raised by a GPU call during a step fails the guarded step; then webgpu is passed over with the reason', async () => {
  await useBackend('webgpu');
  const built = buildModel({ architecture: 'tiny', inputSize: 16, widthMultiplier: 0.25, numClasses: 3, seed: 1 });
  const params = namedParams(built.model);
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, params);
  const xs = tf.randomUniform([2, 16, 16, 1]) as tf.Tensor4D;
  const ys = tf.tensor1d([0, 2], 'int32');
  try {
    const input = { xs, ys, numClasses: 3, lr: 0.1, clipNorm: 0 };
    expect((await guardGpu(() => trainStep(built.model, params, optimizer, input))).finite).toBe(true);
    expect(webGpuProblem()).toBeUndefined();
    // Mid-step, as a failing kernel would: nothing waits for the error to be delivered.
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const breaking = { beforeUpdate: () => void device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE }), afterUpdate: () => {} };
    const error = await guardGpu(() => trainStep(built.model, params, optimizer, input, breaking)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/^WebGPU: the GPU reported an error: .+\. The results since then are not trustworthy/);
    expect(webGpuProblem()).toMatch(/the GPU reported an error/);
  } finally {
    built.model.dispose();
    optimizer.dispose();
    xs.dispose();
    ys.dispose();
  }
  const automatic = await selectBackend({ purpose: 'infer' });
  expect(automatic.name).not.toBe('webgpu');
  expect(automatic.attempts.find((a) => a.name === 'webgpu')?.reason).toMatch(/^webgpu: the GPU reported an error: /);
  const forced = await selectBackend({ force: 'webgpu' }).then(() => null, (e: unknown) => e);
  expect(forced).toBeInstanceOf(BackendError);
  expect((forced as Error).message).toMatch(/Restart the lab for a new GPU device/);
});
