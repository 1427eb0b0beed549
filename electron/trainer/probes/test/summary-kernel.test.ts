// The fused summary kernel (cpu and wasm) gives the same numbers as the op composition it
// replaces, for every activation rule, on random activations over several steps.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../../datasets/random';
import { createActivation, parseActivation, inputChannels } from '../../../../models/activations';
import { selectBackend } from '../../../../models/backend';
import type { ActivationUnit } from '../../../../models/lightcnn';
import { LayerStatsTracker } from '../layer-stats';
import { statsNow } from './stats-now';
import { runWeightKernel, summaryMode } from '../summary-kernel';

const NONE = { gradientOf: () => undefined, gradientOfWeight: () => undefined, weightBefore: () => undefined };
const SPECS = ['relu', 'leaky_relu', 'prelu', 'sigmoid', 'tanh', 'elu', 'selu', 'maxout:3', 'mfm:2/1', 'mfm:3/2'];

afterAll(async () => {
  await tf.setBackend('cpu');
});

function layerInputs(rng: Rng, spec: string, channels: number): { x: tf.Tensor; y: tf.Tensor } {
  const parsed = parseActivation(spec);
  const pre = inputChannels(parsed, channels);
  const data = Float32Array.from({ length: 6 * 5 * 3 * pre }, (_, i) => rng.normal() * 3 + ((i % pre) % 3 === 0 ? -4 : 0));
  const x = tf.tensor4d(data, [6, 5, 3, pre]);
  const layer = createActivation(parsed, `probe_${spec.replace(/\W/g, '_')}`);
  return { x, y: layer.apply(x, { training: false }) as tf.Tensor };
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`on ${backend}`, () => {
    it.each(SPECS)('%s: the kernel and the op composition agree', async (spec) => {
      await selectBackend({ purpose: 'infer', force: backend });
      const parsed = parseActivation(spec);
      expect(summaryMode(parsed)).not.toBeNull();
      const channels = 4;
      const unit: ActivationUnit = { unit: 'conv1', layer: 'conv1.act', linear: 'conv1', spec: parsed, channels, preActivationChannels: inputChannels(parsed, channels) };
      const fused = new LayerStatsTracker([unit], () => undefined, { window: 2 });
      const composed = new LayerStatsTracker([unit], () => undefined, { window: 2 });
      composed.useKernel = false;
      const rng = new Rng(spec.length);
      for (let step = 1; step <= 4; step++) {
        const captured = layerInputs(rng, spec, channels);
        const [a] = statsNow(fused, step, () => captured, NONE);
        const [b] = statsNow(composed, step, () => captured, NONE);
        const { mean, std, zeroFraction, negativeFraction, saturatedFraction, pieceWinRates, ...exact } = a!;
        const { mean: m2, std: s2, zeroFraction: z2, negativeFraction: n2, saturatedFraction: sat2, pieceWinRates: w2, ...exact2 } = b!;
        expect(exact).toEqual(exact2); // dead counts and indices, units, filters, died/revived
        expect(mean).toBeCloseTo(m2!, 3);
        expect(std).toBeCloseTo(s2!, 3);
        expect(zeroFraction).toBeCloseTo(z2!, 3);
        expect(negativeFraction).toBeCloseTo(n2!, 3);
        if (saturatedFraction === null) expect(sat2).toBeNull();
        else expect(saturatedFraction).toBeCloseTo(sat2!, 3);
        expect(pieceWinRates?.length).toBe(w2?.length);
        pieceWinRates?.forEach((r, i) => expect(r).toBeCloseTo(w2![i]!, 3));
        captured.x.dispose();
        captured.y.dispose();
      }
      fused.dispose();
      composed.dispose();
    });
  });
}

it('leaves gelu, swish and mish to the op composition (they need tfjs erf and friends)', () => {
  for (const name of ['gelu', 'swish', 'mish']) expect(summaryMode(parseActivation(name))).toBeNull();
});

