import { describe, expect, test } from 'vitest';
import { describeReferences, drawableReferences, referenceSeries, referenceValues } from '../reference-lines';

describe('reference lines', () => {
  const chance = { label: 'chance (ln 40 = 3.69)', value: Math.log(40) };

  test('are the same value at every x', () => {
    expect(referenceValues(chance, 3)).toEqual([Math.log(40), Math.log(40), Math.log(40)]);
    expect(referenceValues(chance, 0)).toEqual([]);
  });

  test('are drawn thin, dashed, without points, in the colour given, and named in the legend', () => {
    expect(referenceSeries(chance, '#888')).toEqual({ label: 'chance (ln 40 = 3.69)', stroke: '#888', width: 1, dash: [3, 5], points: { show: false }, spanGaps: true });
  });

  test('leave out what cannot be drawn: a value that is not finite, or not positive on a log axis', () => {
    const zero = { label: 'zero', value: 0 };
    const nan = { label: 'nan', value: Number.NaN };
    expect(drawableReferences([chance, zero, nan], false)).toEqual([chance, zero]);
    expect(drawableReferences([chance, zero, nan], true)).toEqual([chance]);
  });

  test('are said in the chart text', () => {
    expect(describeReferences([])).toBe('');
    expect(describeReferences([chance, { label: 'other', value: 1 }])).toBe('; reference: chance (ln 40 = 3.69), other');
  });
});
