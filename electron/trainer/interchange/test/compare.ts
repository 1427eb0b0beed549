// How the interchange tests compare two networks' outputs: the largest absolute difference
// over the largest absolute expected value (the "relative error"), refusing outputs of
// different lengths or an all-zero reference, either of which would make any figure meaningless.
import { expect } from 'vitest';

export function relativeError(actual: ArrayLike<number> | undefined, expected: ArrayLike<number>): number {
  if (actual === undefined) throw new Error('no output to compare');
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  expect(scale, 'the reference output is all zeros').toBeGreaterThan(0);
  return diff / scale;
}
