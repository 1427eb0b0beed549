// Activation layers for the Light CNN family. Importing this module registers
// every custom layer class with tfjs' serialization, so models that use them
// save and load with `tf.loadLayersModel`.
import * as tf from '@tensorflow/tfjs';
import type { ActivationSpec } from './spec';
import { Maxout } from './maxout';
import { MFM } from './mfm';
import { PReLU } from './prelu';
import { RReLU } from './rrelu';

export * from './spec';
export { Maxout, maxOfPieces, type MaxoutArgs } from './maxout';
export { MFM, topTwoOfThirds, type MFMArgs, type MFMVariant } from './mfm';
export { PReLU, PRELU_INITIAL_SLOPE, preluSlopes, type PReLUArgs } from './prelu';
export { RReLU, type RReLUArgs } from './rrelu';

/** Class names of our custom activation layers, as they appear in saved models. */
export const CUSTOM_ACTIVATION_CLASS_NAMES = [RReLU.className, Maxout.className, MFM.className, PReLU.className] as const;

/**
 * A fresh activation layer for `spec`, named `name` (e.g. 'conv2_act').
 *
 * sigmoid, tanh, relu, elu (alpha 1), selu, gelu, swish, mish are tfjs'
 * `Activation` layer; in tfjs 4.22 'gelu' is the exact x * Phi(x) (through erf),
 * not the tanh approximation (that one is 'gelu_new'), and 'swish' is
 * x * sigmoid(x) (SiLU). leaky_relu is tfjs' `LeakyReLU` with our alpha
 * (0.01 by default); prelu, rrelu, maxout and mfm are our layers.
 */
export function createActivation(spec: ActivationSpec, name: string): tf.layers.Layer {
  switch (spec.name) {
    case 'sigmoid':
    case 'tanh':
    case 'relu':
    case 'elu':
    case 'selu':
    case 'gelu':
    case 'swish':
    case 'mish':
      return tf.layers.activation({ activation: spec.name, name });
    case 'leaky_relu':
      return tf.layers.leakyReLU({ alpha: spec.alpha, name });
    case 'prelu':
      return new PReLU({ name });
    case 'rrelu':
      return new RReLU({ lower: spec.lower, upper: spec.upper, name });
    case 'maxout':
      return new Maxout({ k: spec.k, name });
    case 'mfm':
      return new MFM({ variant: spec.variant, name });
  }
}

/** True when the activation draws random numbers in training (seeded per step through `stepSeed`). */
export function isStochastic(spec: ActivationSpec): boolean {
  return spec.name === 'rrelu';
}
