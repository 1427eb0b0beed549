// The fused summary kernel (cpu and wasm) gives the same numbers as the op composition it
// replaces, for every activation rule, on random activations over several steps.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../../datasets/random';
import { createActivation, parseActivation, inputChannels } from '../../../../models/activations';
import { selectBackend } from '../../../../models/backend';
import type { ActivationUnit } from '../../../../models/lightcnn';
import { LayerStatsTracker } from '../layer-stats';
import { summaryMode } from '../summary-kernel';

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
        const [a] = fused.update(step, () => captured, NONE);
        const [b] = composed.update(step, () => captured, NONE);
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
