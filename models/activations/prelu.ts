import * as tf from '@tensorflow/tfjs';
import { channelsOf, singleShape, singleTensor, type Kwargs, type LayerArgs } from './layer-io';

/** He et al. 2015 ("Delving Deep into Rectifiers") initialise every slope to 0.25. */
export const PRELU_INITIAL_SLOPE = 0.25;

export interface PReLUArgs extends LayerArgs {
  /** Initial value of every slope; default 0.25. */
  initialSlope?: number;
}

/**
 * Parametric ReLU (He et al. 2015) with one learned slope per channel (the last
 * axis), whatever the rank: a conv output [b, h, w, C] and a dense output [b, C]
 * both get C slopes, f(x) = x for x > 0 and a_c * x otherwise. Slopes start at 0.25.
 *
 * Ours rather than `tf.layers.prelu`: the built-in needs `sharedAxes` chosen
 * from the input rank before the layer sees its input, and `createActivation`
 * does not know the rank. He et al. train the slopes without weight decay.
 */
export class PReLU extends tf.layers.Layer {
  static className = 'FclPReLU';
  readonly initialSlope: number;
  private alpha: tf.LayerVariable | null = null;

  constructor(args: PReLUArgs = {}) {
    super(args);
    this.initialSlope = args.initialSlope ?? PRELU_INITIAL_SLOPE;
    if (!Number.isFinite(this.initialSlope)) throw new Error(`${this.name}: the initial slope must be a finite number, got ${this.initialSlope}`);
    this.supportsMasking = true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const channels = channelsOf(singleShape(inputShape, this.name), this.name);
    this.alpha = this.addWeight('alpha', [channels], 'float32', tf.initializers.constant({ value: this.initialSlope }));
    super.build(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this.name);
      if (this.alpha === null) throw new Error(`${this.name}: PReLU called before it was built`);
      const channels = this.alpha.shape[0];
      if (x.shape[x.rank - 1] !== channels) throw new Error(`${this.name}: built for ${channels} channels, got input shape [${x.shape.join(', ')}]`);
      return tf.prelu(x, this.alpha.read());
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), initialSlope: this.initialSlope };
  }
}
tf.serialization.registerClass(PReLU);

/**
 * The current slopes of a PReLU layer (ours, or tfjs' built-in `PReLU`), one per
 * channel in channel order, as a copy: for display, safe to keep. Read asynchronously, as
 * every backend allows (webgpu in Node has no synchronous read).
 */
export async function preluSlopes(layer: tf.layers.Layer): Promise<Float32Array> {
  const className = layer.getClassName();
  if (className !== PReLU.className && className !== 'PReLU') throw new Error(`${layer.name} is a ${className}, not a PReLU layer`);
  const alpha = layer.weights[0];
  if (alpha === undefined) throw new Error(`${layer.name}: PReLU slopes do not exist until the layer is built (applied to an input)`);
  return Float32Array.from(await alpha.read().data());
}
