// One training step: forward, softmax cross-entropy, gradients, clipping, update.
// Here one read-back (loss, gradient norm, correct count) decides whether to update; it is
// asynchronous (`await data()`), the only read tfjs-webgpu has in Node. It is not a step's
// only sync: the probe numbers are one more read after the update (probes/layer-stats.ts),
// and on webgpu the compute core awaits the step's WebGPU error scopes once it is done
// (guardGpu in models/webgpu-device.ts).
import * as tf from '@tensorflow/tfjs';
import { checkWebGpu } from '../../../models/webgpu-device';
import type { NamedVariable, Optimizer } from './optimizer';

export interface StepInput {
  readonly xs: tf.Tensor4D;
  readonly ys: tf.Tensor1D;
  readonly numClasses: number;
  readonly lr: number;
  /** Global-norm clipping threshold; 0 = off. */
  readonly clipNorm: number;
}

/** Lets probes see a step's gradients (by stable name, before clipping) and the update's effect. */
export interface StepObserver {
  /** Called with the step's gradients before the update; it may keep copies of the weights it will compare. */
  beforeUpdate(gradients: ReadonlyMap<string, tf.Tensor>): void;
  /** Called after the update, while the gradients are still alive. */
  afterUpdate(gradients: ReadonlyMap<string, tf.Tensor>): void;
}

export interface StepResult {
  readonly loss: number;
  readonly correct: number;
  readonly count: number;
  /** Norm of all gradients before clipping. */
  readonly gradNorm: number;
  /** False when the loss or a gradient was NaN or infinite: then nothing was updated. */
  readonly finite: boolean;
}

export async function trainStep(model: tf.LayersModel, params: readonly NamedVariable[], optimizer: Optimizer, input: StepInput, observer?: StepObserver): Promise<StepResult> {
  let logits: tf.Tensor | undefined;
  const { value: loss, grads } = tf.variableGrads(() => {
    const out = model.apply(input.xs, { training: true }) as tf.Tensor;
    logits = tf.keep(out);
    const labels = tf.oneHot(input.ys, input.numClasses);
    return tf.losses.softmaxCrossEntropy(labels, out, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
  }, params.map((p) => p.variable));
  try {
    const stats = tf.tidy(() => {
      const squares = Object.values(grads).map((g) => g.square().sum());
      const norm = (squares.length > 0 ? tf.addN(squares) : tf.scalar(0)).sqrt();
      const correct = (logits as tf.Tensor).argMax(-1).equal(input.ys).sum().cast('float32');
      return tf.stack([loss, norm, correct]);
    });
    let values: Float32Array;
    try {
      values = (await stats.data()) as Float32Array;
    } finally {
      stats.dispose();
    }
    checkWebGpu(); // a GPU error yields zeros, not an exception: never update with them
    const [lossValue, gradNorm, correct] = values;
    const result = { loss: lossValue as number, gradNorm: gradNorm as number, correct: correct as number, count: input.xs.shape[0] };
    if (!Number.isFinite(result.loss) || !Number.isFinite(result.gradNorm)) return { ...result, finite: false };
    const scale = input.clipNorm > 0 && result.gradNorm > input.clipNorm ? input.clipNorm / result.gradNorm : 1;
    // variableGrads keys by the variable's process-unique name; the optimizer by the stable one.
    const raw = new Map<string, tf.Tensor>();
    for (const { name, variable } of params) {
      const grad = grads[variable.name];
      if (grad) raw.set(name, grad);
    }
    const byName = scale === 1 ? raw : new Map([...raw].map(([name, grad]) => [name, tf.keep(grad.mul(scale))]));
    observer?.beforeUpdate(raw);
    optimizer.apply(byName, input.lr);
    observer?.afterUpdate(raw);
    if (scale !== 1) for (const g of byName.values()) g.dispose();
    return { ...result, finite: true };
  } finally {
    loss.dispose();
    logits?.dispose();
    for (const g of Object.values(grads)) g.dispose();
  }
}

/**
 * The model's trainable variables under stable names (the checkpoint's keys):
 * tfjs makes variable names unique per process ('conv1/kernel_3' when a test built
 * other models first); the layer-scoped original name is the same in every process.
 */
export function namedParams(model: tf.LayersModel): NamedVariable[] {
  return model.trainableWeights.map((weight) => ({
    name: weight.originalName,
    variable: weight.read() as tf.Variable,
    decay: !weight.originalName.endsWith('/alpha'), // PReLU slopes
  }));
}