describe('edge cases, by both paths (cpu)', () => {
  const paths = [
    ['fused kernel', true],
    ['op composition', false],
  ] as const;

  async function onCpu() {
    await selectBackend({ purpose: 'infer', force: 'cpu' });
  }

  function single(spec: string, x: tf.Tensor, useKernel: boolean, window = 1) {
    const parsed = parseActivation(spec);
    const pre = x.shape.at(-1) as number;
    const unit: ActivationUnit = { unit: 'conv1', layer: 'conv1.act', linear: 'conv1', spec: parsed, channels: pre / (parsed.name === 'mfm' && parsed.variant === '3/2' ? 1.5 : parsed.name === 'mfm' ? 2 : parsed.name === 'maxout' ? parsed.k : 1), preActivationChannels: pre };
    const tracker = new LayerStatsTracker([unit], () => undefined, { window });
    tracker.useKernel = useKernel;
    const layer = createActivation(parsed, 'edge');
    const y = layer.apply(x, { training: false }) as tf.Tensor;
    const [stats] = statsNow(tracker, 1, () => ({ x, y }), NONE);
    tracker.dispose();
    return { stats: stats!, layer };
  }

  /** The pieces that receive a gradient, as tfjs computes it through the layer itself. */
  function gradientPieces(layer: tf.layers.Layer, x: tf.Tensor): number[] {
    const g = tf.grad((t: tf.Tensor) => (layer.apply(t, { training: false }) as tf.Tensor).sum())(x);
    return [...g.dataSync()].flatMap((v, i) => (v !== 0 ? [i] : []));
  }

  const ties: Array<[string, number[]]> = [
    ['mfm:3/2', [1, 1, 5]],
    ['mfm:3/2', [5, 1, 1]],
    ['mfm:3/2', [2, 2, 2]],
    ['mfm:3/2', [3, 1, 3]],
    ['mfm:3/2', [0, 4, 4]],
    ['maxout:3', [2, 2, 1]],
    ['maxout:3', [1, 3, 3]],
    ['mfm:2/1', [4, 4]],
  ];
  for (const [useName, useKernel] of paths) {
    it.each(ties)(`${useName}: %s on %j marks alive exactly the pieces tfjs sends a gradient to`, async (spec, values) => {
      await onCpu();
      const x = tf.tensor4d(values, [1, 1, 1, values.length]);
      const { stats, layer } = single(spec, x, useKernel);
      const alive = values.map((_, i) => i).filter((i) => !stats.deadFilterIndices.includes(i));
      expect(alive).toEqual(gradientPieces(layer, x));
    });

    it(`${useName}: an exact zero input counts as negative, the same in the fraction and the negative-regime filters`, async () => {
      await onCpu();
      const x = tf.tensor4d([0, 0, 0, -1], [2, 1, 1, 2]);
      const { stats } = single('leaky_relu', x, useKernel);
      expect(stats.negativeFraction).toBe(1);
      expect(stats.negativeRegimeFilters).toBe(2);
    });

    it(`${useName}: a dense layer's units are its channels`, async () => {
      await onCpu();
      const x = tf.tensor2d([[1, -1, 2, -3], [2, -1, -2, -3]]);
      const { stats } = single('relu', x, useKernel);
      expect(stats).toMatchObject({ units: 4, filters: 4, deadFilterIndices: [1, 3] });
    });

    it(`${useName}: the std of a nearly saturated sigmoid over many values is right to 0.1%`, async () => {
      await onCpu();
      const rng = new Rng(21);
      const n = 32 * 32 * 64 * 16;
      const xs = Float32Array.from({ length: n }, () => 9 + rng.normal() * 0.5);
      const x = tf.tensor4d(xs, [16, 32, 32, 64]);
      const y = tf.sigmoid(x);
      const values = y.dataSync();
      let mean = 0;
      for (const v of values) mean += v;
      mean /= n;
      let sq = 0;
      for (const v of values) sq += (v - mean) ** 2;
      const std = Math.sqrt(sq / n);
      const { stats } = single('sigmoid', x, useKernel);
      expect(Math.abs(stats.std / std - 1)).toBeLessThan(1e-3);
    });
  }
});

it('the fused weight summary agrees with tf ops, on cpu and wasm; absent inputs give NaN', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await selectBackend({ purpose: 'infer', force: backend });
    const rng = new Rng(3);
    const w = tf.tensor1d(Float32Array.from({ length: 1000 }, () => rng.normal()));
    const before = w.add(tf.tensor1d(Float32Array.from({ length: 1000 }, () => rng.normal() * 0.01)));
    const g = tf.tensor1d(Float32Array.from({ length: 1000 }, () => rng.normal()));
    const fused = [...runWeightKernel(w, before, g)!.dataSync()];
    const direct = [g.abs().mean(), w.norm(), w.sub(before).norm().div(before.norm())].map((t) => t.dataSync()[0]!);
    fused.forEach((v, i) => expect(v / direct[i]! - 1).toBeCloseTo(0, 5));
    const none = [...runWeightKernel(w, undefined, undefined)!.dataSync()];
    expect(Number.isNaN(none[0])).toBe(true);
    expect(none[1]).toBeCloseTo(direct[1]!, 3);
    expect(Number.isNaN(none[2])).toBe(true);
  }
});
