// The activation registry (models/activations/registry.ts) against the layers it describes:
// every entry's example parses and writes back as itself, the channel factor is what the
// built layer really takes in for its output, the piece count is the factor's numerator where
// pieces compete, and labInfo (the UI's view) is the registry's, entry for entry.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { activationInfo } from '../../electron/trainer/server/workbench/lab-info';
import { ACTIVATION_NAMES, ACTIVATIONS, channelFactor, createActivation, deadRule, formatActivation, parseActivation, pieceCount, piecesKept, type ActivationSpec } from '../activations';

const EXAMPLES: ActivationSpec[] = ACTIVATION_NAMES.map((name) => parseActivation(ACTIVATIONS[name].example));
const WITH_DEFAULTS: ActivationSpec[] = ACTIVATION_NAMES.map((name) => parseActivation(name));

describe('activation registry', () => {
  test('every example and every bare name parses, and writes back as it parses', () => {
    for (const name of ACTIVATION_NAMES) {
      expect(formatActivation(parseActivation(ACTIVATIONS[name].example))).toBe(ACTIVATIONS[name].example);
      expect(ACTIVATIONS[name].description.length).toBeGreaterThan(10);
    }
    for (const spec of [...EXAMPLES, ...WITH_DEFAULTS]) expect(parseActivation(formatActivation(spec))).toEqual(spec);
    expect(parseActivation('LeakyReLU:0.2')).toEqual({ name: 'leaky_relu', alpha: 0.2 });
    expect(parseActivation('silu')).toEqual({ name: 'swish' });
    expect(() => parseActivation('softsign')).toThrow(/unknown activation "softsign"; choose one of sigmoid, tanh, relu/);
    expect(() => parseActivation('relu:2')).toThrow(/relu takes no parameters/);
  });

  test.each([...EXAMPLES, ...WITH_DEFAULTS].map((spec) => [formatActivation(spec), spec] as const))('%s: the built layer takes the channels its factor says, and its pieces', (_text, spec) => {
    const { num, den } = channelFactor(spec);
    const outputs = 6; // divisible by every den
    const inputs = (outputs * num) / den;
    const layer = createActivation(spec, 'act');
    const shape = layer.computeOutputShape([null, 3, 3, inputs]) as number[];
    expect(shape.at(-1)).toBe(outputs);
    // Pieces: the factor's numerator, each kept piece making one of the den outputs (MFM 3/2: 3 pieces, 2 kept).
    if (deadRule(spec) === 'pieces') expect({ pieces: pieceCount(spec), kept: piecesKept(spec) }).toEqual({ pieces: num, kept: den });
    else expect({ pieces: pieceCount(spec), kept: piecesKept(spec) }).toEqual({ pieces: 1, kept: 1 });
    tf.dispose(layer.getWeights());
  });

  test("labInfo's activations are the registry's", () => {
    expect(activationInfo()).toEqual(ACTIVATION_NAMES.map((name) => ({ name, example: ACTIVATIONS[name].example, rule: ACTIVATIONS[name].rule, description: ACTIVATIONS[name].description })));
  });
});
