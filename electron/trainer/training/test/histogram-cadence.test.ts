import { describe, expect, test } from 'vitest';
import { FILTERS_EVERY_NTH, HISTOGRAM_RECORDS, histogramEvery, histogramRequest, MIN_HISTOGRAM_EVERY } from '../histogram-cadence';

const taken = (total: number) => Array.from({ length: total }, (_, i) => i + 1).filter((step) => histogramRequest(step, total));

describe('histogram cadence', () => {
  test('short runs take histograms every few steps, and always on the first and last step', () => {
    expect(taken(12)).toEqual([1, 5, 10, 12]);
    expect(taken(3)).toEqual([1, 3]);
    expect(taken(1)).toEqual([1]);
    expect(histogramEvery(100)).toBe(MIN_HISTOGRAM_EVERY);
  });

  test('long runs keep about HISTOGRAM_RECORDS rows, whatever their length', () => {
    for (const total of [2_500, 10_000, 123_457]) {
      const count = taken(total).length;
      expect(count).toBeGreaterThanOrEqual(HISTOGRAM_RECORDS * 0.9);
      expect(count).toBeLessThanOrEqual(HISTOGRAM_RECORDS + 2);
    }
  });

  test("the first layer's filters go with the first, the last and every tenth histogram row", () => {
    const total = 1_000;
    const every = histogramEvery(total);
    const withFilters = taken(total).filter((step) => histogramRequest(step, total)!.filters);
    expect(withFilters).toEqual([1, ...Array.from({ length: 19 }, (_, i) => (i + 1) * every * FILTERS_EVERY_NTH).filter((s) => s < total), total]);
  });
});
