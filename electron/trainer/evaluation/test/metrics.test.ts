// Verification and identification metrics against answers computed by hand and by brute force.
import { Rng } from '../../../../datasets/random';
import { describe, expect, test } from 'vitest';
import {
  auc,
  cosineSimilarities,
  equalErrorRate,
  rank1Identification,
  rocCurve,
  scoreHistogram,
  tarAtFar,
  tenFoldVerification,
  verificationReport,
} from '../metrics';

const f32 = (xs: number[]) => Float32Array.from(xs);
const u8 = (xs: number[]) => Uint8Array.from(xs);
const i32 = (xs: number[]) => Int32Array.from(xs);

/** Seeded uniform numbers in [0, 1) from the project's generator, so random cases reproduce. */
function rng(seed: number): () => number {
  const generator = new Rng(seed);
  return () => generator.next();
}

/** Mann-Whitney U / (n1 n0) by brute force over every (matched, mismatched) pair, ties 1/2. */
function mannWhitney(scores: Float32Array, matched: Uint8Array): number {
  let u = 0;
  let n1 = 0;
  let n0 = 0;
  for (let i = 0; i < scores.length; i++) {
    if (matched[i] === 1) n1++;
    else n0++;
  }
  for (let i = 0; i < scores.length; i++) {
    if (matched[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (matched[j] !== 0) continue;
      const si = scores[i] as number;
      const sj = scores[j] as number;
      u += si > sj ? 1 : si === sj ? 0.5 : 0;
    }
  }
  return u / (n1 * n0);
}

/** The LFW protocol by brute force: every candidate threshold tried on every training set. */
function tenFoldBruteForce(scores: Float32Array, matched: Uint8Array, fold: Int32Array, folds: number) {
  const acc: number[] = [];
  const thr: number[] = [];
  const accuracy = (t: number, inFold: (f: number) => boolean) => {
    let right = 0;
    let total = 0;
    for (let i = 0; i < scores.length; i++) {
      if (!inFold(fold[i] as number)) continue;
      total++;
      if (((scores[i] as number) >= t) === (matched[i] === 1)) right++;
    }
    return right / total;
  };
  for (let k = 0; k < folds; k++) {
    const train = [...new Set(Array.from(scores).filter((_, i) => fold[i] !== k))].sort((x, y) => x - y);
    const candidates = [-Infinity];
    for (let j = 1; j < train.length; j++) candidates.push(((train[j - 1] as number) + (train[j] as number)) / 2);
    candidates.push(Infinity);
    let best = -1;
    let bestT = NaN;
    for (const t of candidates) {
      const a = accuracy(t, (f) => f !== k);
      if (a > best) {
        best = a;
        bestT = t;
      }
    }
    thr.push(bestT);
    acc.push(accuracy(bestT, (f) => f === k));
  }
  return { acc, thr };
}

describe('cosineSimilarities', () => {
  test('matches a hand computation, row-major, zero vectors give 0', () => {
    // Rows: u = (1, 2, 2) |u| = 3;  v = (2, 0, 0) |v| = 2;  w = (-1, -2, -2);  z = 0.
    const e = f32([1, 2, 2, 2, 0, 0, -1, -2, -2, 0, 0, 0]);
    const s = cosineSimilarities(e, 3, i32([0, 0, 0, 1, 3, 3]), i32([1, 0, 2, 2, 0, 3]));
    // u.v = 2 -> 2 / (3 * 2) = 1/3; u.u -> 1; u.w -> -1; v.w = -2 / (2 * 3) = -1/3; z with anything -> 0.
    const expected = [1 / 3, 1, -1, -1 / 3, 0, 0];
    expect(s.length).toBe(expected.length);
    expected.forEach((x, i) => expect(s[i]).toBeCloseTo(x, 6));
    // Never outside [-1, 1] by rounding.
    expect(s[1]).toBeLessThanOrEqual(1);
    expect(s[2]).toBeGreaterThanOrEqual(-1);
  });

  test('is invariant to scale', () => {
    const e = f32([0.1, 0.2, 0.3, 10, 20, 31]);
    const [s] = cosineSimilarities(e, 3, i32([0]), i32([1]));
    const dot = 0.1 * 10 + 0.2 * 20 + 0.3 * 31;
    const expected = dot / (Math.hypot(0.1, 0.2, 0.3) * Math.hypot(10, 20, 31));
    expect(s).toBeCloseTo(expected, 6);
  });

  test('rejects bad input', () => {
    const e = f32([1, 0, 0, 1]);
    expect(() => cosineSimilarities(e, 2, i32([0]), i32([0, 1]))).toThrow(/every pair needs both/);
    expect(() => cosineSimilarities(e, 3, i32([0]), i32([0]))).toThrow(/whole number of rows/);
    expect(() => cosineSimilarities(e, 0, i32([0]), i32([0]))).toThrow(/positive integer/);
    expect(() => cosineSimilarities(e, 2, i32([0]), i32([2]))).toThrow(/b\[0\] = 2 is not an image index/);
    expect(() => cosineSimilarities(e, 2, i32([-1]), i32([0]))).toThrow(/a\[0\] = -1/);
    expect(() => cosineSimilarities(f32([NaN, 0, 1, 0]), 2, i32([0]), i32([1]))).toThrow(/NaN or Infinity/);
  });
});

describe('ROC, AUC, EER, TAR@FAR', () => {
  test('perfectly separable scores: AUC 1, EER 0, TAR 1 at any FAR, k-fold accuracy 1', () => {
    const scores = f32([0.9, 0.8, 0.7, 0.6, -0.6, -0.7, -0.8, -0.9]);
    const matched = u8([1, 1, 1, 1, 0, 0, 0, 0]);
    const roc = rocCurve(scores, matched);
    expect(auc(roc)).toBe(1);
    expect(equalErrorRate(roc)).toBe(0);
    expect(tarAtFar(roc, 0)).toBe(1);
    expect(tarAtFar(roc, 0.001)).toBe(1);
    const t = tenFoldVerification(scores, matched, i32([0, 1, 0, 1, 0, 1, 0, 1]));
    expect(Array.from(t.foldAccuracies)).toEqual([1, 1]);
    expect(t.mean).toBe(1);
    expect(t.standardError).toBe(0);
  });

  test('reversed scores: AUC 0, EER 1, TAR 0 below FAR 1', () => {
    const scores = f32([-0.9, -0.8, -0.7, 0.7, 0.8, 0.9]);
    const matched = u8([1, 1, 1, 0, 0, 0]);
    const roc = rocCurve(scores, matched);
    expect(auc(roc)).toBe(0);
    expect(equalErrorRate(roc)).toBe(1);
    expect(tarAtFar(roc, 0.5)).toBe(0);
    expect(tarAtFar(roc, 1)).toBe(1);
  });

  test('all-equal scores: one segment from (0, 0) to (1, 1), AUC 0.5, EER 0.5', () => {
    const scores = f32([0.3, 0.3, 0.3, 0.3, 0.3]);
    const matched = u8([1, 0, 1, 0, 0]);
    const roc = rocCurve(scores, matched);
    expect(Array.from(roc.fpr)).toEqual([0, 1]);
    expect(Array.from(roc.tpr)).toEqual([0, 1]);
    expect(roc.thresholds[0]).toBe(Infinity);
    expect(roc.thresholds[1]).toBeCloseTo(0.3, 6);
    expect(auc(roc)).toBe(0.5);
    expect(equalErrorRate(roc)).toBe(0.5);
    expect(tarAtFar(roc, 0.01)).toBe(0);
  });

  test('4 matched / 4 mismatched with a tie, computed by hand', () => {
    // matched:    0.9  0.8  0.6  0.3
    // mismatched: 0.6  0.6  0.2  0.1
    // Descending groups: 0.9 {M}, 0.8 {M}, 0.6 {M, N, N}, 0.3 {M}, 0.2 {N}, 0.1 {N}.
    // Points (FPR, TPR), accepting score >= threshold:
    //   inf (0, 0); 0.9 (0, .25); 0.8 (0, .5); 0.6 (.5, .75); 0.3 (.5, 1); 0.2 (.75, 1); 0.1 (1, 1).
    // The tie at 0.6 is one diagonal segment (0, .5) -> (.5, .75), not a staircase.
    // AUC (trapezoids): .5 * (.5 + .75) / 2 = .3125 for the diagonal, then .25 + .25 along TPR 1
    //   = .8125 = 13/16. Mann-Whitney: 0.9 beats 4, 0.8 beats 4, 0.6 beats 2 and ties 2 (3),
    //   0.3 beats 2: U = 13 of 16. ✓
    // EER: d = FPR + TPR - 1 is -.5 at (0, .5) and +.25 at (.5, .75); it crosses 0 at t = .5/.75 = 2/3
    //   of the segment: FPR = 2/3 * .5 = 1/3, TPR = .5 + 2/3 * .25 = 2/3, so FPR = 1 - TPR = 1/3.
    // TAR@FAR: points with FPR <= 1% (or 0.1%, or 25%) have FPR 0: best TPR .5. At FAR 50%: TPR 1.
    const scores = f32([0.9, 0.8, 0.6, 0.3, 0.6, 0.6, 0.2, 0.1]);
    const matched = u8([1, 1, 1, 1, 0, 0, 0, 0]);
    const roc = rocCurve(scores, matched);
    expect(Array.from(roc.fpr)).toEqual([0, 0, 0, 0.5, 0.5, 0.75, 1]);
    expect(Array.from(roc.tpr)).toEqual([0, 0.25, 0.5, 0.75, 1, 1, 1]);
    expect(roc.thresholds[0]).toBe(Infinity);
    expect(Array.from(roc.thresholds.slice(1))).toEqual([0.9, 0.8, 0.6, 0.3, 0.2, 0.1].map(Math.fround));
    expect(auc(roc)).toBeCloseTo(13 / 16, 12);
    expect(mannWhitney(scores, matched)).toBeCloseTo(13 / 16, 12);
    expect(equalErrorRate(roc)).toBeCloseTo(1 / 3, 12);
    expect(tarAtFar(roc, 0.01)).toBe(0.5);
    expect(tarAtFar(roc, 0.001)).toBe(0.5);
    expect(tarAtFar(roc, 0.25)).toBe(0.5);
    expect(tarAtFar(roc, 0.5)).toBe(1);
  });

  test('TAR at FAR 1% and 0.1% differ when there are enough mismatched pairs', () => {
    // 1000 mismatched pairs at k/1000 (k = 0..999); 5 matched above them all and 5 at 0.9955.
    // Threshold 0.9995: FPR 0, TPR .5. Threshold 0.999: FPR .001, TPR .5.
    // Threshold 0.9955: 0.996..0.999 accepted, FPR .004 <= 1% but > 0.1%: TPR 1.
    const s: number[] = [];
    const m: number[] = [];
    for (let k = 0; k < 1000; k++) {
      s.push(k / 1000);
      m.push(0);
    }
    for (let k = 0; k < 5; k++) {
      s.push(0.9995, 0.9955);
      m.push(1, 1);
    }
    const roc = rocCurve(f32(s), u8(m));
    expect(tarAtFar(roc, 0.01)).toBe(1);
    expect(tarAtFar(roc, 0.001)).toBe(0.5);
    expect(tarAtFar(roc, 0.0039)).toBe(0.5);
    expect(tarAtFar(roc, 0.004)).toBe(1);
  });

  test('AUC equals the Mann-Whitney U statistic / (n1 n0) on random data, with and without ties', () => {
    const next = rng(7);
    for (const levels of [0, 5, 40]) {
      for (let trial = 0; trial < 5; trial++) {
        const n = 50 + Math.floor(next() * 150);
        const scores = new Float32Array(n);
        const matched = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          matched[i] = i < 3 ? 1 : i < 6 ? 0 : next() < 0.4 ? 1 : 0;
          const raw = next() * 2 - 1 + (matched[i] === 1 ? 0.3 : 0);
          // Quantised to few levels to force many ties, or continuous.
          scores[i] = levels === 0 ? raw : Math.round(raw * levels) / levels;
        }
        const roc = rocCurve(scores, matched);
        expect(auc(roc)).toBeCloseTo(mannWhitney(scores, matched), 12);
        // Shape: from (0, 0) to (1, 1), monotone, one point per distinct score.
        const distinct = new Set(scores).size;
        expect(roc.fpr.length).toBe(distinct + 1);
        for (let i = 1; i < roc.fpr.length; i++) {
          expect(roc.fpr[i]).toBeGreaterThanOrEqual(roc.fpr[i - 1] as number);
          expect(roc.tpr[i]).toBeGreaterThanOrEqual(roc.tpr[i - 1] as number);
          expect(roc.thresholds[i]).toBeLessThan(roc.thresholds[i - 1] as number);
        }
        expect(roc.fpr[roc.fpr.length - 1]).toBe(1);
        expect(roc.tpr[roc.tpr.length - 1]).toBe(1);
        // The EER point lies on the curve where FPR = 1 - TPR: between the two closest points.
        const eer = equalErrorRate(roc);
        expect(eer).toBeGreaterThanOrEqual(0);
        expect(eer).toBeLessThanOrEqual(1);
      }
    }
  });

  test('rejects bad input', () => {
    expect(() => rocCurve(f32([0.1, 0.2]), u8([1]))).toThrow(/2 scores but 1 matched/);
    expect(() => rocCurve(f32([0.1, 0.2]), u8([1, 1]))).toThrow(/no mismatched pairs/);
    expect(() => rocCurve(f32([0.1, 0.2]), u8([0, 0]))).toThrow(/no matched pairs/);
    expect(() => rocCurve(f32([]), u8([]))).toThrow(/no matched pairs/);
    expect(() => rocCurve(f32([0.1, NaN]), u8([1, 0]))).toThrow(/pair 1 is NaN; scores must be finite/);
    expect(() => rocCurve(f32([0.1, 0.2]), u8([1, 2]))).toThrow(/matched\[1\] is 2/);
    const roc = rocCurve(f32([0.1, 0.2]), u8([1, 0]));
    expect(() => tarAtFar(roc, 1.5)).toThrow(/within \[0, 1\]/);
    expect(() => tarAtFar(roc, NaN)).toThrow(/within \[0, 1\]/);
    const broken = { fpr: new Float64Array([0, 0.5]), tpr: new Float64Array([0, 1]), thresholds: new Float64Array([Infinity, 0]) };
    expect(() => auc(broken)).toThrow(/end at \(1, 1\)/);
    expect(() => equalErrorRate({ ...broken, tpr: new Float64Array([0]) })).toThrow(/not a ROC curve/);
  });
});

