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
import { deadRule, pieceCount, piecesKept, type ActivationSpec } from '../../../models/activations/registry';

export { deadRule, pieceCount, type DeadRule } from '../../../models/activations/registry';

export const DEFAULT_SATURATION_THRESHOLD = 0.01;

/** The activation's derivative at x, elementwise; y = f(x) is given to save recomputing it. */
function derivative(spec: ActivationSpec, x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  switch (spec.name) {
    case 'sigmoid':
      return y.mul(tf.scalar(1).sub(y));
    case 'tanh':
      return tf.scalar(1).sub(y.mul(y));
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
  if (tf.getBackend() === 'webgpu') throw new Error(`the largest derivative of ${key} was not prepared: call prepareMaxDerivatives first (webgpu reads asynchronously)`);
  const max = maxDerivativeTensor(spec);
  const value = max.dataSync()[0] as number;
  max.dispose();
  maxDerivatives.set(key, value);
  return value;
}

/** Finds maxDerivative for each activation with an asynchronous read: call it before the probes run on a backend without synchronous reads (webgpu). */
export async function prepareMaxDerivatives(specs: readonly ActivationSpec[]): Promise<void> {
  for (const spec of specs) {
    if (deadRule(spec) !== 'saturation' || maxDerivatives.has(spec.name)) continue;
    const max = maxDerivativeTensor(spec);
    const value = (await max.data())[0] as number;
    max.dispose();
    maxDerivatives.set(spec.name, value);
  }
}

function maxDerivativeTensor(spec: ActivationSpec): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.linspace(-12, 12, 48001);
    return derivative(spec, x, smoothOrClosed(spec, x)).abs().max();
  });
}

function smoothOrClosed(spec: ActivationSpec, x: tf.Tensor): tf.Tensor {
  if (spec.name === 'sigmoid') return tf.sigmoid(x);
  if (spec.name === 'tanh') return tf.tanh(x);
  return smoothActivation(spec)(x);
}

/** Which units were alive for each input: 1 or 0, elementwise (zero and saturation rules only). */
export function aliveUnits(spec: ActivationSpec, x: tf.Tensor, y: tf.Tensor, threshold = DEFAULT_SATURATION_THRESHOLD): tf.Tensor {
  const rule = deadRule(spec);
  if (rule === 'zero') return y.greater(0).cast('float32');
  if (rule === 'saturation') return derivative(spec, x, y).abs().greaterEqual(threshold * maxDerivative(spec)).cast('float32');
  throw new Error(`aliveUnits: the ${rule} rule is not elementwise; use batchAlive`);
}

// The batch summaries below run every training step on every activation layer, so they are
// written with the ops that are fast on every backend, wasm's included: arithmetic, relu, step
// (x > 0 ? 1 : 0), full reductions and matMul. Comparisons, casts, tf.maximum and reductions
// over the batch axis (tfjs transposes the tensor first) cost 5-15x more there.

/** 1 where x > 0, else 0. */
const positive = (t: tf.Tensor) => tf.step(t);

/** Per unit, 1 when `indicator` (0/1 per input) is 1 for at least one input of the batch: a matMul with ones, then > 0. */
export function anyOverBatch(indicator: tf.Tensor): tf.Tensor {
  const n = indicator.shape[0] as number;
  const counts = tf.matMul(tf.ones([1, n]), indicator.reshape([n, -1]));
  return positive(counts).reshape(indicator.shape.slice(1));
}

export interface BatchAlive {
  /** 1 where the unit was alive for at least one input of the batch, else 0: the unit shape without the batch axis. */
  readonly aliveAny: tf.Tensor;
  /** pieces: the fraction of positions where each piece was taken, [k]. */
  readonly pieceWinRates?: tf.Tensor1D;
  /** saturation: the fraction of entries saturated. */
  readonly saturatedFraction?: tf.Scalar;
}

/**
 * Which units were alive for at least one input of the batch, and the fractions that go with
 * the rule. For 'cannot-die', "alive" is "in the positive regime" (x > 0). (Exact ties and
 * exact thresholds, of measure zero for real-valued activations, may fall either way.)
 */
