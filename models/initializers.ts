// How a network's weights start. The default is the reference's: the Light CNN trains
// in PyTorch with each layer's own reset_parameters(), so every conv and linear layer
// (the classifier too) starts as nn.Conv2d / nn.Linear do:
//   kernel ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))  (kaiming_uniform_ with a = sqrt(5): std 1/sqrt(3 fan_in))
//   bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// He-normal (std sqrt(2/fan_in)) is about 2.4x larger per layer; over nine layers of MFM,
// which pass the larger of two values and so grow the scale, it starts LightCNN-9 with
// logits in the tens and a first loss several times ln(classes). It stays an option, as
// does Glorot, for experiments on initialisation itself.
import * as tf from '@tensorflow/tfjs';
import type { ActivationSpec } from './activations/spec';
import type { InitializerName } from './initializer-names';

export { DEFAULT_INITIALIZER, INITIALIZER_DESCRIPTIONS, INITIALIZERS, isInitializerName, type InitializerName } from './initializer-names';

type Initializer = ReturnType<typeof tf.initializers.zeros>;

export interface LayerInit {
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
}

/**
 * The initializers of one conv or dense layer. `fanIn`: inputs per output (in channels x
 * kernel area for a conv); `spec`: the activation after it (undefined for a linear layer,
 * such as the classifier); `seed`: the layer's own seed (the bias draws from another).
 */
export function layerInitializers(scheme: InitializerName, fanIn: number, spec: ActivationSpec | undefined, seed: number): LayerInit {
  switch (scheme) {
    case 'pytorch': {
      const bound = 1 / Math.sqrt(fanIn);
      return {
        // Variance scaling with scale s draws from U(±sqrt(3 s / fan_in)): s = 1/3 gives ±1/sqrt(fan_in).
        kernelInitializer: tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed }),
        biasInitializer: tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: biasSeed(seed) }),
      };
    }
    case 'he':
      return { kernelInitializer: heFamily(spec, seed), biasInitializer: tf.initializers.zeros() };
    case 'glorot':
      return { kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.zeros() };
  }
}

/** He for rectifier-like and max-type activations, Glorot for sigmoid/tanh and linear layers, LeCun for SELU. */
function heFamily(spec: ActivationSpec | undefined, seed: number): Initializer {
  switch (spec?.name) {
    case undefined:
    case 'sigmoid':
    case 'tanh':
      return tf.initializers.glorotUniform({ seed });
    case 'selu':
      return tf.initializers.leCunNormal({ seed });
    default:
      return tf.initializers.heNormal({ seed });
  }
}

/** A seed for the bias unrelated to the kernel's (both derive from the layer's). */
function biasSeed(seed: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) >>> 0) % 0xffffffff;
}
