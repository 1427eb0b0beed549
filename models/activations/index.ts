// Activation layers for the Light CNN family. Importing this module registers
// every custom layer class with tfjs' serialization, so models that use them
// save and load with `tf.loadLayersModel`.
import * as tf from '@tensorflow/tfjs';
import type { ActivationName, ActivationSpec, SpecOf } from './registry';
import { Maxout } from './maxout';
import { MFM } from './mfm';
import { PReLU } from './prelu';
import { RReLU } from './rrelu';

export * from './spec';
export { ACTIVATIONS, activationEntry, DEAD_RULES, deadRule, isStochastic, pieceCount, piecesKept, type ActivationEntry, type DeadRule, type SpecOf } from './registry';
export { Maxout, maxOfPieces, type MaxoutArgs } from './maxout';
export { MFM, topTwoOfThirds, type MFMArgs, type MFMVariant } from './mfm';
export { PReLU, PRELU_INITIAL_SLOPE, preluSlopes, type PReLUArgs } from './prelu';
export { RReLU, type RReLUArgs } from './rrelu';

/** Class names of our custom activation layers, as they appear in saved models. */
export const CUSTOM_ACTIVATION_CLASS_NAMES = [RReLU.className, Maxout.className, MFM.className, PReLU.className] as const;

type LayerFactory<N extends ActivationName> = (spec: SpecOf<N>, name: string) => tf.layers.Layer;

/**
 * The layer of each activation (its other facts are its entry in registry.ts).
 *
 * sigmoid, tanh, relu, elu (alpha 1), selu, gelu, swish, mish are tfjs'
 * `Activation` layer; in tfjs 4.22 'gelu' is the exact x * Phi(x) (through erf),
 * not the tanh approximation (that one is 'gelu_new'), and 'swish' is
 * x * sigmoid(x) (SiLU). leaky_relu is tfjs' `LeakyReLU` with our alpha
 * (0.01 by default); prelu, rrelu, maxout and mfm are our layers (MFM 2/1 computes
 * with maxout's k = 2 code; its own class keeps saved models' names).
 */
const LAYERS: { readonly [N in ActivationName]: LayerFactory<N> } = {
  sigmoid: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  tanh: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  relu: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  elu: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  selu: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  gelu: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  swish: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  mish: (spec, name) => tf.layers.activation({ activation: spec.name, name }),
  leaky_relu: (spec, name) => tf.layers.leakyReLU({ alpha: spec.alpha, name }),
  prelu: (_spec, name) => new PReLU({ name }),
  rrelu: (spec, name) => new RReLU({ lower: spec.lower, upper: spec.upper, name }),
  maxout: (spec, name) => new Maxout({ k: spec.k, name }),
  mfm: (spec, name) => new MFM({ variant: spec.variant, name }),
};

/** A fresh activation layer for `spec`, named `name` (e.g. 'conv2_act'). */
export function createActivation(spec: ActivationSpec, name: string): tf.layers.Layer {
  return (LAYERS[spec.name] as LayerFactory<ActivationName>)(spec as SpecOf<ActivationName>, name);
}
