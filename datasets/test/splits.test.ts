import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors';
import { classificationSplit, identityDisjointSplit, imagesByIdentity } from '../splits';
import type { DatasetLayout } from '../splits';
import { layoutOf } from './layouts';
import { expectDatasetError } from './layouts';

const ORL = layoutOf(Array.from({ length: 40 }, () => 10));
const YALE = layoutOf(Array.from({ length: 15 }, (_, i) => (i === 6 ? 10 : 11)));

function expectPartition(layout: DatasetLayout, train: Int32Array, test: Int32Array): void {
  const all = [...train, ...test].sort((x, y) => x - y);
  expect(all).toEqual(Array.from({ length: layout.imageIdentity.length }, (_, i) => i));
  expect([...train]).toEqual([...train].sort((x, y) => x - y));
  expect([...test]).toEqual([...test].sort((x, y) => x - y));
}

function perIdentity(layout: DatasetLayout, images: Int32Array): number[] {
  const counts = layout.identities.map(() => 0);
  for (const i of images) counts[layout.imageIdentity[i] as number]! += 1;
  return counts;
}


describe('imagesByIdentity', () => {
  it('groups image indices per identity in natural order, also when images are interleaved', () => {
    const groups = imagesByIdentity(layoutOf([2, 3, 1], { interleaved: true }));
    expect(groups.map((g) => [...g])).toEqual([[0, 3], [1, 4, 5], [2]]);
  });

  it('rejects an identity id outside the layout', () => {
    expect(() => imagesByIdentity({ identities: ['a'], imageIdentity: [0, 1] })).toThrow(RangeError);
  });
});

describe('classificationSplit', () => {
  it('holds out the same fraction of every ORL-shaped identity, disjoint and complete', () => {
    const { train, test } = classificationSplit(ORL, { holdOutFraction: 0.2, seed: 1 });
    expectPartition(ORL, train, test);
    expect(perIdentity(ORL, test)).toEqual(Array.from({ length: 40 }, () => 2));
    expect(perIdentity(ORL, train)).toEqual(Array.from({ length: 40 }, () => 8));
  });

  it('rounds per identity on a Yale-shaped set (one identity with 10 images)', () => {
    const { train, test } = classificationSplit(YALE, { holdOutFraction: 0.3, seed: 4 });
    expectPartition(YALE, train, test);
    // round(11 * 0.3) = 3, round(10 * 0.3) = 3
    expect(perIdentity(YALE, test)).toEqual(Array.from({ length: 15 }, () => 3));
    const quarter = classificationSplit(YALE, { holdOutFraction: 0.15, seed: 4 });
    // round(1.65) = 2, round(1.5) = 2
    expect(perIdentity(YALE, quarter.test)).toEqual(Array.from({ length: 15 }, () => 2));
  });

  it('works on interleaved images', () => {
    const layout = layoutOf([5, 7, 9, 4], { interleaved: true });
    const { train, test } = classificationSplit(layout, { holdOutFraction: 0.5, seed: 3 });
    expectPartition(layout, train, test);
    expect(perIdentity(layout, test)).toEqual([3, 4, 5, 2]);
  });

  it('holds out at least 1 of 2+ images, keeps at least 1 for training, and keeps a single image for training', () => {
    const layout = layoutOf([1, 2, 2, 3, 20]);
    const small = classificationSplit(layout, { holdOutFraction: 0.01, seed: 9 });
    expectPartition(layout, small.train, small.test);
    expect(perIdentity(layout, small.test)).toEqual([0, 1, 1, 1, 1]);
    const large = classificationSplit(layout, { holdOutFraction: 0.99, seed: 9 });
    expect(perIdentity(layout, large.train)).toEqual([1, 1, 1, 1, 1]);
  });

  it('keeps minTrainPerIdentity images for training', () => {
    const layout = layoutOf([2, 3, 4, 10]);
    const { test } = classificationSplit(layout, { holdOutFraction: 0.5, seed: 2, minTrainPerIdentity: 3 });
    expect(perIdentity(layout, test)).toEqual([0, 0, 1, 5]);
  });

  it('is reproducible from the seed, and another seed gives another split', () => {
    const a = classificationSplit(ORL, { holdOutFraction: 0.2, seed: 42 });
    const b = classificationSplit(ORL, { holdOutFraction: 0.2, seed: 42 });
    const c = classificationSplit(ORL, { holdOutFraction: 0.2, seed: 43 });
    expect(b.test).toEqual(a.test);
    expect(b.train).toEqual(a.train);
    expect([...c.test]).not.toEqual([...a.test]);
  });

  it('does not reshuffle existing identities when one is added', () => {
    const before = classificationSplit(layoutOf([10, 10, 10]), { holdOutFraction: 0.2, seed: 5 });
    const after = classificationSplit(layoutOf([10, 10, 10, 10]), { holdOutFraction: 0.2, seed: 5 });
    expect([...after.test].filter((i) => i < 30)).toEqual([...before.test]);
  });

  it('rejects a fraction outside (0, 1)', () => {
    for (const f of [0, 1, -0.1, 1.5, Number.NaN]) {
      expectDatasetError(() => classificationSplit(ORL, { holdOutFraction: f, seed: 1 }), 'between 0 and 1');
    }
    expectDatasetError(
      () => classificationSplit(ORL, { holdOutFraction: 0.2, seed: 1, minTrainPerIdentity: 0 }),
      'at least 1',
    );
  });

  it('refuses a dataset where nothing can be held out, or with fewer than 2 identities', () => {
    expectDatasetError(() => classificationSplit(layoutOf([1, 1, 1]), { holdOutFraction: 0.2, seed: 1 }), 'held out');
    expectDatasetError(() => classificationSplit(layoutOf([10]), { holdOutFraction: 0.2, seed: 1 }), 'at least 2 identities');
  });
});

