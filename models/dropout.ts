// Dropout whose mask changes every training step yet is the same after a resume.
// tfjs' own Dropout either draws from an unseeded generator (not reproducible) or,
// given a seed, draws the same mask at every step. This one asks step-random for
// the current step's seed.
import * as tf from '@tensorflow/tfjs';
import { stepSeed } from './step-random';

export interface StepDropoutArgs {
  rate: number;
  name?: string;
}

export class StepDropout extends tf.layers.Layer {
  static className = 'FclStepDropout';
  readonly rate: number;

  constructor(args: StepDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
    if (!kwargs['training'] || this.rate === 0) return x.clone();
    return tf.tidy(() => {
      // Inverted dropout, as PyTorch: kept units are scaled by 1 / (1 - rate) during training.
      const keep = tf.randomUniform(x.shape, 0, 1, 'float32', stepSeed(this.name)).greaterEqual(this.rate);
      return x.mul(keep.cast('float32')).div(1 - this.rate);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}
tf.serialization.registerClass(StepDropout);
