import * as tf from '@tensorflow/tfjs';
import { maxPieces } from '../kernels/max-pieces';
import type { LayerArgs } from './layer-io';
import { PiecesLayer } from './pieces-layer';

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

/** Maxout of `x`'s k contiguous channel blocks: the fused kernel where the backend has one, else the composition. */
export function maxout(x: tf.Tensor, k: number): tf.Tensor {
  return maxPieces(x, { mode: 'maxout', k }) ?? maxOfPieces(tf.split(x, k, -1));
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
export class Maxout extends PiecesLayer {
  static className = 'FclMaxout';
  readonly k: number;

  constructor(args: MaxoutArgs) {
    super(args);
    this.k = args.k;
    if (!Number.isInteger(this.k) || this.k < 2 || this.k > 5) throw new Error(`${this.name}: maxout takes k = 2..5 pieces, got ${this.k}`);
  }

  protected override compute(x: tf.Tensor): tf.Tensor {
    return maxout(x, this.k);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), k: this.k };
  }

  protected override outputChannelsOf(channels: number): number {
    if (channels % this.k !== 0) {
      throw new Error(`${this.name}: maxout:${this.k} needs k x N input channels (a multiple of ${this.k}), got ${channels}`);
    }
    return channels / this.k;
  }
}
tf.serialization.registerClass(Maxout);
