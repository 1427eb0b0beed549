// Weight and activation histograms (probes/histograms.ts) on every backend the lab trains on
// here: the bins against a count in plain JS, the strided sample of large tensors, tensors of
// one value and with NaN, the first layer's filters in tfjs' kernel layout, and whole training
// steps through the compute core (every layer, sums that add up, no leaked tensor).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { selectBackend } from '../../../../models/backend';
import { Rng } from '../../../../datasets/random';
import { useBackend, type TestBackend } from '../../../../models/test/backend-compare';
import { HISTOGRAM_BINS, HISTOGRAM_SAMPLE, type Histogram } from '#protocol/messages';
import { parseTrainConfig } from '../../training/config';
import { InProcessCore, type BatchData } from '../../training/compute-core';
import { packHistograms, readHistograms, sampleStride } from '../histograms';
import type { ActivationUnit } from '../../../../models/lightcnn';
import type { Captured } from '../layer-taps';

const BACKENDS: TestBackend[] = ['cpu', 'wasm', 'webgpu'];

beforeAll(async () => {
  await selectBackend({ force: 'wasm' }); // registers wasm with the lab's kernels, as the app does
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

/** The bins as the protocol defines them, in float64. */
function reference(values: ArrayLike<number>, stride = 1): number[] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i] as number);
    max = Math.max(max, values[i] as number);
  }
  const width = (max - min) / HISTOGRAM_BINS;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (let i = 0; i < values.length; i += stride) {
    const bin = width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.floor(((values[i] as number) - min) / width)) : 0;
    counts[bin]! += 1;
  }
  return counts;
}

const unit = (layer: string, linear: string): ActivationUnit => ({ unit: linear, layer, linear, spec: { name: 'relu' }, channels: 1, preActivationChannels: 1 });

/** Histograms of `activation` (as layer "a") and `kernel` (as "conv/kernel"), read back. */
async function histogramsOf(kernel: tf.Tensor | undefined, activation: tf.Tensor | undefined, withFilters = false) {
  const captured = (l: string): Captured | undefined => (l === 'a' && activation ? { x: activation, y: activation } : undefined);
  const weightOf = (n: string) => (n === 'conv/kernel' ? kernel : undefined);
  return readHistograms(packHistograms([unit('a', 'conv')], { captured, weightOf }, withFilters));
}

describe.each(BACKENDS)('on %s', (backend) => {
  test('bins as the protocol says: equal widths from min to max, the max in the last bin', async () => {
    await useBackend(backend);
    // Values in the middle of bins (no float32 rounding question), the two ends, a repeated value.
    const values = [0, 30, ...Array.from({ length: 30 }, (_, i) => i + 0.5), 7.5, 7.5, 29.5];
    const before = tf.memory().numTensors;
    const activation = tf.tensor4d(values, [1, 1, values.length, 1]);
    const { layers } = await histogramsOf(undefined, activation);
    activation.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const h = layers[0]!.activations as Histogram;
    expect(layers[0]!.weights).toBeNull();
    expect(h.min).toBe(0);
    expect(h.max).toBe(30);
    expect(h.counts).toEqual(reference(values));
    expect(h.counts[0]).toBe(2); // 0 and 0.5
    expect(h.counts[7]).toBe(3);
    expect(h.counts[29]).toBe(3); // 29.5 twice and the max
    expect({ counted: h.counted, total: h.total, stride: h.stride }).toEqual({ counted: values.length, total: values.length, stride: 1 });
  });

  test('random weights and activations match a count in plain JS', async () => {
    await useBackend(backend);
    const rng = new Rng(11);
    const w = Float32Array.from({ length: 5 * 5 * 2 * 7 }, () => 0.3 * rng.normal());
    const y = Float32Array.from({ length: 3 * 6 * 6 * 4 }, () => Math.max(0, rng.normal()));
    const kernel = tf.tensor4d(w, [5, 5, 2, 7]);
    const activation = tf.tensor4d(y, [3, 6, 6, 4]);
    const { layers } = await histogramsOf(kernel, activation);
    tf.dispose([kernel, activation]);
    const { weights, activations } = layers[0]!;
    // A value within float32 rounding of a bin edge may fall either side of it: allow one move.
    expectNear(weights!.counts, reference(w));
    expectNear(activations!.counts, reference(y));
    expect(activations!.min).toBe(0);
    expect(activations!.counts[0]).toBe(reference(y)[0]); // ReLU's zeros, far from any edge
  });

  test('a tensor larger than the sample is counted on every stride-th value, min and max over all', async () => {
    await useBackend(backend);
    const size = HISTOGRAM_SAMPLE * 2 + 3;
    expect(sampleStride([1, 1, size, 1])).toBe(3);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = (i % 97) / 97;
    values[1] = -5; // not on the stride: only min sees it
    values[size - 2] = 9;
    const activation = tf.tensor4d(values, [1, 1, size, 1]);
    const { layers } = await histogramsOf(undefined, activation);
    activation.dispose();
    const h = layers[0]!.activations!;
    expect(h.min).toBe(-5);
    expect(h.max).toBe(9);
    expect(h.stride).toBe(3);
    expect(h.counted).toBe(Math.ceil(size / 3));
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(h.counted);
    expectNear(h.counts, reference(values, 3));
  });

  test('the sample of a batch of maps counts every channel alike (the stride shares no factor with a map)', async () => {
    await useBackend(backend);
    const [n, h, w, c] = [8, 16, 16, 48];
    const values = new Float32Array(n * h * w * c);
    for (let i = 0; i < values.length; i++) values[i] = i % c; // channel k holds the value k
    const activation = tf.tensor4d(values, [n, h, w, c]);
    const { layers } = await histogramsOf(undefined, activation);
    activation.dispose();
    const hist = layers[0]!.activations!;
    // A stride of 2 would have counted the even channels only; this one is odd and not a multiple of 3.
    expect(hist.stride).toBeGreaterThan(1);
    const perChannel = new Array<number>(c).fill(0);
    for (let i = 0; i < values.length; i += hist.stride) perChannel[i % c]! += 1;
    expect(Math.max(...perChannel) - Math.min(...perChannel)).toBeLessThanOrEqual(1);
    expect(hist.counts).toEqual(reference(values, hist.stride));
    expect(hist.counted).toBe(Math.ceil(values.length / hist.stride));
    expect(hist.counted).toBeLessThanOrEqual(HISTOGRAM_SAMPLE);
  });

  test('one value everywhere fills the first bin; NaN or infinity gives no histogram', async () => {
    await useBackend(backend);
    const zeros = tf.zeros([2, 3, 3, 2]);
    const nan = tf.tensor2d([1, NaN, 2, 3], [2, 2]);
    const zero = (await histogramsOf(nan, zeros)).layers[0]!;
    tf.dispose([zeros, nan]);
    expect(zero.activations!.counts[0]).toBe(36);
    expect(zero.activations!.counts.slice(1).every((c) => c === 0)).toBe(true);
    expect(zero.weights).toBeNull();
    const inf = tf.tensor2d([1, Infinity, 2, 3], [2, 2]);
    const infinite = (await histogramsOf(inf, undefined)).layers[0]!;
    inf.dispose();
    expect(infinite.weights).toBeNull();
  });

  test("the first layer's filters come back in tfjs' kernel layout", async () => {
    await useBackend(backend);
    const values = Array.from({ length: 3 * 2 * 1 * 4 }, (_, i) => (i - 12) / 8);
    const kernel = tf.tensor4d(values, [3, 2, 1, 4]);
    const { filters } = await histogramsOf(kernel, undefined, true);
    const without = await histogramsOf(kernel, undefined, false);
    kernel.dispose();
    expect(filters).toEqual({ layer: 'conv', height: 3, width: 2, inChannels: 1, count: 4, values });
    expect(without.filters).toBeNull();
  });
});

