import * as tf from '@tensorflow/tfjs';
import { maxPieces } from '../kernels/max-pieces';
import type { LayerArgs } from './layer-io';
import { maxout } from './maxout';
import { PiecesLayer } from './pieces-layer';

export type MFMVariant = '2/1' | '3/2';

export interface MFMArgs extends LayerArgs {
  /** '2/1' (default) or '3/2'. */
  variant?: MFMVariant;
}

/**
 * MFM 3/2 as a composition of tfjs ops: [max(a, b, c), median(a, b, c)] of the last axis'
 * thirds a, b, c. The fused kernel reproduces exactly this, values and gradients.
 */
export function topTwoOfThirds(x: tf.Tensor): tf.Tensor {
  const [a, b, c] = tf.split(x, 3, -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const hiAB = tf.maximum(a, b);
  const loAB = tf.minimum(a, b);
  const top = tf.maximum(hiAB, c);
  // median(a, b, c) = max(min(a, b), min(max(a, b), c)): exact (no a + b + c - max - min rounding).
  const median = tf.maximum(loAB, tf.minimum(hiAB, c));
  return tf.concat([top, median], -1);
}

/**
 * Max-Feature-Map (Wu, He, Sun: Light CNN, 2015/2018), over channels,
 * channels-last, any rank >= 2.
 *
 * - 2/1: input 2N channels, output N. out[..., c] = max(in[..., c], in[..., N + c]):
 *   the max of the first and the last N channels, as the Light CNN PyTorch
 *   reference does (`x = torch.split(x, N, 1); torch.max(x[0], x[1])`).
 * - 3/2: input 3m channels split into thirds a = [0, m), b = [m, 2m), c = [2m, 3m);
 *   output 2m channels = [max(a, b, c), median(a, b, c)]: channels [0, m) hold the
 *   largest of the three, channels [m, 2m) the second largest (the top two in
 *   descending order; the smallest is dropped).
 *
 * Ties (measure zero for real-valued inputs) send the gradient to one piece only.
 *
 * On cpu, wasm and webgpu one fused kernel (models/kernels/max-pieces.ts, webgpu-max-pieces.ts)
 * computes the same values and gradients bit for bit (on wasm: as the composition does with
 * the lab's Maximum, Minimum and comparison kernels, which loadWasm installs); native
 * TensorFlow runs the composition (maxOfPieces, topTwoOfThirds).
 */
export class MFM extends PiecesLayer {
  static className = 'FclMFM';
  readonly variant: MFMVariant;

  constructor(args: MFMArgs = {}) {
    super(args);
    this.variant = args.variant ?? '2/1';
    if (this.variant !== '2/1' && this.variant !== '3/2') throw new Error(`${this.name}: MFM is 2/1 or 3/2, got ${String(this.variant)}`);
  }

  protected override compute(x: tf.Tensor): tf.Tensor {
    // 2/1 is maxout with k = 2, computed by maxout's own code; the class stays for saved models' names.
    if (this.variant === '2/1') return maxout(x, 2);
    return maxPieces(x, { mode: 'mfm32' }) ?? topTwoOfThirds(x);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), variant: this.variant };
  }

  protected override outputChannelsOf(channels: number): number {
    if (this.variant === '2/1') {
      if (channels % 2 !== 0) throw new Error(`${this.name}: mfm:2/1 needs an even number of input channels (2N), got ${channels}`);
      return channels / 2;
    }
    if (channels % 3 !== 0) throw new Error(`${this.name}: mfm:3/2 needs a multiple of 3 input channels (3m), got ${channels}`);
    return (channels / 3) * 2;
  }
}
tf.serialization.registerClass(MFM);
