import { describe, expect, it } from 'vitest';
import { histogramData, rocData } from '../eval-charts';
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
});