function expectNear(counts: readonly number[], expected: readonly number[]): void {
  expect(counts.reduce((a, b) => a + b, 0)).toBe(expected.reduce((a, b) => a + b, 0));
  let moved = 0;
  counts.forEach((c, i) => (moved += Math.abs(c - (expected[i] as number))));
  expect(moved).toBeLessThanOrEqual(2);
}

// ---------------------------------------------------------------------------- whole steps

const CLASSES = 5;
const SIZE = 16;
const CONFIG = parseTrainConfig({ data: 'synthetic:5x8', model: 'tiny', inputSize: SIZE, batch: 4, optimizer: 'adam', lr: 0.002, seed: 3, activation: 'mfm', warmupSteps: 0, clipNorm: 0 });

function batchOf(seed: number): BatchData {
  const rng = new Rng(seed);
  const count = 4;
  return {
    pixels: Float32Array.from({ length: count * SIZE * SIZE }, () => rng.uniform(0, 1)),
    labels: Int32Array.from({ length: count }, (_, i) => i % CLASSES),
    indices: Int32Array.from({ length: count }, (_, i) => seed * 10 + i),
    count,
    inputSize: SIZE,
  };
}

describe.each(BACKENDS)('training steps on %s', (backend) => {
  test('a step asked for histograms gives every layer, after the update; one not asked gives none; nothing leaks', async () => {
    await useBackend(backend);
    const core = await InProcessCore.create({ config: CONFIG, numClasses: CLASSES });
    try {
      const plain = await core.step({ batch: batchOf(1), lr: 0.002, clipNorm: 0, step: 1, seed: CONFIG.seed });
      expect(plain.histograms).toBeNull();
      const before = tf.memory().numTensors;
      const reply = await core.step({ batch: batchOf(2), lr: 0.002, clipNorm: 0, step: 2, seed: CONFIG.seed, histograms: { histograms: true, filters: true } });
      expect(tf.memory().numTensors).toBe(before);
      const histograms = reply.histograms!;
      expect(histograms.layers.map((l) => l.layer)).toEqual(core.model.activationLayers);
      const info = new Map(core.model.layers.map((l) => [l.layer, l]));
      for (const layer of histograms.layers) {
        const { weights, activations } = layer;
        expect(weights!.counts.reduce((a, b) => a + b, 0)).toBe(weights!.counted);
        expect(activations!.counts.reduce((a, b) => a + b, 0)).toBe(activations!.counted);
        const l = info.get(layer.layer)!;
        expect(activations!.total).toBe(4 * l.height * l.width * l.channels); // the whole training batch
        expect(activations!.min).toBeLessThanOrEqual(activations!.max);
      }
      // The filters are the first convolution's kernel as it is after the update.
      const { filters } = histograms;
      const state = await core.getState();
      const kernel = state.arrays.find((a) => a.name === `weights/${filters!.layer}/kernel`)!;
      expect([filters!.height, filters!.width, filters!.inChannels, filters!.count]).toEqual(kernel.shape);
      const stored = kernel.values;
      filters!.values.forEach((v, i) => expect(v).toBeCloseTo(stored[i] as number, 3));
    } finally {
      await core.dispose();
    }
  });
});
