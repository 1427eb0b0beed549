// When a unit of an activation layer counts as alive for one input (DESIGN.md, "Neurons,
// dead and alive"): its local gradient is not (nearly) zero.
//   zero        ReLU: the output is exactly 0 below zero, and so is the gradient.
//   saturation  sigmoid, tanh and the smooth ones (elu, selu, gelu, swish, mish): the
//               derivative is below `threshold` x its largest value (1% by default).
//   pieces      maxout and MFM: a unit is one piece of the pre-activation (a channel of
//               the conv before it); it is alive when the max (or MFM 3/2's top two) took it.
//   cannot-die  leaky ReLU, PReLU, RReLU: the gradient is never zero; the layer reports its
//               negative-regime fraction instead.
import * as tf from '@tensorflow/tfjs';
import type { ActivationSpec } from '../../../models/activations/spec';

export type DeadRule = 'zero' | 'saturation' | 'pieces' | 'cannot-die';

export const DEFAULT_SATURATION_THRESHOLD = 0.01;

export function deadRule(spec: ActivationSpec): DeadRule {
  switch (spec.name) {
    case 'relu':
      return 'zero';
    case 'maxout':
    case 'mfm':
      return 'pieces';
    case 'leaky_relu':
    case 'prelu':
    case 'rrelu':
      return 'cannot-die';
    default:
      return 'saturation';
  }
}

/** How many pieces a pre-activation unit competes with (1 when the rule is not 'pieces'). */
export function pieceCount(spec: ActivationSpec): number {
  if (spec.name === 'maxout') return spec.k;
  if (spec.name === 'mfm') return spec.variant === '2/1' ? 2 : 3;
  return 1;
}

/** The activation's derivative at x, elementwise; y = f(x) is given to save recomputing it. */
function derivative(spec: ActivationSpec, x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  switch (spec.name) {
    case 'sigmoid':
      return y.mul(tf.scalar(1).sub(y));
    case 'tanh':
      return tf.scalar(1).sub(y.square());
    default: {
      // elu, selu, gelu, swish, mish: elementwise, so the gradient of sum(f(x)) is f'(x).
      const f = smoothActivation(spec);
      return tf.grad((t: tf.Tensor) => f(t).sum())(x);
    }
  }
}

function smoothActivation(spec: ActivationSpec): (x: tf.Tensor) => tf.Tensor {
  // The same functions tfjs' Activation layer applies (layers/activations).
  const layer = tf.layers.activation({ activation: spec.name as 'elu' });
  return (x) => layer.apply(x) as tf.Tensor;
}

const maxDerivatives = new Map<string, number>();

/**
 * The largest |f'(x)| over the real line: 0.25 for sigmoid, 1 for tanh and elu, about
 * 1.76 for selu (just below 0), 1.13 for gelu, 1.10 for swish, 1.09 for mish. Found
 * numerically on a fine grid once per activation, so a new smooth activation needs no table.
 */
export function maxDerivative(spec: ActivationSpec): number {
  const key = spec.name;
  const known = maxDerivatives.get(key);
  if (known !== undefined) return known;
  const value = tf.tidy(() => {
    const x = tf.linspace(-12, 12, 48001);
    return derivative(spec, x, smoothOrClosed(spec, x)).abs().max().dataSync()[0] as number;
  });
  maxDerivatives.set(key, value);
  return value;
}

function smoothOrClosed(spec: ActivationSpec, x: tf.Tensor): tf.Tensor {
  if (spec.name === 'sigmoid') return tf.sigmoid(x);
  if (spec.name === 'tanh') return tf.tanh(x);
  return smoothActivation(spec)(x);
}

export interface AliveResult {
  /** 1 where the unit is alive for that input, else 0; the shape of y (zero, saturation) or of x (pieces). */
  readonly alive: tf.Tensor;
  /** pieces: the fraction of positions where each piece was taken, [k]. */
  readonly pieceWinRates?: tf.Tensor1D;
}

/** Which units were alive for each input of the batch. Not defined for 'cannot-die'. */
export function aliveUnits(spec: ActivationSpec, x: tf.Tensor, y: tf.Tensor, threshold = DEFAULT_SATURATION_THRESHOLD): AliveResult {
  const rule = deadRule(spec);
  if (rule === 'zero') return { alive: y.greater(0).cast('float32') };
  if (rule === 'saturation') return { alive: derivative(spec, x, y).abs().greaterEqual(threshold * maxDerivative(spec)).cast('float32') };
  if (rule === 'pieces') return piecesTaken(spec, x);
  throw new Error(`${spec.name} cannot die: ask for its negative fraction instead`);
}

/**
 * Maxout and MFM split the pre-activation's channels into k consecutive pieces (as the
 * layers do: piece i is channels [i*C, (i+1)*C)). One piece per position takes the max
 * (ties go to the first, as argMax breaks them); MFM 3/2 passes the max and the median, so
 * the only piece without a gradient is the one holding the minimum.
 */
function piecesTaken(spec: ActivationSpec, x: tf.Tensor): AliveResult {
  const k = pieceCount(spec);
  const pieces = tf.stack(tf.split(x, k, -1), -1); // [..., C, k]
  const taken = spec.name === 'mfm' && spec.variant === '3/2' ? tf.scalar(1).sub(tf.oneHot(pieces.argMin(-1), k)) : tf.oneHot(pieces.argMax(-1), k);
  const rank = taken.rank;
  const pieceWinRates = taken.mean([...Array(rank - 1).keys()]) as tf.Tensor1D;
  // Back to the pre-activation's layout: [..., C, k] -> [..., k, C] -> [..., k*C].
  const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
  const alive = taken.transpose(perm).reshape(x.shape);
  return { alive: alive.cast('float32'), pieceWinRates };
}

/** Fraction of entries the activation saturates (derivative under the threshold); only for 'saturation'. */
export function saturatedFraction(spec: ActivationSpec, x: tf.Tensor, y: tf.Tensor, threshold = DEFAULT_SATURATION_THRESHOLD): tf.Scalar {
  return tf.scalar(1).sub(aliveUnits(spec, x, y, threshold).alive.mean()) as tf.Scalar;
}
