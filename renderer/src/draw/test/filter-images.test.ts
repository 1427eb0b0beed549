import { describe, expect, test } from 'vitest';
import { filterColour, filterGridLayout, filterLegend, filterMode, filterScale, filterTileOrigin, filterWeight, paintFilterGrid, weightByte } from '../filter-images';
import { firstFilters } from '../../test-support/histograms';

/** RGB of pixel (x, y) of an RGBA buffer `width` wide. */
const pixel = (pixels: Uint8ClampedArray, width: number, x: number, y: number) => [...pixels.subarray((y * width + x) * 4, (y * width + x) * 4 + 3)];

describe('first-layer filters as images', () => {
  test("reads tfjs' [height, width, inChannels, count] layout", () => {
    const f = firstFilters({ height: 2, width: 3, inChannels: 2, count: 5 });
    expect(filterWeight(f, 4, 1, 0, 1)).toBeCloseTo(5 * 0.01 * 1 * 2);
    expect(f.values[((1 * 3 + 0) * 2 + 1) * 5 + 4]).toBe(filterWeight(f, 4, 1, 0, 1));
  });

  test('one symmetric scale for all filters: 0 is mid-grey, -s black, +s white', () => {
    // Filter f at (y, x) is (f + 1) * 0.01 * (y - x): the largest |weight| is filter 3's at (0, 2) or (2, 0), 0.08.
    const f = firstFilters({ count: 4 });
    expect(filterScale(f)).toBeCloseTo(0.08);
    expect(weightByte(0, 0.08)).toBe(128);
    expect(weightByte(-0.08, 0.08)).toBe(0);
    expect(weightByte(0.08, 0.08)).toBe(255);
    expect(weightByte(0.04, 0.08)).toBe(191);
    expect(weightByte(1, 0)).toBe(128); // all-zero filters: all mid-grey
    // Filter 0 at (1, 0) is 0.01: 127.5 + 127.5 / 8 = 143.4 -> 143, grey.
    expect(filterColour(f, 0, 1, 0, filterScale(f))).toEqual([143, 143, 143]);
  });

  test('painted scaled up with nearest neighbour: every pixel of a weight the same grey', () => {
    const f = firstFilters({ count: 4 });
    const layout = filterGridLayout(f, { minTile: 24 });
    expect(layout).toMatchObject({ zoom: 8, tileWidth: 24, tileHeight: 24, columns: 4, rows: 1, gap: 2, width: 4 * 26 + 2, height: 28 });
    const pixels = paintFilterGrid(f, layout);
    // Filter 3's weight at (y 2, x 0) is +0.08, the scale's top: white over its whole 8x8 square.
    const origin = filterTileOrigin(layout, 3);
    expect(origin).toEqual({ x: 2 + 3 * 26, y: 2 });
    for (const [dx, dy] of [[0, 0], [7, 7], [3, 5]] as const) expect(pixel(pixels, layout.width, origin.x + dx, origin.y + 2 * 8 + dy)).toEqual([255, 255, 255]);
    // Its (0, 2) is -0.08: black; the diagonal is 0: mid-grey.
    expect(pixel(pixels, layout.width, origin.x + 2 * 8 + 4, origin.y + 4)).toEqual([0, 0, 0]);
    expect(pixel(pixels, layout.width, origin.x + 8 + 4, origin.y + 8 + 4)).toEqual([128, 128, 128]);
    // Gaps are white, fully opaque.
    expect([...pixels.subarray(0, 4)]).toEqual([255, 255, 255, 255]);
  });

  test('three input channels are RGB, each on the shared scale; other counts the mean', () => {
    expect([1, 3, 2, 4].map(filterMode)).toEqual(['grey', 'rgb', 'mean', 'mean']);
    const rgb = firstFilters({ inChannels: 3, count: 1, height: 1, width: 1, weight: (_f, _y, _x, c) => [0.5, 0, -0.5][c]! });
    expect(filterScale(rgb)).toBe(0.5);
    expect(filterColour(rgb, 0, 0, 0, 0.5)).toEqual([255, 128, 0]);
    const two = firstFilters({ inChannels: 2, count: 2, height: 1, width: 1, weight: (f, _y, _x, c) => (f === 0 ? [0.2, 0.4][c]! : -0.1) });
    // Means: 0.3 and -0.1; the scale is the largest mean, 0.3.
    expect(filterScale(two)).toBeCloseTo(0.3);
    expect(filterColour(two, 0, 0, 0, filterScale(two))).toEqual([255, 255, 255]);
    expect(filterColour(two, 1, 0, 0, filterScale(two))).toEqual([85, 85, 85]);
  });

  test("the legend gives the scale's value and what mid-grey means", () => {
    expect(filterLegend(firstFilters({ count: 4 }))).toBe('Mid-grey = 0, black −0.08, white +0.08; one scale for all 4 filters (±0.08, the largest |weight|).');
    expect(filterLegend(firstFilters({ inChannels: 3, count: 2 }))).toMatch(/^Each of R, G, B is one input channel's weight: mid = 0/);
    expect(filterLegend(firstFilters({ inChannels: 2, count: 2 }))).toMatch(/^The mean over the 2 input channels: mid-grey = 0/);
    expect(filterLegend(firstFilters({ weight: () => 0 }))).toContain('every weight is 0');
  });

  test('large counts wrap into rows of at most 16', () => {
    expect(filterGridLayout({ height: 5, width: 5, count: 40 })).toMatchObject({ zoom: 5, columns: 16, rows: 3 });
  });
});
