// Memory before the first step: the wasm heap's 4 GiB against a step's estimated peak.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { describeModel } from '../../../../models/lightcnn';
import { fitBatch, largestBindableBatch, largestFittingBatch, largestOutputFloatsPerImage, trainingStepBytes, USABLE_FRACTION, WASM_HEAP_BYTES } from '../memory-fit';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const GiB = 2 ** 30;
const lightcnn9At128 = () => describeModel({ architecture: 'lightcnn9', inputSize: 128, numClasses: 40 });

describe('the wasm heap and LightCNN-9 at 128 px', () => {
  test('the estimate is above what was measured (1,079 MiB at batch 16, 1,875 MiB at batch 32) and batch 64 does not fit', () => {
    const summary = lightcnn9At128();
    expect(trainingStepBytes(summary, 16)).toBeGreaterThan(1079 * 2 ** 20);
    expect(trainingStepBytes(summary, 32)).toBeGreaterThan(1875 * 2 ** 20);
    expect(trainingStepBytes(summary, 64)).toBeGreaterThan(USABLE_FRACTION * WASM_HEAP_BYTES);
    const largest = largestFittingBatch(summary, WASM_HEAP_BYTES);
    expect(largest).toBeGreaterThanOrEqual(32);
    expect(largest).toBeLessThan(64);
    expect(trainingStepBytes(summary, largest)).toBeLessThanOrEqual(USABLE_FRACTION * WASM_HEAP_BYTES);
    expect(trainingStepBytes(summary, largest + 1)).toBeGreaterThan(USABLE_FRACTION * WASM_HEAP_BYTES);
  });

  test("the issue's first command (batch 64 given) is refused before the first step, naming the largest batch that fits", () => {
    const summary = lightcnn9At128();
    const largest = largestFittingBatch(summary, WASM_HEAP_BYTES);
    const fit = fitBatch({ summary, batch: 64, backend: 'wasm', userChose: true, model: 'lightcnn9', inputSize: 128 });
    expect(fit.kind).toBe('refused');
    expect(fit.kind === 'refused' && fit.message).toContain(`the largest batch that fits is ${largest}. Use --batch ${largest}`);
    expect(fit.kind === 'refused' && fit.message).toMatch(/lightcnn9 at 128 px with batch 64 needs about 4\.\d GiB/);
  });

  test('a default batch that does not fit is lowered to a multiple of 8 that does, and says why', () => {
    const summary = lightcnn9At128();
    const fit = fitBatch({ summary, batch: 64, backend: 'wasm', userChose: false, model: 'lightcnn9', inputSize: 128 });
    expect(fit.kind).toBe('reduced');
    if (fit.kind !== 'reduced') return;
    expect(fit.batch % 8).toBe(0);
    expect(trainingStepBytes(summary, fit.batch)).toBeLessThanOrEqual(USABLE_FRACTION * 4 * GiB);
    expect(fit.note).toMatch(/^batch \d+ instead of 64/);
  });

  test('backends without a limit the lab knows are not second-guessed; a batch that fits passes', () => {
    const summary = lightcnn9At128();
    expect(fitBatch({ summary, batch: 64, backend: 'cpu', userChose: true, model: 'lightcnn9', inputSize: 128 })).toEqual({ kind: 'fits' });
    expect(fitBatch({ summary, batch: 16, backend: 'wasm', userChose: true, model: 'lightcnn9', inputSize: 128 })).toEqual({ kind: 'fits' });
  });

  test('a model that does not fit even at batch 1 is refused with what to change instead', () => {
    const summary = describeModel({ architecture: 'lightcnn29', inputSize: 512, numClasses: 40 });
    const fit = fitBatch({ summary, batch: 1, backend: 'wasm', userChose: false, model: 'lightcnn29', inputSize: 512 });
    expect(fit.kind).toBe('refused');
    expect(fit.kind === 'refused' && fit.message).toMatch(/even batch 1 does not fit.*smaller input/);
  });
});

describe('webgpu: each tensor within one storage binding', () => {
  const llvmpipe = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 2 * GiB };
  const bigGpu = { maxStorageBufferBindingSize: 4 * GiB - 4, maxBufferSize: 4 * GiB - 4 };

  test("LightCNN-9 at 128 px: conv1's output is 6 MiB an image, so 128 MiB bindings take batch 21, and 4 GiB bindings the recipe's 64", () => {
    const summary = lightcnn9At128();
    expect(largestOutputFloatsPerImage(summary)).toBe(128 * 128 * 96);
    expect(largestBindableBatch(summary, llvmpipe)).toBe(21);
    expect(fitBatch({ summary, batch: 64, backend: 'webgpu', userChose: true, model: 'lightcnn9', inputSize: 128, gpuLimits: bigGpu })).toEqual({ kind: 'fits' });
  });

  test('a batch the user chose that cannot be bound is refused with the largest that can; the recipe\'s is lowered', () => {
    const summary = lightcnn9At128();
    const refused = fitBatch({ summary, batch: 64, backend: 'webgpu', userChose: true, model: 'lightcnn9', inputSize: 128, gpuLimits: llvmpipe });
    expect(refused).toEqual({ kind: 'refused', message: 'lightcnn9 at 128 px with batch 64 cannot train on this GPU: its largest layer output is 384 MiB, and this GPU binds at most 128 MiB as one buffer. The largest batch that fits is 21. Use --batch 21 (or smaller), or a smaller input' });
    const reduced = fitBatch({ summary, batch: 64, backend: 'webgpu', userChose: false, model: 'lightcnn9', inputSize: 128, gpuLimits: llvmpipe });
    expect(reduced).toMatchObject({ kind: 'reduced', batch: 16 });
    // Without the adapter's limits (another backend), webgpu has no known limit.
    expect(fitBatch({ summary, batch: 64, backend: 'webgpu', userChose: true, model: 'lightcnn9', inputSize: 128 })).toEqual({ kind: 'fits' });
  });
});
