import * as tf from '@tensorflow/tfjs';
import { maxPieces } from '../kernels/max-pieces';
import { channelsOf, singleShape, singleTensor, withChannels, type Kwargs, type LayerArgs } from './layer-io';

export interface MaxoutArgs extends LayerArgs {
  /** Number of linear pieces per output unit, 2..5. */
  k: number;
}

/**
 * The elementwise maximum of `pieces`, ties going to the earlier piece (the
 * gradient of `tf.maximum` flows to its first argument when a >= b).
 */
export function maxOfPieces(pieces: readonly tf.Tensor[]): tf.Tensor {
  const [first, ...rest] = pieces;
  if (first === undefined) throw new Error('maxOfPieces: no pieces');
  return rest.reduce<tf.Tensor>((acc, piece) => tf.maximum(acc, piece), first);
}

/**
 * Maxout (Goodfellow et al. 2013) over channels, channels-last, any rank >= 2
 * (conv outputs [b, h, w, k*N] and dense outputs [b, k*N]).
 *
 * Piece layout: contiguous blocks. The input's k*N channels are k blocks of N;
 * piece j (0-based) of output unit c is input channel j*N + c, and
 *
 *     out[..., c] = max_j in[..., j*N + c].
 *
 * With k = 2 this is exactly MFM 2/1 (max of the two channel halves). The layer
 * has no weights; the k-fold parameters live in the conv/dense before it, which
 * must produce k*N channels.
 *
 * On cpu, wasm and webgpu one fused kernel (models/kernels/max-pieces.ts, webgpu-max-pieces.ts)
 * computes the same values and gradients bit for bit (on wasm: as the composition does with
 * the lab's Maximum and comparison kernels, which loadWasm installs); native TensorFlow runs
 * the composition.
 */
export class Maxout extends tf.layers.Layer {
  static className = 'FclMaxout';
  readonly k: number;

  constructor(args: MaxoutArgs) {
    super(args);
    this.k = args.k;
    if (!Number.isInteger(this.k) || this.k < 2 || this.k > 5) throw new Error(`${this.name}: maxout takes k = 2..5 pieces, got ${this.k}`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.outputChannels(singleShape(inputShape, this.name));
    super.build(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this.name);
      this.outputChannels(x.shape);
      return maxPieces(x, { mode: 'maxout', k: this.k }) ?? maxOfPieces(tf.split(x, this.k, -1));
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = singleShape(inputShape, this.name);
    return withChannels(shape, this.outputChannels(shape));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), k: this.k };
  }

  private outputChannels(shape: tf.Shape): number {
    const channels = channelsOf(shape, this.name);
    if (channels % this.k !== 0) {
      throw new Error(`${this.name}: maxout:${this.k} needs k x N input channels (a multiple of ${this.k}), got ${channels}`);
    }
    return channels / this.k;
  }
}
tf.serialization.registerClass(Maxout);
