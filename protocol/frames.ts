// One binary activation frame: the maps of one layer (or one full-resolution
// filter) for the probe faces at one step, in one ArrayBuffer so it can be
// transferred over a MessagePort or sent as one binary WebSocket message.
//
// Layout (little-endian throughout):
//   0   4 bytes  ASCII magic "FCLF"
//   4   u16      format version (FRAME_VERSION)
//   6   u16      reserved, 0
//   8   u32      header byte length H
//   12  H bytes  UTF-8 JSON header (FrameHeader)
//       zero padding to a multiple of 4, so the floats below are aligned
//       f32      stats: for each probe p, each channel c: [min, max, mean, maxAbs]
//       u8       maps: probe-major, then channel, then row-major height*width
//
// Each map is quantised against its own min and max,
// byte = round((x - min) / (max - min) * 255), so the viewer can choose per-filter,
// per-layer or global colour scaling from the stats; a constant map (max == min)
// is all zeros. No node imports: the renderer decodes these.
import { z } from 'zod';

export const FRAME_MAGIC = 'FCLF';
export const FRAME_VERSION = 1;
/** Bytes before the JSON header. */
export const FRAME_PREFIX_BYTES = 12;
/** Floats per (probe, channel) in the stats block: min, max, mean, maxAbs. */
export const STATS_PER_MAP = 4;

const int = () => z.number().int().min(0);

// Not strict: a newer trainer may add header fields an older viewer ignores.
export const frameHeaderSchema = z.object({
  /** Flow-control channel, e.g. 'frame:conv1.act', 'frame:conv1.act:pre' or 'full:conv1.act:activation:3:0' (one filter at full size: layer, kind, filter, probe). */
  channel: z.string().min(1),
  kind: z.enum(['activation', 'preactivation']),
  layer: z.string().min(1),
  step: int(),
  /** Dataset image indices of the probes, in the order of the maps. */
  probes: z.array(int()),
  channels: int(),
  /** Transported size (maps may be downsampled). */
  height: int(),
  width: int(),
  /** Size before downsampling. */
  trueHeight: int(),
  trueWidth: int(),
  /** Index of the frame's first channel in the layer: 0, or the filter of a full-resolution frame. */
  filterOffset: int(),
  /** When the probes were run (ms since the epoch). */
  capturedAt: z.number(),
});
export type FrameHeader = z.infer<typeof frameHeaderSchema>;

export interface MapStats {
  min: number;
  max: number;
  mean: number;
  maxAbs: number;
}

export interface DecodedFrame {
  header: FrameHeader;
  /** probes * channels * 4 floats: [min, max, mean, maxAbs] per map. */
  stats: Float32Array;
  /** probes * channels * height * width bytes. */
  maps: Uint8Array;
  /** The map of one channel for one probe; `probe` is a position in header.probes, not a dataset index. */
  map(probe: number, channel: number): Uint8Array;
  statsOf(probe: number, channel: number): MapStats;
}

/** The channel name for a layer's subscribed maps. */
export function frameChannel(layer: string, kind: FrameHeader['kind']): string {
  return kind === 'activation' ? `frame:${layer}` : `frame:${layer}:pre`;
}

/** The stored value a quantised byte stands for (see the layout note above). */
export function dequantize(value: number, min: number, max: number): number {
  return min + (value / 255) * (max - min);
}

/** The byte for x in a map whose range is [min, max]; 0 for a constant map. */
export function quantize(x: number, min: number, max: number): number {
  if (!(max > min)) return 0;
  return Math.min(255, Math.max(0, Math.round(((x - min) / (max - min)) * 255)));
}

// Typed-array views use the platform's byte order; the format is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function counts(header: FrameHeader): { maps: number; statsFloats: number; mapBytes: number } {
  const maps = header.probes.length * header.channels;
  return { maps, statsFloats: maps * STATS_PER_MAP, mapBytes: maps * header.height * header.width };
}

const align4 = (n: number) => (n + 3) & ~3;

/** Packs one frame; throws if the header is malformed or the arrays do not match its sizes. */
export function encodeFrame(header: FrameHeader, stats: Float32Array, maps: Uint8Array): ArrayBuffer {
  const checked = frameHeaderSchema.safeParse(header);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(`frame header: ${issue?.path.join('.') || 'header'}: ${issue?.message}`);
  }
  const { statsFloats, mapBytes } = counts(header);
  const shape = `${header.probes.length} probes x ${header.channels} channels`;
  if (stats.length !== statsFloats) {
    throw new Error(`frame stats: expected ${statsFloats} floats (${shape} x ${STATS_PER_MAP}), got ${stats.length}`);
  }
  if (maps.length !== mapBytes) {
    throw new Error(`frame maps: expected ${mapBytes} bytes (${shape} x ${header.height}x${header.width}), got ${maps.length}`);
  }
  const json = encoder.encode(JSON.stringify(header));
  const statsOffset = align4(FRAME_PREFIX_BYTES + json.length);
  const mapsOffset = statsOffset + statsFloats * 4;
  const buffer = new ArrayBuffer(mapsOffset + mapBytes);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  for (let i = 0; i < 4; i++) bytes[i] = FRAME_MAGIC.charCodeAt(i);
  view.setUint16(4, FRAME_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, FRAME_PREFIX_BYTES);
  if (LITTLE_ENDIAN) new Float32Array(buffer, statsOffset, statsFloats).set(stats);
  else for (let i = 0; i < statsFloats; i++) view.setFloat32(statsOffset + i * 4, stats[i]!, true);
  bytes.set(maps, mapsOffset);
  return buffer;
}

