// issue 14, 2.7: chart legends show the latest values off the plot, series stay distinct for
// as many layers as LightCNN-29 has, and a log axis gets a few decades, not 20 grid lines.
import { describe, expect, test } from 'vitest';
import { seriesStyle } from '../align';
import { SERIES_COLOURS } from '../visual-constants';
import { lastIndexWithValue, legendText } from '../legend';
import { logTicks } from '../ticks';

const fmt = (v: number) => v.toFixed(1);

describe('legendText', () => {
  test('off the plot (no cursor index) it is the latest value, not "--"', () => {
    expect(legendText([1, 2, null, 4, null], null, fmt)).toBe('4.0');
    expect(legendText([1, 2, null, 4, null], undefined, fmt)).toBe('4.0');
    expect(lastIndexWithValue([null, 3, NaN])).toBe(1);
  });
  test('under the cursor it is that point, with its note (the count behind a percentage)', () => {
    expect(legendText([10, 25], 1, fmt, ['1 of 10', '4 of 16 filters'])).toBe('25.0 (4 of 16 filters)');
    expect(legendText([10, null], 1, fmt)).toBe('—');
    expect(legendText([], null, fmt)).toBe('—');
    expect(legendText([50], null, fmt, ['1 of 2'])).toBe('50.0 (1 of 2)');
  });
});

describe('seriesStyle', () => {
  test('30 layers (LightCNN-29) get 30 distinct colour and line-pattern pairs', () => {
    const styles = Array.from({ length: 30 }, (_, i) => seriesStyle(i));
    const keys = new Set(styles.map((s) => `${s.colour}|${s.dash?.join(',') ?? 'solid'}`));
    expect(keys.size).toBe(30);
    // The first pass is solid in the palette's colours; the next changes the pattern, not just repeats.
    expect(styles.slice(0, SERIES_COLOURS.length).every((s) => s.dash === null)).toBe(true);
    expect(styles[SERIES_COLOURS.length]!.colour).toBe(styles[0]!.colour);
    expect(styles[SERIES_COLOURS.length]!.dash).not.toBeNull();
    // No two series of the same colour share a pattern (the "three yellows" of the dead-filter chart).
    const yellows = styles.filter((s) => s.colour === '#F0E442');
    expect(new Set(yellows.map((s) => String(s.dash))).size).toBe(yellows.length);
  });
});

describe('logTicks', () => {
  test('two decades of learning rate get three grid lines, not twenty', () => {
    expect(logTicks(0.0001, 0.01)).toEqual([0.0001, 0.001, 0.01]);
    expect(logTicks(0.00005, 0.02)).toEqual([0.0001, 0.001, 0.01]);
  });
  test('many decades are thinned; less than a decade gets 1-2-5 values', () => {
    expect(logTicks(1e-12, 1).length).toBeLessThanOrEqual(8);
    expect(logTicks(0.0015, 0.006)).toEqual([0.002, 0.005]);
    expect(logTicks(0.003, 0.004)).toEqual([0.003, 0.004]);
    expect(logTicks(0, 1)).toEqual([]);
  });
});