describe('tenFoldVerification', () => {
  test('each fold is scored with the threshold chosen on the other folds, not its own best', () => {
    // fold 0: matched .6 .7,   mismatched .4 .2
    // fold 1: matched .65 .8,  mismatched .45 .3
    // fold 2: matched .32 .35, mismatched .1 .25   (on its own, separable at .3; at .525 half wrong)
    //
    // Fold 2's training set (folds 0 + 1) ascending: .2N .3N .4N .45N | .6M .65M .7M .8M:
    //   only (.45 + .6) / 2 = .525 separates it (8/8). On fold 2 it rejects .32 and .35: accuracy 2/4,
    //   although fold 2's own best threshold (e.g. .3) would give 4/4.
    // Fold 0's training set (folds 1 + 2): .1N .25N .3N | .32M .35M .45N .65M .8M:
    //   (.3 + .32) / 2 = .31 gives 7/8, the only such; .55 gives 6/8. On fold 0: .6 .7 accepted,
    //   .4 wrongly accepted, .2 rejected: 3/4.
    // Fold 1's training set (folds 0 + 2): .1N .2N .25N | .32M .35M .4N .6M .7M:
    //   (.25 + .32) / 2 = .285 gives 7/8. On fold 1: .65 .8 accepted, .45 and .3 wrongly accepted: 2/4.
    // Mean (3/4 + 1/2 + 1/2) / 3 = 7/12; deviations 1/6, -1/12, -1/12; sample variance
    //   (1/36 + 1/144 + 1/144) / 2 = 1/48; standard error sqrt(1/48) / sqrt(3) = 1/12.
    const scores = f32([0.6, 0.7, 0.4, 0.2, 0.65, 0.8, 0.45, 0.3, 0.32, 0.35, 0.1, 0.25]);
    const matched = u8([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
    const fold = i32([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const r = tenFoldVerification(scores, matched, fold);
    expect(Array.from(r.foldAccuracies)).toEqual([0.75, 0.5, 0.5]);
    expect(r.thresholds[0]).toBeCloseTo(0.31, 6);
    expect(r.thresholds[1]).toBeCloseTo(0.285, 6);
    expect(r.thresholds[2]).toBeCloseTo(0.525, 6);
    expect(r.mean).toBeCloseTo(7 / 12, 12);
    expect(r.standardError).toBeCloseTo(1 / 12, 12);
    // Fold 2's own best threshold (any in (.25, .32]) would have scored it 4/4: the result is not that.
    const fold2 = (t: number) => [8, 9, 10, 11].filter((i) => ((scores[i] as number) >= t) === (matched[i] === 1)).length / 4;
    expect(fold2(0.3)).toBe(1);
    expect(fold2(r.thresholds[2] as number)).toBe(0.5);
  });

  test('standard error is the sample standard deviation over sqrt(folds)', () => {
    const next = rng(3);
    const n = 600;
    const scores = new Float32Array(n);
    const matched = new Uint8Array(n);
    const fold = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      fold[i] = i % 10;
      matched[i] = (i >> 1) % 2;
      scores[i] = Math.tanh(next() * 2 - 1 + (matched[i] === 1 ? 0.5 : -0.2));
    }
    const r = tenFoldVerification(scores, matched, fold);
    const acc = Array.from(r.foldAccuracies);
    const mean = acc.reduce((x, y) => x + y, 0) / 10;
    const sampleVar = acc.reduce((x, a) => x + (a - mean) ** 2, 0) / 9;
    expect(r.mean).toBeCloseTo(mean, 12);
    expect(r.standardError).toBeCloseTo(Math.sqrt(sampleVar) / Math.sqrt(10), 12);
    expect(r.standardError).toBeGreaterThan(0);
  });

  test('agrees with a brute-force search over all candidate thresholds (ties, uneven folds)', () => {
    const next = rng(11);
    for (const folds of [2, 3, 10]) {
      for (const levels of [0, 8]) {
        const n = 200;
        const scores = new Float32Array(n);
        const matched = new Uint8Array(n);
        const fold = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          fold[i] = i < folds ? i : Math.floor(next() * folds);
          matched[i] = next() < 0.5 ? 1 : 0;
          if (i === 0) matched[i] = 1;
          if (i === 1) matched[i] = 0;
          const raw = Math.tanh(next() * 2 - 1 + (matched[i] === 1 ? 0.4 : 0));
          scores[i] = levels === 0 ? raw : Math.round(raw * levels) / levels;
        }
        const r = tenFoldVerification(scores, matched, fold);
        const b = tenFoldBruteForce(scores, matched, fold, folds);
        expect(Array.from(r.foldAccuracies)).toEqual(b.acc);
        expect(Array.from(r.thresholds)).toEqual(b.thr);
      }
    }
  });

  test('6,000 pairs in 10 folds, LFW-sized, as the brute force gives', () => {
    // Scores on a grid of 0.01 keep the brute force's candidate list (and the test) short.
    const next = rng(5);
    const n = 6000;
    const scores = new Float32Array(n);
    const matched = new Uint8Array(n);
    const fold = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      fold[i] = Math.floor(i / 600);
      matched[i] = i % 600 < 300 ? 1 : 0;
      scores[i] = Math.round(100 * Math.tanh(next() * 2 - 1 + (matched[i] === 1 ? 0.6 : -0.1))) / 100;
    }
    const r = tenFoldVerification(scores, matched, fold);
    const b = tenFoldBruteForce(scores, matched, fold, 10);
    expect(Array.from(r.foldAccuracies)).toEqual(b.acc);
    expect(Array.from(r.thresholds)).toEqual(b.thr);
    expect(r.mean).toBeGreaterThan(0.5);
  });

  test('extreme thresholds when the training folds favour accepting or rejecting everything', () => {
    // Each fold: a mismatched pair scoring above a matched one, so the midpoint gets both wrong.
    const r = tenFoldVerification(f32([0.9, 0.1, 0.8, 0.2]), u8([0, 1, 0, 1]), i32([0, 0, 1, 1]));
    // Fold 0's training set: .2M .8N: accept >= .5 gets 0/2; -Inf gets 1/2; +Inf gets 1/2; lowest wins.
    expect(r.thresholds[0]).toBe(-Infinity);
    expect(r.foldAccuracies[0]).toBe(0.5);
    const onlyNeg = tenFoldVerification(f32([0.9, 0.1, 0.8, 0.2]), u8([0, 1, 0, 0]), i32([0, 0, 1, 1]));
    // Fold 0's training set is two mismatched pairs: rejecting everything is the only perfect choice.
    expect(onlyNeg.thresholds[0]).toBe(Infinity);
  });

  test('rejects bad input', () => {
    const s = f32([0.1, 0.2, 0.3, 0.4]);
    const m = u8([1, 0, 1, 0]);
    expect(() => tenFoldVerification(s, m, i32([0, 1, 0]))).toThrow(/4 scores but 3 fold numbers/);
    expect(() => tenFoldVerification(s, m, i32([0, 0, 0, 0]))).toThrow(/at least 2 folds, got 1/);
    expect(() => tenFoldVerification(s, m, i32([0, 2, 0, 2]))).toThrow(/fold 1 has no pairs/);
    expect(() => tenFoldVerification(s, m, i32([0, -1, 0, 1]))).toThrow(/fold -1/);
    expect(() => tenFoldVerification(s, u8([1, 1, 1, 1]), i32([0, 1, 0, 1]))).toThrow(/no mismatched pairs/);
    expect(() => tenFoldVerification(s, u8([0, 0, 0, 0]), i32([0, 1, 0, 1]))).toThrow(/no matched pairs/);
  });
});

describe('rank1Identification', () => {
  // Three identities on the unit circle-ish, in 2-D: A near (1, 0), B near (0, 1), C near (-1, 0).
  const emb = f32([
    1, 0.1, // 0 A gallery
    0.1, 1, // 1 B gallery
    -1, 0.05, // 2 C gallery
    0.9, -0.2, // 3 A probe -> A
    0.2, 0.9, // 4 B probe -> B
    -0.8, -0.3, // 5 C probe -> C
    0.3, 1, // 6 A probe, but looks like B -> wrong
    2, 0.3, // 7 A gallery, a second image of A
    0, 0, // 8 zero probe (label B): similarity 0 to everything, a tie -> wrong
  ]);

  test('nearest gallery image decides, on a constructed gallery', () => {
    const r = rank1Identification(emb, 2, i32([0, 1, 2, 7]), i32([0, 1, 2, 0]), i32([3, 4, 5, 6]), i32([0, 1, 2, 0]));
    expect(r.correct).toBe(3);
    expect(r.probes).toBe(4);
    expect(r.accuracy).toBe(0.75);
  });

  test('nearest image, not class mean: a probe near one outlying gallery image of its identity is right', () => {
    // Identity A's gallery: (1, 0) and (-1, 0.01) (mean almost (0, 0.005), pointing like B).
    // Identity B's gallery: (0.6, 0.8). Probe A at (1, 0.05): nearest image is A's (1, 0), cos ~ 0.999,
    // while B's is cos ~ 0.64. With class means it would go to B (mean of A points upward).
    const e = f32([1, 0, -1, 0.01, 0.6, 0.8, 1, 0.05]);
    const r = rank1Identification(e, 2, i32([0, 1, 2]), i32([0, 0, 1]), i32([3]), i32([0]));
    expect(r.accuracy).toBe(1);
  });

  test('a tie between identities is a miss, whatever the gallery order', () => {
    for (const gallery of [
      [0, 1],
      [1, 0],
    ]) {
      const r = rank1Identification(emb, 2, i32(gallery), i32(gallery), i32([8]), i32([1]));
      expect(r.correct).toBe(0);
    }
    // Equidistant probe (1, 1) between A (1, 0) and B (0, 1) in a fresh set.
    const e = f32([1, 0, 0, 1, 1, 1]);
    expect(rank1Identification(e, 2, i32([0, 1]), i32([5, 6]), i32([2]), i32([5])).correct).toBe(0);
  });

  test('rejects bad input', () => {
    const g = i32([0, 1, 2]);
    const gl = i32([0, 1, 2]);
    expect(() => rank1Identification(emb, 2, g, i32([0, 1]), i32([3]), i32([0]))).toThrow(/3 gallery images but 2/);
    expect(() => rank1Identification(emb, 2, g, gl, i32([3]), i32([0, 1]))).toThrow(/1 probe images but 2/);
    expect(() => rank1Identification(emb, 2, i32([]), i32([]), i32([3]), i32([0]))).toThrow(/gallery is empty/);
    expect(() => rank1Identification(emb, 2, g, gl, i32([]), i32([]))).toThrow(/no probe images/);
    expect(() => rank1Identification(emb, 2, g, gl, i32([3]), i32([9]))).toThrow(/identity 9, which has no gallery image/);
    expect(() => rank1Identification(emb, 2, g, gl, i32([1]), i32([1]))).toThrow(/both a probe and a gallery image/);
    expect(() => rank1Identification(emb, 2, g, gl, i32([99]), i32([0]))).toThrow(/probeIdx\[0\] = 99/);
    expect(() => rank1Identification(emb, 4, g, gl, i32([3]), i32([0]))).toThrow(/whole number of rows/);
  });
});

describe('scoreHistogram', () => {
  test('counts per bin over the scores\' range (here [-1, 1]) sum to the number of pairs', () => {
    // 4 bins: [-1, -.5) [-.5, 0) [0, .5) [.5, 1]; 1 goes in the last, -1 in the first;
    // 1.0000001 and -1.0000001 (rounding) go to the end bins.
    const scores = f32([-1, -0.75, -0.5, -0.1, 0, 0.25, 0.5, 0.99, 1, 1.0000001, -1.0000001]);
    const matched = u8([0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0]);
    const h = scoreHistogram(scores, matched, 4);
    expect(Array.from(h.edges)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(Array.from(h.mismatched)).toEqual([3, 1, 1, 0]);
    expect(Array.from(h.matched)).toEqual([0, 1, 1, 4]);
    const total = [...h.matched, ...h.mismatched].reduce((x, y) => x + y, 0);
    expect(total).toBe(scores.length);
  });

  test('random scores: counts sum to the pairs, each kind separately', () => {
    const next = rng(9);
    const n = 1000;
    const scores = new Float32Array(n);
    const matched = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      scores[i] = next() * 2 - 1;
      matched[i] = next() < 0.3 ? 1 : 0;
    }
    for (const bins of [1, 7, 50]) {
      const h = scoreHistogram(scores, matched, bins);
      expect(h.matched.length).toBe(bins);
      expect(h.matched.reduce((x, y) => x + y, 0)).toBe(matched.reduce((x, y) => x + y, 0));
      expect(h.mismatched.reduce((x, y) => x + y, 0)).toBe(n - matched.reduce((x, y) => x + y, 0));
    }
  });

  test("issue 14, 2.2: scores packed in [0.97, 1] are binned over their own range, so matched and mismatched pairs fall in different bins", () => {
    const next = rng(4);
    const n = 3600;
    const scores = new Float32Array(n);
    const matched = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      matched[i] = i % 2;
      // Matched pairs near 1, mismatched ones a little lower: all within [0.97, 1].
      scores[i] = matched[i] === 1 ? 0.985 + 0.015 * next() : 0.97 + 0.02 * next();
    }
    const h = scoreHistogram(scores, matched, 40);
    expect(h.edges[0]).toBeGreaterThanOrEqual(0.97 - 1e-6);
    expect(h.edges[40]).toBeLessThanOrEqual(1);
    expect((h.edges[1] as number) - (h.edges[0] as number)).toBeLessThan(0.001);
    // The two kinds' modes lie in different bins, and many bins hold scores.
    const mode = (c: Uint32Array) => c.indexOf(Math.max(...c));
    expect(mode(h.matched)).toBeGreaterThan(mode(h.mismatched) + 5);
    expect([...h.mismatched].filter((c) => c > 0).length).toBeGreaterThan(20);
    expect(h.matched.reduce((a, b) => a + b, 0) + h.mismatched.reduce((a, b) => a + b, 0)).toBe(n);
    // Scores all equal still get bins, around them.
    const same = scoreHistogram(f32([1, 1, 1]), u8([1, 0, 1]), 4);
    expect(same.edges[4]).toBe(1);
    expect(same.edges[0]).toBeCloseTo(0.998, 6);
    expect(Array.from(same.matched).reduce((a, b) => a + b, 0)).toBe(2);
  });

  test('rejects bad input', () => {
    expect(() => scoreHistogram(f32([0]), u8([1]), 0)).toThrow(/positive integer/);
    expect(() => scoreHistogram(f32([0]), u8([1]), 2.5)).toThrow(/positive integer/);
    expect(() => scoreHistogram(f32([0, 1]), u8([1]), 4)).toThrow(/2 scores but 1 matched/);
    expect(() => scoreHistogram(f32([NaN]), u8([1]), 4)).toThrow(/finite/);
  });
});

describe('verificationReport', () => {
  test('collects the numbers of one set of scores', () => {
    const scores = f32([0.9, 0.8, 0.6, 0.3, 0.6, 0.6, 0.2, 0.1]);
    const matched = u8([1, 1, 1, 1, 0, 0, 0, 0]);
    const r = verificationReport(scores, matched, i32([0, 1, 0, 1, 0, 1, 0, 1]));
    expect(r.pairs).toBe(8);
    expect(r.matchedPairs).toBe(4);
    expect(r.mismatchedPairs).toBe(4);
    expect(r.auc).toBeCloseTo(13 / 16, 12);
    expect(r.eer).toBeCloseTo(1 / 3, 12);
    expect(r.tarAtFar).toEqual([
      { far: 0.01, tar: 0.5 },
      { far: 0.001, tar: 0.5 },
    ]);
    expect(r.tenFold.foldAccuracies.length).toBe(2);
  });
});
