// Small helpers shared by the custom activation layers: the types tfjs does not
// export under a public name, and the checks on the one input they all take.
import type * as tf from '@tensorflow/tfjs';

/** Keyword arguments of `Layer.call` (`training` among them). */
export type Kwargs = Parameters<tf.layers.Layer['call']>[1];
/** The base arguments every tfjs layer accepts (`name`, `trainable`, ...). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** The single input tensor of a one-input layer. */
export function singleTensor(inputs: tf.Tensor | tf.Tensor[], layerName: string): tf.Tensor {
  if (!Array.isArray(inputs)) return inputs;
  const [only] = inputs;
  if (inputs.length !== 1 || only === undefined) throw new Error(`${layerName}: expects exactly one input tensor, got ${inputs.length}`);
  return only;
}

/** The single input shape of a one-input layer. */
export function singleShape(inputShape: tf.Shape | tf.Shape[], layerName: string): tf.Shape {
  const first = inputShape[0];
  if (Array.isArray(first)) {
    if (inputShape.length !== 1) throw new Error(`${layerName}: expects exactly one input, got ${inputShape.length}`);
    return first;
  }
  return inputShape as tf.Shape;
}

/** The channel count (last axis, channels-last) of an input shape; it must be known. */
export function channelsOf(shape: tf.Shape, layerName: string): number {
  const channels = shape[shape.length - 1];
  if (shape.length < 2 || channels === undefined || channels === null) {
    throw new Error(`${layerName}: needs an input of rank >= 2 with a known channel count (last axis), got shape [${shape.join(', ')}]`);
  }
  return channels;
}

/** The same shape with its last axis replaced. */
export function withChannels(shape: tf.Shape, channels: number): tf.Shape {
  return [...shape.slice(0, -1), channels];
}
