import { describe, expect, it } from 'vitest';
import { histogramData, occupiedBins, rocData, tarResolution } from '../eval-charts';
import { evaluation, RELU_ID } from '../../runs/test/fixtures';

describe('evaluation charts', () => {
  it('plots TAR against FAR with the chance line, or against log10 FAR without FAR 0', () => {
    const { roc } = evaluation(RELU_ID);
    const linear = rocData(roc, false);
    expect(linear.x).toEqual(roc.far);
    expect(linear.series[0]?.values).toEqual(roc.tar);
    expect(linear.series[1]?.values).toEqual(roc.far);
    const log = rocData(roc, true);
    expect(log.x[0]).toBeCloseTo(-3, 12);
    expect(log.x).toHaveLength(roc.far.length - 1);
    expect(log.series[1]?.values[0]).toBeCloseTo(0.001, 12);
    expect(log.xLabel).toMatch(/log/);
  });

  it('turns counts into fractions of each kind of pair', () => {
    const data = histogramData({ edges: [0, 0.5, 1], matched: [1, 3], mismatched: [0, 0] }, ['#000000', '#ffffff']);
    expect(data.series[0]?.values).toEqual([0.25, 0.75]);
    expect(data.series[1]?.values).toEqual([0, 0]);
    expect(data.series[0]?.label).toBe('matched (same person, 4 pairs)');
  });

  it('trims the empty bins at both ends, keeping one empty bin either side', () => {
    const edges = Array.from({ length: 21 }, (_, i) => -1 + i * 0.1); // 20 bins over -1..1
    const matched = new Array(20).fill(0);
    const mismatched = new Array(20).fill(0);
    matched[18] = 5; // 0.8..0.9
    matched[19] = 15; // 0.9..1
    mismatched[17] = 4; // 0.7..0.8
    const data = histogramData({ edges, matched, mismatched }, ['#000000', '#ffffff']);
    expect(data.edges[0]).toBeCloseTo(0.6, 9); // one empty bin (0.6..0.7) before the first score
    expect(data.edges.at(-1)).toBeCloseTo(1, 9); // nothing to keep past the last bin
    expect(data.series[0]?.values).toEqual([0, 0, 0.25, 0.75]);
    expect(data.series[1]?.values).toEqual([0, 1, 0, 0]);
    expect(data.series[0]?.label).toBe('matched (same person, 20 pairs)');
    expect(occupiedBins([[0, 0, 1, 0, 0, 0]], 6)).toEqual({ from: 1, to: 4 });
    expect(occupiedBins([[0, 0, 0]], 3)).toEqual({ from: 0, to: 3 }); // no scores: every bin
  });

  it('reads a TAR @ FAR only where the mismatched pairs allow at least one false accept', () => {
    expect(tarResolution(770, 0.001)).toMatchObject({ resolvable: false, neededPairs: 1000 });
    expect(tarResolution(770, 0.001).note).toMatch(/^needs at least 1,000 mismatched pairs/);
    expect(tarResolution(1000, 0.001)).toMatchObject({ resolvable: true, rough: true, falseAccepts: 1 });
    expect(tarResolution(770, 0.01)).toMatchObject({ resolvable: true, rough: true });
    expect(tarResolution(1000, 0.01)).toMatchObject({ resolvable: true, rough: false, note: '' });
    expect(tarResolution(0, 0.01).resolvable).toBe(false);
  });
});
