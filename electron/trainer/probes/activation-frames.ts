// Activation maps of the probe faces as binary frames (protocol/frames.ts): one frame per
// layer, every filter's map quantised to uint8 with its own min and max, plus the map's
// mean and max |activation| (the filter's "feature strength" for that face). The stats are
// taken on the full-size map; large maps are averaged down for transport (the true size
// stays in the header) unless one filter is asked for at full resolution.
import * as tf from '@tensorflow/tfjs';
import { encodeFrame, type FrameHeader } from '../protocol/frames';

/** Maps wider than this are averaged down for the grid (a filter can be asked for at full size). */
export const DEFAULT_TRANSPORT_SIDE = 32;

export interface FrameRequest {
  readonly layer: string;
  readonly kind: 'activation' | 'preactivation';
  /** Flow-control channel of the frame ('frame:conv1.act', 'frame:conv1.act:pre', 'full'). */
  readonly channel: string;
  readonly step: number;
  /** Dataset image index of each probe face (the batch order of `maps`). */
  readonly probes: readonly number[];
  /** Largest side sent; 0 = full size. */
  readonly maxSide: number;
  /** Only this channel (a full-resolution single-filter frame); else every channel. */
  readonly filter?: number;
  /** Only this probe (row of `maps`); else every probe. */
  readonly probe?: number;
}

/** Encodes `maps` ([P, H, W, C] or [P, C] for a dense layer) as one frame. */
export function encodeActivationFrame(maps: tf.Tensor, request: FrameRequest): ArrayBuffer {
  const { stats, bytes, header } = tf.tidy(() => {
    let t = maps.rank === 2 ? maps.reshape([maps.shape[0] as number, 1, 1, maps.shape[1] as number]) : maps;
    if (request.probe !== undefined) t = t.slice([request.probe, 0, 0, 0], [1, -1, -1, -1]);
    if (request.filter !== undefined) t = t.slice([0, 0, 0, request.filter], [-1, -1, -1, 1]);
    const t4 = t as tf.Tensor4D;
    const [probeCount, trueHeight, trueWidth, channels] = t4.shape;
    const min = t4.min([1, 2], true);
    const max = t4.max([1, 2], true);
    const mean = t4.mean([1, 2], true);
    const maxAbs = t4.abs().max([1, 2], true);
    const statBlock = tf.stack([min, max, mean, maxAbs], -1).reshape([probeCount, channels, 4]);
    const small = downsample(t4, request.maxSide);
    // round((x - min) / (max - min) * 255); a constant map (max == min) is all zeros.
    const range = max.sub(min);
    const safe = tf.where(range.greater(0), range, tf.onesLike(range));
    const q = small.sub(min).div(safe).mul(255).round().clipByValue(0, 255);
    const zeroed = tf.where(range.greater(0).tile([1, small.shape[1], small.shape[2], 1]), q, tf.zerosLike(q));
    const ordered = zeroed.transpose([0, 3, 1, 2]); // probe, channel, row, column
    const header: FrameHeader = {
      channel: request.channel,
      kind: request.kind,
      layer: request.layer,
      step: request.step,
      probes: request.probe === undefined ? [...request.probes] : [request.probes[request.probe] as number],
      channels,
      height: small.shape[1],
      width: small.shape[2],
      trueHeight,
      trueWidth,
      filterOffset: request.filter ?? 0,
      capturedAt: Date.now(),
    };
    return { stats: statBlock.dataSync() as Float32Array, bytes: Uint8Array.from(ordered.dataSync()), header };
  });
  return encodeFrame(header, stats, bytes);
}

/** Averages blocks down to at most `maxSide` (exact block means when the side divides evenly, else bilinear). */
function downsample(t: tf.Tensor4D, maxSide: number): tf.Tensor4D {
  const [, h, w] = t.shape;
  if (maxSide <= 0 || (h <= maxSide && w <= maxSide)) return t;
  const factor = Math.ceil(Math.max(h, w) / maxSide);
  if (h % factor === 0 && w % factor === 0) return tf.avgPool(t, factor, factor, 'valid');
  return tf.image.resizeBilinear(t, [Math.max(1, Math.round(h / factor)), Math.max(1, Math.round(w / factor))]);
}