describe('identityDisjointSplit', () => {
  it('holds out whole identities: no identity on both sides, images follow their identity', () => {
    const layout = layoutOf(Array.from({ length: 40 }, (_, i) => 3 + (i % 7)), { interleaved: true });
    const split = identityDisjointSplit(layout, { holdOutFraction: 0.25, seed: 7 });
    expect(split.testIdentities.length).toBe(10);
    expect(split.trainIdentities.length).toBe(30);
    const testIds = new Set(split.testIdentities);
    for (const id of split.trainIdentities) expect(testIds.has(id)).toBe(false);
    expect([...split.trainIdentities, ...split.testIdentities].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
    expectPartition(layout, split.train, split.test);
    for (const i of split.test) expect(testIds.has(layout.imageIdentity[i] as number)).toBe(true);
    for (const i of split.train) expect(testIds.has(layout.imageIdentity[i] as number)).toBe(false);
  });

  it('is reproducible from the seed, and another seed gives another split', () => {
    const a = identityDisjointSplit(ORL, { holdOutFraction: 0.3, seed: 11 });
    const b = identityDisjointSplit(ORL, { holdOutFraction: 0.3, seed: 11 });
    const c = identityDisjointSplit(ORL, { holdOutFraction: 0.3, seed: 12 });
    expect(b).toEqual(a);
    expect([...c.testIdentities]).not.toEqual([...a.testIdentities]);
  });

  it('leaves identities without images out of both sides', () => {
    const split = identityDisjointSplit(layoutOf([3, 0, 3, 3, 3]), { holdOutFraction: 0.5, seed: 1 });
    expect([...split.trainIdentities, ...split.testIdentities]).not.toContain(1);
    expect(split.train.length + split.test.length).toBe(12);
  });

  it('refuses when fewer than 2 identities would remain on either side', () => {
    expectDatasetError(() => identityDisjointSplit(layoutOf([5, 5, 5]), { holdOutFraction: 0.5, seed: 1 }), 'at least 4 identities');
    const few = expectDatasetError(
      () => identityDisjointSplit(layoutOf(Array.from({ length: 10 }, () => 4)), { holdOutFraction: 0.1, seed: 1 }),
      'leaves 1 for testing',
    );
    expect(few.remedy).toContain('between 0.2 and 0.8');
    expectDatasetError(
      () => identityDisjointSplit(layoutOf(Array.from({ length: 10 }, () => 4)), { holdOutFraction: 0.9, seed: 1 }),
      '1 for training',
    );
    expectDatasetError(() => identityDisjointSplit(ORL, { holdOutFraction: 1, seed: 1 }), 'between 0 and 1');
  });
});
