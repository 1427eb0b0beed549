// Activation maps of the probe faces as binary frames (protocol/frames.ts): one frame per
// layer, every filter's map quantised to uint8 with its own min and max, plus the map's
// mean and max |activation| (the filter's "feature strength" for that face). The stats are
// taken on the full-size map; large maps are block-averaged for transport (the true size
// stays in the header) unless one filter is asked for at full resolution.
//
// The maps are read once and the rest is one pass in JS: tfjs reduces over the spatial axes
// of a channels-last tensor by transposing it first, several times per frame, which cost
// more than the probe forward pass itself on wasm.
import * as tf from '@tensorflow/tfjs';
import { encodeFrame, STATS_PER_MAP, type FrameHeader } from '#protocol/frames';

/** Maps wider than this are averaged down for the grid (a filter can be asked for at full size). */
export const DEFAULT_TRANSPORT_SIDE = 32;

export interface FrameRequest {
  readonly layer: string;
  readonly kind: 'activation' | 'preactivation';
  /** Flow-control channel of the frame ('frame:conv1.act', 'frame:conv1.act:pre', 'full:conv1.act:activation:3:0'). */
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
export async function encodeActivationFrame(maps: tf.Tensor, request: FrameRequest): Promise<ArrayBuffer> {
  const picked = tf.tidy(() => {
    let t = maps.rank === 2 ? maps.reshape([maps.shape[0] as number, 1, 1, maps.shape[1] as number]) : maps;
    if (request.probe !== undefined) t = t.slice([request.probe, 0, 0, 0], [1, -1, -1, -1]);
    if (request.filter !== undefined) t = t.slice([0, 0, 0, request.filter], [-1, -1, -1, 1]);
    return t === maps ? t.clone() : t;
  }) as tf.Tensor4D;
  const [probes, height, width, channels] = picked.shape;
  let data: Float32Array;
  try {
    data = (await picked.data()) as Float32Array;
  } finally {
    picked.dispose();
  }
  const { stats, bytes, outHeight, outWidth } = quantizeMaps(data, probes, height, width, channels, request.maxSide);
  const header: FrameHeader = {
    channel: request.channel,
    kind: request.kind,
    layer: request.layer,
    step: request.step,
    probes: request.probe === undefined ? [...request.probes] : [request.probes[request.probe] as number],
    channels,
    height: outHeight,
    width: outWidth,
    trueHeight: height,
    trueWidth: width,
    filterOffset: request.filter ?? 0,
    capturedAt: Date.now(),
  };
  return encodeFrame(header, stats, bytes);
}

/**
 * Channels-last maps [P, H, W, C] -> per-map [min, max, mean, max|x|] on the full map, and
 * uint8 maps [P, C, h, w] averaged over f x f blocks (f = ceil(max(H, W) / maxSide); edge
 * blocks average the pixels they have), quantised as round((x - min) / (max - min) * 255);
 * a constant map is all zeros.
 */
export function quantizeMaps(data: Float32Array, probes: number, height: number, width: number, channels: number, maxSide: number) {
  const factor = maxSide > 0 && Math.max(height, width) > maxSide ? Math.ceil(Math.max(height, width) / maxSide) : 1;
  const outHeight = Math.ceil(height / factor);
  const outWidth = Math.ceil(width / factor);
  const maps = probes * channels;
  const stats = new Float32Array(maps * STATS_PER_MAP);
  const sums = new Float64Array(maps * outHeight * outWidth);
  const min = new Float64Array(maps).fill(Infinity);
  const max = new Float64Array(maps).fill(-Infinity);
  const total = new Float64Array(maps);
  const maxAbs = new Float64Array(maps);
  let i = 0;
  for (let p = 0; p < probes; p++) {
    for (let y = 0; y < height; y++) {
      const oy = (y / factor) | 0;
      for (let x = 0; x < width; x++) {
        const cell = oy * outWidth + ((x / factor) | 0);
        for (let c = 0; c < channels; c++, i++) {
          const v = data[i] as number;
          const m = p * channels + c;
          if (v < (min[m] as number)) min[m] = v;
          if (v > (max[m] as number)) max[m] = v;
          total[m] = (total[m] as number) + v;
          const a = v < 0 ? -v : v;
          if (a > (maxAbs[m] as number)) maxAbs[m] = a;
          const s = m * outHeight * outWidth + cell;
          sums[s] = (sums[s] as number) + v;
        }
      }
    }
  }
  const bytes = new Uint8Array(maps * outHeight * outWidth);
  const area = height * width;
  for (let m = 0; m < maps; m++) {
    const lo = min[m] as number;
    const range = (max[m] as number) - lo;
    stats.set([lo, max[m] as number, (total[m] as number) / area, maxAbs[m] as number], m * STATS_PER_MAP);
    if (!(range > 0)) continue; // constant map: zeros
    for (let oy = 0; oy < outHeight; oy++) {
      const rows = Math.min(factor, height - oy * factor);
      for (let ox = 0; ox < outWidth; ox++) {
        const count = rows * Math.min(factor, width - ox * factor);
        const j = (m * outHeight + oy) * outWidth + ox;
        const q = Math.round((((sums[j] as number) / count - lo) / range) * 255);
        bytes[j] = q < 0 ? 0 : q > 255 ? 255 : q;
      }
    }
  }
  return { stats, bytes, outHeight, outWidth };
}
