// What maxout and MFM share as layers: one input whose channels are pieces, an output with
// fewer channels (checked against the input's), no weights. Each subclass says how many
// channels come out and how they are computed; building, calling and the output shape are
// written once here.
import * as tf from '@tensorflow/tfjs';
import { channelsOf, singleShape, singleTensor, withChannels, type Kwargs } from './layer-io';

export abstract class PiecesLayer extends tf.layers.Layer {
  /** The output's channels for an input of `channels` (throws, naming the layer, when they do not split). */
  protected abstract outputChannelsOf(channels: number): number;
  /** The output for `x`, whose channels have been checked. */
  protected abstract compute(x: tf.Tensor): tf.Tensor;

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.outputChannels(singleShape(inputShape, this.name));
    super.build(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this.name);
      this.outputChannels(x.shape);
      return this.compute(x);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = singleShape(inputShape, this.name);
    return withChannels(shape, this.outputChannels(shape));
  }

  private outputChannels(shape: tf.Shape): number {
    return this.outputChannelsOf(channelsOf(shape, this.name));
  }
}
