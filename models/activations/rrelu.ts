import * as tf from '@tensorflow/tfjs';
import { stepSeed } from '../step-random';
import { RRELU_DEFAULT_LOWER, RRELU_DEFAULT_UPPER } from './spec';
import { singleTensor, type Kwargs, type LayerArgs } from './layer-io';

export interface RReLUArgs extends LayerArgs {
  /** Smallest training slope; default 1/8. */
  lower?: number;
  /** Largest training slope; default 1/3. */
  upper?: number;
}

/**
 * Randomized leaky ReLU (Xu et al. 2015, "Empirical Evaluation of Rectified
 * Activations in Convolutional Network"), with PyTorch's convention
 * (`torch.nn.RReLU`, lower = 1/8, upper = 1/3 by default):
 *
 *     f(x) = x        for x >= 0
 *     f(x) = a * x    for x <  0
 *
 * - training (`kwargs.training === true`): a is drawn independently for every
 *   element (batch, y, x, channel) from U(lower, upper), seeded by
 *   `stepSeed(layer name)`: new slopes at every training step, the same slopes
 *   when a step is replayed after a resume (and within one step, so a forward
 *   pass and its gradient see one set of slopes);
 * - inference/evaluation: a = (lower + upper) / 2, fixed (11/48 ~= 0.2292 by default).
 *
 * The slopes are not learned: the layer has no weights.
 */
export class RReLU extends tf.layers.Layer {
  static className = 'FclRReLU';
  readonly lower: number;
  readonly upper: number;

  constructor(args: RReLUArgs = {}) {
    super(args);
    this.lower = args.lower ?? RRELU_DEFAULT_LOWER;
    this.upper = args.upper ?? RRELU_DEFAULT_UPPER;
    if (!(this.lower >= 0 && this.lower < this.upper && this.upper < 1)) {
      throw new Error(`${this.name}: RReLU needs 0 <= lower < upper < 1, got lower ${this.lower}, upper ${this.upper}`);
    }
    this.supportsMasking = true;
  }

  /** The fixed slope used outside training: (lower + upper) / 2. */
  get evaluationSlope(): number {
    return (this.lower + this.upper) / 2;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this.name);
      if (kwargs['training'] !== true) return tf.leakyRelu(x, this.evaluationSlope);
      const slopes = tf.randomUniform(x.shape, this.lower, this.upper, 'float32', stepSeed(this.name));
      return tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, slopes));
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), lower: this.lower, upper: this.upper };
  }
}
tf.serialization.registerClass(RReLU);
