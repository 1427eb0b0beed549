import { describe, expect, test } from 'vitest';
import { quantize } from '#protocol/frames';
import { FLAT_DARK, FLAT_LIGHT } from '../visual-constants';
import {
  byteToIndex,
  colourTable,
  cssGradient,
  displayRange,
  flatKind,
  flatMaps,
  renderFlat,
  renderMap,
  RunningRange,
  scaleFor,
  statsRange,
  type ColourTable,
} from '../heatmap';

const rgb = (table: ColourTable, i: number) => [table[i * 3], table[i * 3 + 1], table[i * 3 + 2]];
const near = (a: (number | undefined)[], b: number[], tolerance = 3) => a.every((v, i) => Math.abs((v as number) - (b[i] as number)) <= tolerance);

describe('colour tables', () => {
  test('viridis matches the published table at its ends and middle', () => {
    const t = colourTable('viridis');
    expect(t.length).toBe(768);
    expect(near(rgb(t, 0), [68, 1, 84])).toBe(true); // #440154
    expect(near(rgb(t, 128), [33, 145, 140])).toBe(true); // #21918c
    expect(near(rgb(t, 255), [253, 231, 37])).toBe(true); // #fde725
  });

  test('inferno matches the published table at its ends and middle', () => {
    const t = colourTable('inferno');
    expect(near(rgb(t, 0), [0, 0, 4])).toBe(true); // #000004
    expect(near(rgb(t, 128), [188, 55, 84], 4)).toBe(true); // #bc3754
    expect(near(rgb(t, 255), [252, 255, 164])).toBe(true); // #fcffa4
  });

  test('sequential maps grow in lightness monotonically (perceptual ordering)', () => {
    for (const name of ['viridis', 'inferno'] as const) {
      const t = colourTable(name);
      let previous = -1;
      for (let i = 0; i < 256; i += 8) {
        const [r, g, b] = rgb(t, i) as number[];
        const luma = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
        expect(luma).toBeGreaterThan(previous - 1);
        previous = luma;
      }
    }
  });

  test('the diverging map is blue below zero, near-white at zero and red above', () => {
    const t = colourTable('diverging');
    const [r0, , b0] = rgb(t, 0) as number[];
    expect(b0!).toBeGreaterThan(r0!);
    const mid = rgb(t, 128) as number[];
    expect(Math.min(...mid)).toBeGreaterThan(230);
    const [r1, , b1] = rgb(t, 255) as number[];
    expect(r1!).toBeGreaterThan(b1!);
  });

  test('a CSS gradient samples the table', () => {
    expect(cssGradient(colourTable('viridis'), 3)).toMatch(/^linear-gradient\(to right, rgb\(68, 1, 84\) 0\.0%, .* 100\.0%\)$/);
  });
});

describe('ranges', () => {
  test('statsRange spans every map of a stats block', () => {
    // two maps: [min, max, mean, maxAbs]
    expect(statsRange(new Float32Array([-1, 2, 0.5, 2, 0, 5, 1, 5]))).toEqual({ min: -1, max: 5 });
    expect(statsRange(new Float32Array([]))).toEqual({ min: 0, max: 0 });
  });

  test('diverging ranges are symmetric about zero', () => {
    expect(displayRange({ min: -1, max: 3 }, 'diverging')).toEqual({ min: -3, max: 3 });
    expect(displayRange({ min: -1, max: 3 }, 'viridis')).toEqual({ min: -1, max: 3 });
  });

  test('the running range only widens, and resets', () => {
    const r = new RunningRange();
    expect(r.empty).toBe(true);
    r.include({ min: 0, max: 1 });
    r.include({ min: -2, max: 0.5 });
    r.include({ min: NaN, max: Infinity });
    expect(r.range).toEqual({ min: -2, max: 1 });
    r.reset();
    expect(r.empty).toBe(true);
  });

  test('scaleFor picks the map, the layer or the global range', () => {
    const own = { min: 0, max: 1 };
    const layer = { min: 0, max: 4 };
    expect(scaleFor('filter', own, layer, { min: -9, max: 9 })).toBe(own);
    expect(scaleFor('layer', own, layer, { min: -9, max: 9 })).toBe(layer);
    expect(scaleFor('global', own, layer, { min: -9, max: 9 })).toEqual({ min: -9, max: 9 });
    expect(scaleFor('global', own, layer, null)).toBe(layer);
  });
});

