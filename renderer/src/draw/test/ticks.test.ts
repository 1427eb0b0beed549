import { describe, expect, test } from 'vitest';
import { ensureTicks, INTEGER_INCRS, multiplesWithin, smallerIncrement } from '../ticks';

describe('axis ticks', () => {
  test('a step axis ticks at whole numbers only', () => {
    expect(INTEGER_INCRS.slice(0, 7)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(INTEGER_INCRS.every((v) => Number.isInteger(v))).toBe(true);
  });

  test('increments step down the 1-2-5 ladder', () => {
    expect([1, 0.5, 0.2, 0.1, 2.5, 25, 0.05].map(smallerIncrement)).toEqual([0.5, 0.2, 0.1, 0.05, 2, 20, 0.02]);
  });

  test('multiples of an increment in a range, without float noise', () => {
    expect(multiplesWithin(0.05, 0.35, 0.1)).toEqual([0.1, 0.2, 0.3]);
    expect(multiplesWithin(1, 0, 0.1)).toEqual([]);
  });

  test('a narrow range still gets at least three ticks', () => {
    // A loss between 3.65 and 3.82 with uPlot's 0.1 increment: one tick (3.7) and 3.8... at most two.
    expect(multiplesWithin(3.65, 3.82, 0.1)).toEqual([3.7, 3.8]);
    expect(ensureTicks(3.65, 3.82, 0.1)).toEqual([3.65, 3.7, 3.75, 3.8]);
    expect(ensureTicks(3.66, 3.74, 0.1)).toEqual([3.66, 3.68, 3.7, 3.72, 3.74]);
    // Not so many that the labels collide: 32 px per 0.1 allows 0.05 (16 px), not 0.02 (6.4 px).
    expect(ensureTicks(3.66, 3.74, 0.1, 3, 32)).toEqual([3.7]);
    expect(ensureTicks(3.65, 3.82, 0.1, 3, 32)).toEqual([3.65, 3.7, 3.75, 3.8]);
    // Enough already: left as uPlot chose.
    expect(ensureTicks(0, 1, 0.5)).toEqual([0, 0.5, 1]);
    expect(ensureTicks(0, 100, 25)).toEqual([0, 25, 50, 75, 100]);
  });
});
