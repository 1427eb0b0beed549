// Dead-neuron and health numbers on hand-built tensors whose right answer is known, and
// against a direct element-by-element computation over several steps.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../../datasets/random';
import type { ActivationSpec } from '../../../../models/activations/spec';
import type { ActivationUnit } from '../../../../models/lightcnn';
import { aliveUnits, anyOverBatch, deadRule, maxDerivative } from '../dead-rules';
import { LayerStatsTracker, type StepTensors } from '../layer-stats';
import { statsNow } from './stats-now';
import type { Captured } from '../layer-taps';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

const NO_GRADIENTS: StepTensors = { gradientOf: () => undefined, gradientOfWeight: () => undefined, weightBefore: () => undefined };

function unitOf(spec: ActivationSpec, channels: number, preActivationChannels = channels): ActivationUnit {
  return { unit: 'conv1', layer: 'conv1.act', linear: 'conv1', spec, channels, preActivationChannels };
}

function tracker(unit: ActivationUnit, window = 50, weights: Record<string, tf.Tensor> = {}): LayerStatsTracker {
  return new LayerStatsTracker([unit], (name) => weights[name], { window });
}

/** Random normal pre-activations [B, H, W, C] with a per-channel offset. */
function preActivations(rng: Rng, shape: [number, number, number, number], offsets: number[] = []): tf.Tensor4D {
  const [b, h, w, c] = shape;
  const data = new Float32Array(b * h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() + (offsets[i % c] ?? 0);
  return tf.tensor4d(data, shape);
}

function step(t: LayerStatsTracker, n: number, x: tf.Tensor, y: tf.Tensor, tensors = NO_GRADIENTS) {
  const captured: Captured = { x, y };
  const [stats] = statsNow(t, n, (layer) => (layer === 'conv1.act' ? captured : undefined), tensors);
  return stats!;
}

describe('dead rules', () => {
  it('sorts every activation into its rule', () => {
    expect(deadRule({ name: 'relu' })).toBe('zero');
    expect(deadRule({ name: 'sigmoid' })).toBe('saturation');
    expect(deadRule({ name: 'gelu' })).toBe('saturation');
    expect(deadRule({ name: 'mfm', variant: '2/1' })).toBe('pieces');
    expect(deadRule({ name: 'maxout', k: 3 })).toBe('pieces');
    expect(deadRule({ name: 'leaky_relu', alpha: 0.01 })).toBe('cannot-die');
    expect(deadRule({ name: 'prelu' })).toBe('cannot-die');
    expect(deadRule({ name: 'rrelu', lower: 0.125, upper: 1 / 3 })).toBe('cannot-die');
  });

  it('finds the largest derivative of each smooth activation', () => {
    expect(maxDerivative({ name: 'sigmoid' })).toBeCloseTo(0.25, 5);
    expect(maxDerivative({ name: 'tanh' })).toBeCloseTo(1, 5);
    expect(maxDerivative({ name: 'elu' })).toBeCloseTo(1, 3);
    // selu: scale * alpha just below 0.
    expect(maxDerivative({ name: 'selu' })).toBeCloseTo(1.0507009873554805 * 1.6732632423543772, 3);
    expect(maxDerivative({ name: 'gelu' })).toBeCloseTo(1.1289, 3);
  });

  it('calls a sigmoid fed +-20 saturated and one fed 0 alive', () => {
    const x = tf.tensor1d([20, -20, 0, 2]);
    const alive = aliveUnits({ name: 'sigmoid' }, x, tf.sigmoid(x)).arraySync();
    // sigmoid'(2) = 0.105 = 42% of the max: alive; sigmoid'(20) = 2e-9.
    expect(alive).toEqual([0, 0, 1, 1]);
  });

  it('uses the 1% threshold for tanh: alive just inside, saturated just outside, in the tracker as set', () => {
    // tanh'(x) = 1 - tanh(x)^2 = 0.01 at x = atanh(sqrt(0.99)) = 2.9932.
    const x = tf.tensor4d([2.99, 3.0], [1, 1, 1, 2]);
    const t = tracker(unitOf({ name: 'tanh' }, 2));
    expect(step(t, 1, x, tf.tanh(x))).toMatchObject({ deadFilterIndices: [1], saturatedFraction: 0.5 });
    t.saturationThreshold = 0.005; // tanh'(3.0) = 0.0099: alive at half a percent
    expect(step(t, 2, x, tf.tanh(x))).toMatchObject({ deadFilterIndices: [], saturatedFraction: 0 });
    t.dispose();
  });
});

describe('ReLU layers', () => {
  it('a filter with an all-negative bias is dead, the others are alive', () => {
    const rng = new Rng(1);
    const t = tracker(unitOf({ name: 'relu' }, 4));
    let stats;
    for (let s = 1; s <= 3; s++) {
      const x = preActivations(rng, [2, 3, 3, 4], [0, 0, -100, 0]);
      stats = step(t, s, x, tf.relu(x));
    }
    expect(stats!.rule).toBe('zero');
    expect(stats!.deadFilterIndices).toEqual([2]);
    expect(stats!.deadFilters).toBe(1);
    expect(stats!.filters).toBe(4);
    expect(stats!.units).toBe(3 * 3 * 4);
    expect(stats!.neverFiredFilters).toBe(1);
    // Channel 2's 9 units are dead; with 2 random inputs a few other units may also never fire.
    expect(stats!.deadUnits).toBeGreaterThanOrEqual(9);
    expect(stats!.zeroFraction).toBeGreaterThan(0.25);
    t.dispose();
  });

  it('a filter dead over the window revives when it fires again, and the counts say so', () => {
    const t = tracker(unitOf({ name: 'relu' }, 2), 2);
    const fire = tf.tensor4d([1, 1], [1, 1, 1, 2]);
    const half = tf.tensor4d([1, -1], [1, 1, 1, 2]);
    expect(step(t, 1, fire, tf.relu(fire)).deadFilterIndices).toEqual([]);
    expect(step(t, 2, half, tf.relu(half)).deadFilterIndices).toEqual([]); // fired at step 1, window 2
    const third = step(t, 3, half, tf.relu(half)); // last fired at 1 <= 3 - 2
    expect(third.deadFilterIndices).toEqual([1]);
    expect(third.died).toBe(1);
    expect(third.neverFiredFilters).toBe(0);
    const back = step(t, 4, fire, tf.relu(fire));
    expect(back.deadFilterIndices).toEqual([]);
    expect(back.revived).toBe(1);
    t.window = 1; // a new window applies at once, without history
    expect(step(t, 5, half, tf.relu(half)).deadFilterIndices).toEqual([1]);
    t.dispose();
  });

  it('a filter that first fires after a few steps is warming up, not reviving: died and revived count full windows only', () => {
    const t = tracker(unitOf({ name: 'relu' }, 2), 3);
    const quiet = tf.tensor4d([1, -1], [1, 1, 1, 2]);
    const fire = tf.tensor4d([1, 1], [1, 1, 1, 2]);
    // Steps 1-2: filter 1 has not fired yet, so it counts as dead ("dead since the start")...
    expect(step(t, 1, quiet, tf.relu(quiet)).deadFilterIndices).toEqual([1]);
    expect(step(t, 2, quiet, tf.relu(quiet)).deadFilterIndices).toEqual([1]);
    // ...and its first firing, before the window of 3 steps has filled, is not a revival.
    const firstFire = step(t, 3, fire, tf.relu(fire));
    expect(firstFire.deadFilterIndices).toEqual([]);
    expect(firstFire).toMatchObject({ died: 0, revived: 0 });
    for (let s = 4; s <= 6; s++) step(t, s, quiet, tf.relu(quiet));
    const died = step(t, 7, quiet, tf.relu(quiet)); // last fired at 3 <= 7 - 3
    expect(died).toMatchObject({ deadFilterIndices: [1], died: 1, revived: 0 });
    t.dispose();
  });

  it('matches a direct element-by-element computation over many steps', () => {
    const rng = new Rng(7);
    const window = 3;
    const shape: [number, number, number, number] = [2, 4, 4, 5];
    const t = tracker(unitOf({ name: 'relu' }, 5), window);
    const units = 4 * 4 * 5;
    const lastAlive = new Array<number>(units).fill(-1);
    for (let s = 1; s <= 12; s++) {
      // Strongly negative offsets make units die and revive across steps.
      const x = preActivations(rng, shape, [-2.5, -1.5, -3, 0, -2]);
      const y = tf.relu(x);
      const stats = step(t, s, x, y);
      const values = y.dataSync();
      for (let u = 0; u < units; u++) if (values[u]! > 0 || values[u + units]! > 0) lastAlive[u] = s;
      // Before the window fills, dead means not alive at any step so far.
      const cutoff = Math.max(s - window, 0);
      const deadUnits = lastAlive.filter((l) => l <= cutoff).length;
      const deadFilters = [0, 1, 2, 3, 4].filter((c) => lastAlive.every((l, u) => u % 5 !== c || l <= cutoff));
      expect(stats.deadUnits).toBe(deadUnits);
      expect(stats.deadFilterIndices).toEqual(deadFilters);
      expect(stats.neverFiredUnits).toBe(lastAlive.filter((l) => l < 0).length);
      const all = [...values];
      const mean = all.reduce((a, b) => a + b, 0) / all.length;
      const std = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
      expect(stats.mean).toBeCloseTo(mean, 3);
      expect(stats.std).toBeCloseTo(std, 3);
      expect(stats.zeroFraction).toBeCloseTo(all.filter((v) => v === 0).length / all.length, 3);
      expect(stats.negativeFraction).toBeCloseTo([...x.dataSync()].filter((v) => v < 0).length / all.length, 3);
    }
    t.dispose();
  });
});

describe('sigmoid and tanh layers', () => {
  it('a nearly saturated sigmoid still has its tiny std (not cancelled to 0)', () => {
    const rng = new Rng(11);
    const x = preActivations(rng, [8, 4, 4, 2], [9, 9]).mul(1); // ~N(9, 1): sigmoid ~ 0.9999
    const y = tf.sigmoid(x);
    const values = [...y.dataSync()].map(Number);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    const stats = step(tracker(unitOf({ name: 'sigmoid' }, 2)), 1, x, y);
    expect(std).toBeGreaterThan(0);
    expect(stats.std).toBeGreaterThan(0.5 * std);
    expect(stats.std).toBeLessThan(2 * std);
  });

  it('a sigmoid fed +-20 is fully saturated: every unit dead, the saturated fraction 1', () => {
    const t = tracker(unitOf({ name: 'sigmoid' }, 2));
    const x = tf.tensor4d([20, -20, -20, 20, 20, 20, -20, -20], [2, 2, 1, 2]);
    const stats = step(t, 1, x, tf.sigmoid(x));
    expect(stats.rule).toBe('saturation');
    expect(stats.saturatedFraction).toBe(1);
    expect(stats.deadFilters).toBe(2);
    expect(stats.deadUnits).toBe(4);
    t.dispose();
  });

  it('tanh at zero is alive and zero-centred; sigmoid at zero is centred on 0.5', () => {
    const x = tf.zeros([3, 2, 2, 2]);
    const tanh = tracker(unitOf({ name: 'tanh' }, 2));
    const sig = tracker(unitOf({ name: 'sigmoid' }, 2));
    const a = step(tanh, 1, x, tf.tanh(x));
    const b = step(sig, 1, x, tf.sigmoid(x));
    expect(a.deadUnits).toBe(0);
    expect(a.saturatedFraction).toBe(0);
    expect(a.mean).toBe(0);
    expect(b.mean).toBe(0.5);
    tanh.dispose();
    sig.dispose();
  });
});

describe('maxout and MFM layers', () => {
  it('an MFM 2/1 whose second half is always larger has a dead first half', () => {
    const rng = new Rng(3);
    const c = 3;
    const t = tracker(unitOf({ name: 'mfm', variant: '2/1' }, c, 2 * c));
    let stats;
    for (let s = 1; s <= 2; s++) {
      const x = preActivations(rng, [2, 2, 2, 2 * c], [0, 0, 0, 5, 5, 5]);
      const [a, b] = tf.split(x, 2, -1);
      stats = step(t, s, x, tf.maximum(a!, b!));
    }
    expect(stats!.rule).toBe('pieces');
    expect(stats!.filters).toBe(2 * c);
    expect(stats!.units).toBe(2 * 2 * 2 * c);
    expect(stats!.deadFilterIndices).toEqual([0, 1, 2]);
    expect(stats!.pieceWinRates).toEqual([0, 1]);
    t.dispose();
  });

  it('an MFM 3/2 passes the top two of three thirds: the third always smallest is dead', () => {
    const m = 2;
    const t = tracker(unitOf({ name: 'mfm', variant: '3/2' }, 2 * m, 3 * m));
    const x = preActivations(new Rng(4), [4, 2, 2, 3 * m], [3, 3, 6, 6, -6, -6]);
    const stats = step(t, 1, x, x); // y is not used by the pieces rule beyond its mean
    expect(stats.deadFilterIndices).toEqual([4, 5]);
    expect(stats.pieceWinRates).toEqual([1, 1, 0]);
    t.dispose();
  });

  it('maxout k = 3 counts each piece that took the max, and matches a direct count', () => {
    const c = 2;
    const t = tracker(unitOf({ name: 'maxout', k: 3 }, c, 3 * c));
    const x = preActivations(new Rng(5), [3, 2, 2, 3 * c]);
    const stats = step(t, 1, x, tf.maximum(tf.maximum(x.slice([0, 0, 0, 0], [-1, -1, -1, c]), x.slice([0, 0, 0, c], [-1, -1, -1, c])), x.slice([0, 0, 0, 2 * c], [-1, -1, -1, c])));
    const v = x.arraySync() as number[][][][];
    const wins = [0, 0, 0];
    const taken = new Set<string>();
    for (let b = 0; b < 3; b++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++)
          for (let ch = 0; ch < c; ch++) {
            const pieces = [0, 1, 2].map((p) => v[b]![i]![j]![p * c + ch]!);
            const winner = pieces.indexOf(Math.max(...pieces));
            wins[winner]!++;
            taken.add(`${i},${j},${winner * c + ch}`);
          }
    const total = 3 * 2 * 2 * c;
    stats.pieceWinRates!.forEach((rate, p) => expect(rate).toBeCloseTo(wins[p]! / total, 3));
    expect(stats.deadUnits).toBe(2 * 2 * 3 * c - taken.size);
    t.dispose();
  });
});

describe('layers that cannot die', () => {
  it('leaky ReLU reports its negative fraction and no dead counts', () => {
    const t = tracker(unitOf({ name: 'leaky_relu', alpha: 0.01 }, 2));
    const x = tf.tensor4d([-1, -2, -3, 4], [1, 2, 1, 2]);
    const stats = step(t, 1, x, tf.leakyRelu(x, 0.01));
    expect(stats.rule).toBe('cannot-die');
    expect(stats.deadFilters).toBeNull();
    expect(stats.deadUnits).toBeNull();
    expect(stats.deadFilterIndices).toEqual([]);
    expect(stats.negativeFraction).toBe(0.75);
    expect(stats.units).toBe(4);
    // Channel 0 was negative everywhere: ReLU would call it dead; leaky ReLU still passes a gradient.
    expect(stats.negativeRegimeFilters).toBe(1);
    expect(stats.negativeRegimeFilterIndices).toEqual([0]);
    t.dispose();
  });

  it('reports PReLU slopes per channel', () => {
    const u: ActivationUnit = { unit: 'conv1', layer: 'conv1.act', linear: 'conv1', spec: { name: 'prelu' }, channels: 3, preActivationChannels: 3 };
    const t = new LayerStatsTracker([u], (name) => (name === 'conv1.act/alpha' ? tf.tensor1d([0.25, 0.1, -0.5]) : undefined));
    const x = tf.ones([1, 1, 1, 3]);
    expect(step(t, 1, x, x).preluSlopes).toEqual([0.25, 0.1, -0.5]);
    t.dispose();
  });
});

describe('gradient flow and updates', () => {
  it('reports mean |gradient| of output and weights, the weight norm and the update/weight ratio', () => {
    const kernel = tf.tensor2d([[3, 4]]); // norm 5
    const before = tf.tensor2d([[3, 4.5]]); // the update moved it by 0.5
    const t = tracker(unitOf({ name: 'relu' }, 2), 50, { 'conv1/kernel': kernel });
    const x = tf.ones([1, 1, 1, 2]);
    const stats = step(t, 1, x, x, {
      gradientOf: () => tf.scalar(0.125),
      gradientOfWeight: (name) => (name === 'conv1/kernel' ? tf.tensor2d([[-1, 3]]) : undefined),
      weightBefore: (name) => (name === 'conv1/kernel' ? before : undefined),
    });
    expect(stats.gradOutputMeanAbs).toBe(0.125);
    expect(stats.gradWeightMeanAbs).toBe(2);
    expect(stats.weightNorm).toBe(5);
    expect(stats.updateRatio).toBeCloseTo(0.5 / Math.hypot(3, 4.5), 4);
    t.dispose();
  });
});

it('keeps the tensor count flat over many steps', () => {
  const rng = new Rng(9);
  const t = tracker(unitOf({ name: 'mfm', variant: '2/1' }, 2, 4));
  const x = preActivations(rng, [2, 3, 3, 4]);
  const y = tf.maximum(x.slice([0, 0, 0, 0], [-1, -1, -1, 2]), x.slice([0, 0, 0, 2], [-1, -1, -1, 2]));
  step(t, 1, x, y);
  const before = tf.memory().numTensors;
  for (let s = 2; s < 30; s++) step(t, s, x, y);
  expect(tf.memory().numTensors).toBe(before);
  t.dispose();
  expect(tf.memory().numTensors).toBe(before - 1); // the one lastAlive tensor
});

it('"any over the batch" agrees with a direct any over the batch axis', () => {
  for (const b of [1, 2, 3, 5, 8]) {
    const indicator = tf.step(preActivations(new Rng(b), [b, 3, 2, 4], [-1.5, 0, 1.5, -3]));
    expect(anyOverBatch(indicator).arraySync()).toEqual(indicator.max(0).arraySync());
  }
});
