import { describe, expect, it } from 'vitest';
import {
  FRAME_PREFIX_BYTES,
  decodeFrame,
  dequantize,
  encodeFrame,
  frameChannel,
  quantize,
  readFrameHeader,
  type FrameHeader,
} from '../frames';

function header(overrides: Partial<FrameHeader> = {}): FrameHeader {
  return {
    channel: 'frame:conv1.act',
    kind: 'activation',
    layer: 'conv1.act',
    step: 42,
    probes: [0, 10, 20],
    channels: 2,
    height: 3,
    width: 4,
    trueHeight: 6,
    trueWidth: 8,
    filterOffset: 0,
    capturedAt: 1_700_000_000_123,
    ...overrides,
  };
}

/** Stats and maps whose values say where they belong: map (p, c) pixel i is p*100 + c*20 + i. */
function sample(h: FrameHeader): { stats: Float32Array; maps: Uint8Array } {
  const count = h.probes.length * h.channels;
  const area = h.height * h.width;
  const stats = new Float32Array(count * 4);
  const maps = new Uint8Array(count * area);
  for (let p = 0; p < h.probes.length; p++) {
    for (let c = 0; c < h.channels; c++) {
      const m = p * h.channels + c;
      stats.set([-p - c * 0.5, p + c + 1.25, 0.1 * m, p + c + 1.25], m * 4);
      for (let i = 0; i < area; i++) maps[m * area + i] = (p * 100 + c * 20 + i) % 256;
    }
  }
  return { stats, maps };
}

describe('encodeFrame / decodeFrame', () => {
  it('round-trips header, stats and maps, and indexes maps by probe and channel', () => {
    const h = header();
    const { stats, maps } = sample(h);
    const buffer = encodeFrame(h, stats, maps);
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    const frame = decodeFrame(buffer);
    expect(frame.header).toEqual(h);
    expect([...frame.stats]).toEqual([...stats]);
    expect([...frame.maps]).toEqual([...maps]);
    expect([...frame.map(2, 1)]).toEqual(Array.from({ length: 12 }, (_, i) => 200 + 20 + i));
    expect([...frame.map(0, 0)]).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(frame.statsOf(1, 1)).toEqual({ min: -1.5, max: 3.25, mean: Math.fround(0.3), maxAbs: 3.25 });
    expect(() => frame.map(3, 0)).toThrow(/probe 3 is not in this frame/);
    expect(() => frame.statsOf(0, 2)).toThrow(/channel 2 is not in this frame/);
  });

  it('aligns the stats block to 4 bytes whatever the header length', () => {
    for (let extra = 0; extra < 4; extra++) {
      const h = header({ layer: 'conv1.act' + 'x'.repeat(extra) });
      const { stats, maps } = sample(h);
      const buffer = encodeFrame(h, stats, maps);
      const headerBytes = new DataView(buffer).getUint32(8, true);
      const statsOffset = Math.ceil((FRAME_PREFIX_BYTES + headerBytes) / 4) * 4;
      expect(buffer.byteLength).toBe(statsOffset + stats.byteLength + maps.length);
      // Padding is zero and the prefix is what the layout says.
      expect([...new Uint8Array(buffer, FRAME_PREFIX_BYTES + headerBytes, statsOffset - FRAME_PREFIX_BYTES - headerBytes)].every((b) => b === 0)).toBe(true);
      expect(new TextDecoder().decode(new Uint8Array(buffer, 0, 4))).toBe('FCLF');
      expect(new DataView(buffer).getUint16(4, true)).toBe(1);
      expect(new DataView(buffer).getUint16(6, true)).toBe(0);
      expect(new DataView(buffer).getFloat32(statsOffset + 4, true)).toBe(stats[1]);
      expect(decodeFrame(buffer).header.layer).toBe(h.layer);
    }
  });

  it('carries a full-resolution single filter and non-ASCII names', () => {
    const h = header({ channel: 'full', layer: 'blöck2.act', probes: [7], channels: 1, height: 64, width: 64, trueHeight: 64, trueWidth: 64, filterOffset: 37 });
    const { stats, maps } = sample(h);
    const frame = decodeFrame(encodeFrame(h, stats, maps));
    expect(frame.header).toMatchObject({ channel: 'full', layer: 'blöck2.act', filterOffset: 37 });
    expect(frame.map(0, 0).length).toBe(64 * 64);
  });

  it('decodes a Node Buffer slice of a larger buffer at any byte offset', () => {
    const h = header();
    const { stats, maps } = sample(h);
    const encoded = new Uint8Array(encodeFrame(h, stats, maps));
    for (const offset of [1, 2, 3, 4, 13]) {
      const pool = Buffer.alloc(encoded.length + offset + 9, 0xee);
      pool.set(encoded, offset);
      const slice = pool.subarray(offset, offset + encoded.length);
      expect(slice.byteOffset).toBeGreaterThanOrEqual(offset);
      const frame = decodeFrame(slice);
      expect(frame.header).toEqual(h);
      expect([...frame.stats]).toEqual([...stats]);
      expect([...frame.map(1, 0)]).toEqual([...maps.subarray(24, 36)]);
    }
    // A DataView works too.
    const view = new DataView(encoded.buffer, 0, encoded.length);
    expect(decodeFrame(view).header.step).toBe(42);
  });

  it('encodes an empty frame (no probes)', () => {
    const h = header({ probes: [] });
    const frame = decodeFrame(encodeFrame(h, new Float32Array(0), new Uint8Array(0)));
    expect(frame.stats.length).toBe(0);
    expect(frame.maps.length).toBe(0);
  });
});