describe('renderMap', () => {
  const viridis = colourTable('viridis');

  test("per-filter scale: a map's own min is the table's first colour and its max the last", () => {
    const map = Uint8Array.from([0, 255, 128]);
    const out = new Uint8ClampedArray(map.length * 4);
    renderMap(out, map, { min: -3, max: 7 }, { min: -3, max: 7 }, viridis);
    expect([...out.subarray(0, 4)]).toEqual([...rgb(viridis, 0), 255]);
    expect([...out.subarray(4, 8)]).toEqual([...rgb(viridis, 255), 255]);
    expect([...out.subarray(8, 12)]).toEqual([...rgb(viridis, 128), 255]);
  });

  test('layer scale: a map with a smaller range uses only part of the table (dequantised against its own range)', () => {
    // The map spans [0, 1]; the layer spans [0, 4]. Its max (byte 255 = 1.0) sits at a quarter of the table.
    const map = Uint8Array.from([0, 255]);
    const out = new Uint8ClampedArray(8);
    renderMap(out, map, { min: 0, max: 1 }, { min: 0, max: 4 }, viridis);
    expect([...out.subarray(0, 3)]).toEqual(rgb(viridis, 0));
    expect([...out.subarray(4, 7)]).toEqual(rgb(viridis, 64));
  });

  test('round trip: values quantised by the trainer land where their value says', () => {
    const own = { min: -2, max: 6 };
    const values = [-2, 0, 2, 6];
    const map = Uint8Array.from(values.map((x) => quantize(x, own.min, own.max)));
    const index = byteToIndex(own, { min: -2, max: 6 }, false);
    expect(values.map((_, i) => index[map[i]!])).toEqual([0, 64, 128, 255]);
  });

  test('global scale clamps values outside it', () => {
    const index = byteToIndex({ min: -10, max: 10 }, { min: 0, max: 1 }, false);
    expect(index[0]).toBe(0);
    expect(index[255]).toBe(255);
  });

  test('diverging: zero sits at the centre of a symmetric range', () => {
    const own = { min: -1, max: 3 };
    const scale = displayRange(own, 'diverging');
    const zero = quantize(0, own.min, own.max);
    const index = byteToIndex(own, scale, true);
    expect(Math.abs(index[zero]! - 128)).toBeLessThanOrEqual(2);
  });

  test('a constant map (a dead ReLU filter) is drawn at the low end, or the centre when diverging', () => {
    const map = new Uint8Array(4); // quantised against min == max: all zeros
    const out = new Uint8ClampedArray(16);
    renderMap(out, map, { min: 0, max: 0 }, { min: 0, max: 0 }, viridis);
    for (let i = 0; i < 4; i++) expect([...out.subarray(i * 4, i * 4 + 4)]).toEqual([...rgb(viridis, 0), 255]);
    expect(byteToIndex({ min: 0, max: 0 }, { min: 0, max: 0 }, true)[0]).toBe(128);
  });

  test('refuses an output too small for the map', () => {
    expect(() => renderMap(new Uint8ClampedArray(3), new Uint8Array(1), { min: 0, max: 1 }, { min: 0, max: 1 }, viridis)).toThrow(RangeError);
  });
});

describe('flat maps', () => {
  test('a map with one value everywhere is flat; a 1x1 map only when it is exactly 0', () => {
    expect(flatKind({ min: 0, max: 0 }, 16)).toBe('flat');
    expect(flatKind({ min: 0.7, max: 0.7 }, 16)).toBe('flat');
    expect(flatKind({ min: 0, max: 0.1 }, 16)).toBeNull();
    expect(flatKind({ min: 0, max: 0 }, 1)).toBe('zero');
    expect(flatKind({ min: 0.3, max: 0.3 }, 1)).toBeNull();
  });

  test('flatMaps reads one probe of a stats block', () => {
    // 2 probes x 3 channels x [min, max, mean, maxAbs]
    const stats = new Float32Array([0, 1, 0, 1, 0, 0, 0, 0, 2, 2, 2, 2, /* probe 1 */ 0, 0, 0, 0, 0, 1, 0, 1, 1, 3, 2, 3]);
    expect([...flatMaps(stats, 0, 3, 4)]).toEqual([
      [1, 'flat'],
      [2, 'flat'],
    ]);
    expect([...flatMaps(stats, 1, 3, 4)]).toEqual([[0, 'flat']]);
    expect([...flatMaps(stats, 0, 3, 1)]).toEqual([[1, 'zero']]);
  });

  test('the flat hatch is diagonal stripes of two greys, opaque, never the colour of a value', () => {
    const out = new Uint8ClampedArray(4 * 4 * 4);
    renderFlat(out, 4, 4);
    const px = (x: number, y: number) => [...out.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4)];
    expect(px(0, 0)).toEqual([...FLAT_LIGHT, 255]);
    expect(px(1, 0)).toEqual([...FLAT_LIGHT, 255]);
    expect(px(2, 0)).toEqual([...FLAT_DARK, 255]);
    expect(px(1, 1)).toEqual([...FLAT_DARK, 255]);
    expect(px(3, 1)).toEqual([...FLAT_LIGHT, 255]);
    // Greys: no colour table holds them (their channels are equal; viridis, inferno and the diverging map's are not, except its near-white centre).
    for (const name of ['viridis', 'inferno'] as const) {
      const t = colourTable(name);
      for (let i = 0; i < 256; i++) expect(rgb(t, i)).not.toEqual([...FLAT_LIGHT]);
    }
    expect(() => renderFlat(new Uint8ClampedArray(4), 2, 2)).toThrow(RangeError);
  });
});