export function batchAlive(spec: ActivationSpec, x: tf.Tensor, y: tf.Tensor, threshold = DEFAULT_SATURATION_THRESHOLD): BatchAlive {
  switch (deadRule(spec)) {
    case 'zero':
      return { aliveAny: anyOverBatch(positive(y)) };
    case 'cannot-die':
      return { aliveAny: anyOverBatch(positive(x)) };
    case 'saturation': {
      const alive = positive(derivative(spec, x, y).abs().sub(threshold * maxDerivative(spec)));
      return { aliveAny: anyOverBatch(alive), saturatedFraction: tf.scalar(1).sub(alive.mean()) as tf.Scalar };
    }
    case 'pieces':
      return piecesTaken(spec, x);
  }
}

/**
 * Maxout and MFM split the pre-activation's channels into k consecutive pieces (as the
 * layers do: piece i is channels [i*C, (i+1)*C)). The piece holding the max at a position
 * takes the gradient there; MFM 3/2 passes the max and the median, so the only piece
 * without a gradient is the one holding the minimum.
 */
function piecesTaken(spec: ActivationSpec, x: tf.Tensor): BatchAlive {
  const k = pieceCount(spec);
  const pieces = tf.split(x, k, -1);
  if (k === 2) {
    // MFM 2/1 and maxout 2, the common case: one subtraction, one count. The second piece
    // wins where b > a; the first piece wins somewhere unless the second won for every input.
    const n = x.shape[0] as number;
    const secondWins = positive((pieces[1] as tf.Tensor).sub(pieces[0] as tf.Tensor));
    const counts = tf.matMul(tf.ones([1, n]), secondWins.reshape([n, -1])).reshape(secondWins.shape.slice(1));
    const rate = secondWins.mean();
    return {
      aliveAny: tf.concat([positive(tf.scalar(n).sub(counts)), positive(counts)], -1),
      pieceWinRates: tf.stack([tf.scalar(1).sub(rate), rate]) as tf.Tensor1D,
    };
  }
  // Keeping all but the smallest piece (MFM 3/2): a piece is taken unless it was the min.
  const byMin = piecesKept(spec) > 1;
  let taken: tf.Tensor[];
  if (byMin) {
    // MFM 3/2 exactly as the layer selects (see summary-kernel.ts): tfjs' max/min send ties to their first argument.
    const [a, b, c] = pieces as [tf.Tensor, tf.Tensor, tf.Tensor];
    const hiIsA = a.greaterEqual(b);
    const loIsA = a.lessEqual(b);
    const hi = tf.where(hiIsA, a, b);
    const lo = tf.where(loIsA, a, b);
    const topIsHi = hi.greaterEqual(c);
    const innerIsHi = hi.lessEqual(c);
    const inner = tf.where(innerIsHi, hi, c);
    const medianIsLo = lo.greaterEqual(inner);
    const medianIsHi = medianIsLo.logicalNot().logicalAnd(innerIsHi);
    const from = (isA: tf.Tensor, pick: tf.Tensor, first: boolean) => pick.logicalAnd(first ? isA : isA.logicalNot());
    taken = [
      from(hiIsA, topIsHi, true).logicalOr(from(loIsA, medianIsLo, true)).logicalOr(from(hiIsA, medianIsHi, true)),
      from(hiIsA, topIsHi, false).logicalOr(from(loIsA, medianIsLo, false)).logicalOr(from(hiIsA, medianIsHi, false)),
      topIsHi.logicalNot().logicalOr(medianIsLo.logicalNot().logicalAnd(innerIsHi.logicalNot())),
    ].map((t) => t.cast('float32'));
  } else {
    // A chain of tf.maximum: ties go to the earlier piece. tf.maximum returns one of its inputs
    // exactly, so equality with the max is exact.
    const extreme = pieces.slice(1).reduce((acc, p) => tf.maximum(acc, p), pieces[0] as tf.Tensor);
    let before: tf.Tensor = tf.zerosLike(extreme);
    taken = pieces.map((p) => {
      const won = tf.scalar(1).sub(positive(extreme.sub(p))).mul(tf.scalar(1).sub(before));
      before = before.add(won);
      return won;
    });
  }
  return { aliveAny: tf.concat(taken.map(anyOverBatch), -1), pieceWinRates: tf.stack(taken.map((t) => t.mean())) as tf.Tensor1D };
}
