// Test helpers shared by the pairs and splits tests: a DatasetLayout built from
// per-identity image counts, and an expectation for user-facing errors.
import { expect } from 'vitest';
import { DatasetError } from '../errors';
import type { DatasetLayout } from '../splits';

/** Identities (named s1..sN unless names are given) with the given image counts; images dealt round-robin when interleaved. */
export function layoutOf(counts: readonly number[], options: { interleaved?: boolean; names?: string[] } = {}): DatasetLayout {
  const identities = options.names ?? counts.map((_, i) => `s${i + 1}`);
  const imageIdentity: number[] = [];
  if (options.interleaved === true) {
    const left = [...counts];
    while (left.some((n) => n > 0)) {
      left.forEach((n, id) => {
        if (n > 0) {
          imageIdentity.push(id);
          left[id] = n - 1;
        }
      });
    }
  } else {
    counts.forEach((n, id) => {
      for (let k = 0; k < n; k++) imageIdentity.push(id);
    });
  }
  return { identities, imageIdentity: Int32Array.from(imageIdentity) };
}

/** Runs `fn`, expects a DatasetError whose message matches every fragment and which offers a remedy. */
export function expectDatasetError(fn: () => unknown, ...fragments: (string | RegExp)[]): DatasetError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DatasetError);
  const error = caught as DatasetError;
  for (const f of fragments) expect(error.message).toMatch(f);
  expect(error.remedy.length).toBeGreaterThan(10);
  return error;
}
