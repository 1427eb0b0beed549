// A WebGPU error is reported to the device's listeners, not thrown, and the work that hit it
// yields zeros: the lab must stop the step instead of updating with them. Its own file: the
// device stays marked broken for the rest of the process, as it should.
import { expect, test } from 'vitest';
import { checkWebGpu, GpuDeviceError } from '../webgpu-device';
import { provokeValidationError, tinyTraining, webGpuDevice } from './backend-compare';

test('a GPU validation error stops the next step with a GpuDeviceError that says what to do; nothing is updated', async () => {
  const training = await tinyTraining('webgpu');
  try {
    expect((await training.step()).finite).toBe(true);
    expect(() => checkWebGpu()).not.toThrow();

    // Delivered as an event: waited for here, so this is the uncaptured-error listener's path.
    provokeValidationError();
    await webGpuDevice().queue.onSubmittedWorkDone();

    const before = await training.weights();
    const error = await training.step().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/^WebGPU: the GPU reported an error: .+\. The results since then are not trustworthy; the last checkpoint is kept\. Resume on another backend \(--backend wasm on the command line; in the app, Resume in Runs on another backend\)/);
    expect(await training.weights()).toEqual(before);
  } finally {
    training.dispose();
  }
});