function asBytes(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  // Not instanceof: an ArrayBuffer from another realm (worker, iframe) fails that test.
  if (Object.prototype.toString.call(buffer) === '[object ArrayBuffer]') return new Uint8Array(buffer);
  throw new Error(`a frame must be an ArrayBuffer or a view of one, got ${Object.prototype.toString.call(buffer)}`);
}

/**
 * Reads the prefix and JSON header only: enough to learn a frame's channel
 * (e.g. to acknowledge it) when the rest cannot be decoded.
 */
export function readFrameHeader(buffer: ArrayBuffer | ArrayBufferView): { header: FrameHeader; statsOffset: number } {
  const bytes = asBytes(buffer);
  if (bytes.length < FRAME_PREFIX_BYTES) throw new Error(`frame truncated: ${bytes.length} bytes, the prefix alone is ${FRAME_PREFIX_BYTES}`);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== FRAME_MAGIC) throw new Error(`not an activation frame: magic ${JSON.stringify(magic)}, expected "${FRAME_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== FRAME_VERSION) throw new Error(`activation frame format ${version} is not supported (this build reads ${FRAME_VERSION})`);
  const headerBytes = view.getUint32(8, true);
  if (FRAME_PREFIX_BYTES + headerBytes > bytes.length) {
    throw new Error(`frame truncated: header of ${headerBytes} bytes, only ${bytes.length - FRAME_PREFIX_BYTES} follow the prefix`);
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + headerBytes)));
  } catch (error) {
    throw new Error(`frame header is not UTF-8 JSON: ${(error as Error).message}`);
  }
  const parsed = frameHeaderSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`frame header: ${issue?.path.join('.') || 'header'}: ${issue?.message}`);
  }
  return { header: parsed.data, statsOffset: align4(FRAME_PREFIX_BYTES + headerBytes) };
}

/**
 * Unpacks one frame. Accepts a view with any byteOffset (Node Buffers from ws
 * are slices of a pooled ArrayBuffer); maps are views into it, stats are
 * views too unless the floats are unaligned there, in which case they are copied.
 */
export function decodeFrame(buffer: ArrayBuffer | ArrayBufferView): DecodedFrame {
  const bytes = asBytes(buffer);
  const { header, statsOffset } = readFrameHeader(bytes);
  const { statsFloats, mapBytes } = counts(header);
  const mapsOffset = statsOffset + statsFloats * 4;
  const expected = mapsOffset + mapBytes;
  if (bytes.length !== expected) {
    const why = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new Error(`frame ${why}: ${bytes.length} bytes, its header describes ${expected}`);
  }
  let stats: Float32Array;
  const absolute = bytes.byteOffset + statsOffset;
  if (LITTLE_ENDIAN && absolute % 4 === 0) {
    stats = new Float32Array(bytes.buffer, absolute, statsFloats);
  } else {
    stats = new Float32Array(statsFloats);
    const view = new DataView(bytes.buffer, absolute, statsFloats * 4);
    for (let i = 0; i < statsFloats; i++) stats[i] = view.getFloat32(i * 4, true);
  }
  const maps = bytes.subarray(mapsOffset, expected);
  const area = header.height * header.width;
  const index = (probe: number, channel: number): number => {
    if (!Number.isInteger(probe) || probe < 0 || probe >= header.probes.length) {
      throw new RangeError(`probe ${probe} is not in this frame (it has ${header.probes.length})`);
    }
    if (!Number.isInteger(channel) || channel < 0 || channel >= header.channels) {
      throw new RangeError(`channel ${channel} is not in this frame (it has ${header.channels})`);
    }
    return probe * header.channels + channel;
  };
  return {
    header,
    stats,
    maps,
    map: (probe, channel) => {
      const start = index(probe, channel) * area;
      return maps.subarray(start, start + area);
    },
    statsOf: (probe, channel) => {
      const at = index(probe, channel) * STATS_PER_MAP;
      return { min: stats[at]!, max: stats[at + 1]!, mean: stats[at + 2]!, maxAbs: stats[at + 3]! };
    },
  };
}