describe('bad frames are refused with a clear error', () => {
  const h = header();
  const { stats, maps } = sample(h);
  const good = () => new Uint8Array(encodeFrame(h, stats, maps));

  it('refuses arrays that do not match the header on encode', () => {
    expect(() => encodeFrame(h, new Float32Array(3), maps)).toThrow(/frame stats: expected 24 floats .*got 3/);
    expect(() => encodeFrame(h, stats, new Uint8Array(5))).toThrow(/frame maps: expected 72 bytes .*got 5/);
    expect(() => encodeFrame({ ...h, channels: -1 }, stats, maps)).toThrow(/frame header: channels/);
  });

  it('refuses wrong magic, version and truncated or padded buffers on decode', () => {
    const wrongMagic = good();
    wrongMagic[0] = 'X'.charCodeAt(0);
    expect(() => decodeFrame(wrongMagic)).toThrow(/not an activation frame: magic "XCLF"/);

    const wrongVersion = good();
    new DataView(wrongVersion.buffer).setUint16(4, 9, true);
    expect(() => decodeFrame(wrongVersion)).toThrow(/format 9 is not supported/);

    expect(() => decodeFrame(new ArrayBuffer(5))).toThrow(/truncated: 5 bytes/);
    const full = good();
    expect(() => decodeFrame(full.subarray(0, 40))).toThrow(/truncated: header of \d+ bytes/);
    expect(() => decodeFrame(full.subarray(0, full.length - 1))).toThrow(/frame truncated: \d+ bytes, its header describes \d+/);
    const longer = new Uint8Array(full.length + 4);
    longer.set(full);
    expect(() => decodeFrame(longer)).toThrow(/trailing bytes/);
  });

  it('refuses a header that is not JSON or not a frame header', () => {
    const notJson = good();
    notJson[FRAME_PREFIX_BYTES] = '!'.charCodeAt(0);
    expect(() => decodeFrame(notJson)).toThrow(/frame header is not UTF-8 JSON/);

    const json = new TextEncoder().encode(JSON.stringify({ ...h, kind: 'gradient' }));
    const bytes = new Uint8Array(FRAME_PREFIX_BYTES + json.length);
    bytes.set(new TextEncoder().encode('FCLF'));
    new DataView(bytes.buffer).setUint16(4, 1, true);
    new DataView(bytes.buffer).setUint32(8, json.length, true);
    bytes.set(json, FRAME_PREFIX_BYTES);
    expect(() => decodeFrame(bytes)).toThrow(/frame header: kind/);
    expect(() => decodeFrame('FCLF' as unknown as ArrayBuffer)).toThrow(/must be an ArrayBuffer/);
  });

  it('still reads the header of a frame whose body is cut short', () => {
    expect(readFrameHeader(good().subarray(0, good().length - 10)).header.channel).toBe('frame:conv1.act');
  });
});

describe('quantisation helpers', () => {
  it('maps bytes back onto [min, max]', () => {
    expect(dequantize(0, -2, 6)).toBe(-2);
    expect(dequantize(255, -2, 6)).toBe(6);
    expect(dequantize(51, 0, 5)).toBeCloseTo(1);
    // A constant map is all zeros, which dequantises to its value.
    expect(quantize(3, 3, 3)).toBe(0);
    expect(dequantize(0, 3, 3)).toBe(3);
  });

  it('quantize and dequantize agree within half a step', () => {
    const [min, max] = [-1.3, 4.2];
    for (let x = min; x <= max; x += 0.037) {
      expect(Math.abs(dequantize(quantize(x, min, max), min, max) - x)).toBeLessThanOrEqual((max - min) / 255 / 2 + 1e-12);
    }
    expect(quantize(99, 0, 1)).toBe(255);
    expect(quantize(-99, 0, 1)).toBe(0);
  });

  it('names channels by layer and kind', () => {
    expect(frameChannel('conv1.act', 'activation')).toBe('frame:conv1.act');
    expect(frameChannel('conv1.act', 'preactivation')).toBe('frame:conv1.act:pre');
  });
});
