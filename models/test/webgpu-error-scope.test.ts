// A GPU error in the middle of a step, caught by guardGpu's error scopes (not left to the
// uncaptured-error event, whose timing is the implementation's), and what follows from it: the
// device is marked broken, so backend selection passes over webgpu until the lab restarts.
// Its own file: the broken device stays broken for the rest of the process, as it should.
import { expect, test } from 'vitest';
import { BackendError, selectBackend } from '../backend';
import { GpuDeviceError, guardGpu, webGpuProblem } from '../webgpu-device';
import { provokeValidationError, tinyTraining } from './backend-compare';

test('an error raised by a GPU call during a step fails the guarded step; then webgpu is passed over with the reason', async () => {
  const training = await tinyTraining('webgpu');
  try {
    expect((await guardGpu(() => training.step())).finite).toBe(true);
    expect(webGpuProblem()).toBeUndefined();
    // Mid-step, as a failing kernel would: nothing waits for the error to be delivered.
    const breaking = { beforeUpdate: provokeValidationError, afterUpdate: () => {} };
    const error = await guardGpu(() => training.step(breaking)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/^WebGPU: the GPU reported an error: .+\. The results since then are not trustworthy/);
    expect(webGpuProblem()).toMatch(/the GPU reported an error/);
  } finally {
    training.dispose();
  }
  const automatic = await selectBackend({ purpose: 'infer' });
  expect(automatic.name).not.toBe('webgpu');
  expect(automatic.attempts.find((a) => a.name === 'webgpu')?.reason).toMatch(/^webgpu: the GPU reported an error: /);
  const forced = await selectBackend({ force: 'webgpu' }).then(() => null, (e: unknown) => e);
  expect(forced).toBeInstanceOf(BackendError);
  expect((forced as Error).message).toMatch(/Restart the lab for a new GPU device/);
});
