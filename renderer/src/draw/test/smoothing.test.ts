import { describe, expect, it } from 'vitest';
import { clampSmoothing, smoothSeries } from '../smoothing';

describe('smoothing (TensorBoard EMA with debiasing)', () => {
  it('weight 0 is the raw series', () => {
    expect(smoothSeries([3, 1, null, 2], 0)).toEqual([3, 1, null, 2]);
  });

  it('debiases: the first point is the first value, not pulled towards zero', () => {
    const s = smoothSeries([4, 2], 0.5);
    expect(s[0]).toBeCloseTo(4);
    // last = 0.5·(0.5·4) + 0.5·2 = 2, debias 1 − 0.25 = 0.75
    expect(s[1]).toBeCloseTo(2 / 0.75);
  });

  it('a constant series stays constant at any weight', () => {
    for (const v of smoothSeries([5, 5, 5, 5, 5], 0.9)) expect(v).toBeCloseTo(5);
  });

  it('keeps gaps as gaps and does not count them', () => {
    const s = smoothSeries([1, null, 3, Number.NaN], 0.6);
    expect(s[1]).toBeNull();
    expect(s[3]).toBeNull();
    expect(s[2]).toBeCloseTo(smoothSeries([1, 3], 0.6)[1] as number);
  });

  it('clamps the weight to 0..0.99', () => {
    expect(clampSmoothing(1)).toBe(0.99);
    expect(clampSmoothing(-2)).toBe(0);
    expect(clampSmoothing(Number.NaN)).toBe(0);
  });
});
