// A device lost mid-work (a driver reset, the GPU taken away; here destroyed) fails the read
// with an error of its own: guardGpu tells it as a lost device. Its own file: the device is gone.
import * as tf from '@tensorflow/tfjs';
import { expect, test } from 'vitest';
import { GpuDeviceError, guardGpu } from '../webgpu-device';
import { useBackend, webGpuDevice } from './backend-compare';

test('a read failed by a lost device becomes a GpuDeviceError naming the loss', async () => {
  await useBackend('webgpu');
  const device = webGpuDevice();
  const x = tf.randomNormal([64, 64]);
  const error = await guardGpu(async () => {
    const y = tf.matMul(x, x);
    device.destroy();
    return y.data();
  }).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(GpuDeviceError);
  expect((error as Error).message).toMatch(/^WebGPU: the GPU device was lost \(destroyed/);
});
