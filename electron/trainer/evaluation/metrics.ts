// Face verification and identification metrics on plain typed arrays: cosine
// similarities, LFW's k-fold verification accuracy, closed-set rank-1 identification and
// the full verification report. The ROC family (rocCurve, auc, equalErrorRate, tarAtFar,
// scoreHistogram) lives in roc.ts and is re-exported here.
//
// The embeddings are computed elsewhere (the model's 256-d layer); everything
// here is arithmetic on their scores, with no tfjs, so it runs anywhere and is
// tested against hand-computed answers.
//
// Conventions, the same in every function (here and in roc.ts):
// - A score is a cosine similarity: higher means "more likely the same person".
// - A pair is *accepted* (predicted matched) when score >= threshold.
// - `matched[i]` is 1 for a same-identity pair, 0 otherwise (as `ResolvedPairs`
//   from `datasets/pairs` gives it).
// - Scores must be finite; NaN or Infinity is an error, not a silent zero.
import { checkScores, sortedOrder } from './pair-scores';
import { auc, equalErrorRate, rocCurve, tarAtFar, type RocCurve } from './roc';

export { auc, equalErrorRate, rocCurve, scoreHistogram, tarAtFar, type RocCurve, type ScoreHistogram } from './roc';

export interface TenFoldResult {
  /** Accuracy on each fold, index = fold number, with the threshold chosen on the other folds. */
  readonly foldAccuracies: Float64Array;
  /** Mean of the fold accuracies. */
  readonly mean: number;
  /** Sample standard deviation of the fold accuracies over sqrt(folds): the "±" of LFW's results. */
  readonly standardError: number;
  /**
   * Threshold used on each fold (chosen on the others). +Infinity means "reject every pair"
   * and -Infinity "accept every pair"; both only when the training folds favour it
   * (JSON writes them as null: convert before serialising if that matters).
   */
  readonly thresholds: Float64Array;
}

export interface Rank1Result {
  /** correct / probes. */
  readonly accuracy: number;
  readonly correct: number;
  readonly probes: number;
}

export interface VerificationReport {
  readonly pairs: number;
  readonly matchedPairs: number;
  readonly mismatchedPairs: number;
  readonly roc: RocCurve;
  readonly auc: number;
  readonly eer: number;
  /** TAR at each of `STANDARD_FARS`, in that order (see `tarAtFar`). */
  readonly tarAtFar: readonly { readonly far: number; readonly tar: number }[];
  readonly tenFold: TenFoldResult;
}

/** The false accept rates reported by default: 1% and 0.1%. */
export const STANDARD_FARS: readonly number[] = [0.01, 0.001];

// ---------------------------------------------------------------------------
// Similarity

/**
 * Cosine similarity of pairs of embedding rows: result[i] = cos(row a[i], row b[i]).
 * `embeddings` is row-major, `dim` values per image. Sums run in float64; the result is
 * clamped to [-1, 1] against rounding.
 *
 * A zero vector has no direction: any pair with one gets similarity 0 ("no evidence
 * either way"), so a network whose embedding collapsed to zero scores at chance rather
 * than failing. A NaN or infinite embedding value is an error.
 */
export function cosineSimilarities(embeddings: Float32Array, dim: number, a: Int32Array, b: Int32Array): Float32Array {
  const rows = checkEmbeddings(embeddings, dim);
  if (a.length !== b.length) {
    throw new Error(`cosineSimilarities: ${a.length} first images but ${b.length} second images; every pair needs both.`);
  }
  checkIndices(a, rows, 'cosineSimilarities', 'a');
  checkIndices(b, rows, 'cosineSimilarities', 'b');
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const oa = (a[i] as number) * dim;
    const ob = (b[i] as number) * dim;
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let d = 0; d < dim; d++) {
      const x = embeddings[oa + d] as number;
      const y = embeddings[ob + d] as number;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    if (!Number.isFinite(dot) || !Number.isFinite(na) || !Number.isFinite(nb)) {
      throw new Error(
        `cosineSimilarities: the embedding of image ${a[i]} or ${b[i]} (pair ${i}) contains NaN or Infinity; ` +
          'the model produced invalid outputs (did the training diverge?).',
      );
    }
    out[i] = na === 0 || nb === 0 ? 0 : clamp(dot / Math.sqrt(na * nb), -1, 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The LFW protocol

/**
 * Verification accuracy by k-fold cross-validation, as LFW's protocol asks: for each fold,
 * the threshold is the one with the best accuracy on all the *other* folds, and the fold's
 * accuracy is measured with it. Candidate thresholds are the midpoints between consecutive
 * distinct scores of the training folds, plus -Infinity (accept all) and +Infinity (reject
 * all); among equally accurate candidates the lowest wins. Pairs are accepted when
 * score >= threshold.
 *
 * `fold[i]` is pair i's fold, 0-based; folds 0..max must all be non-empty and there must be
 * at least two. Returns the mean and the standard error (sample standard deviation over
 * sqrt(folds)), the "mean ± standard error" of LFW's published results.
 *
 * One sort, then one linear sweep per fold: O(n log n + folds x n).
 */
export function tenFoldVerification(scores: Float32Array, matched: Uint8Array, fold: Int32Array): TenFoldResult {
  checkScores(scores, matched, 'tenFoldVerification');
  const n = scores.length;
  if (fold.length !== n) {
    throw new Error(`tenFoldVerification: ${n} scores but ${fold.length} fold numbers; every pair needs a fold.`);
  }
  let folds = 0;
  for (let i = 0; i < n; i++) {
    const f = fold[i] as number;
    if (f < 0) throw new Error(`tenFoldVerification: pair ${i} has fold ${f}; folds are numbered from 0.`);
    if (f + 1 > folds) folds = f + 1;
  }
  if (folds < 2) {
    throw new Error(`tenFoldVerification: cross-validation needs at least 2 folds, got ${folds}.`);
  }
  const foldSize = new Int32Array(folds);
  const foldPositives = new Int32Array(folds);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const f = fold[i] as number;
    foldSize[f] = (foldSize[f] as number) + 1;
    if (matched[i] === 1) {
      foldPositives[f] = (foldPositives[f] as number) + 1;
      positives++;
    }
  }
  for (let k = 0; k < folds; k++) {
    if (foldSize[k] === 0) {
      throw new Error(`tenFoldVerification: fold ${k} has no pairs; folds must be numbered 0..${folds - 1} without gaps.`);
    }
  }

  const order = sortedOrder(scores); // ascending
  const foldAccuracies = new Float64Array(folds);
  const thresholds = new Float64Array(folds);
  for (let k = 0; k < folds; k++) {
    // Sweep the training pairs (all folds but k) in ascending score order. Before any group,
    // the threshold -Infinity accepts all: the matched ones are right. Raising the threshold
    // past a group of equal scores rejects it: its mismatched pairs become right, its
    // matched ones wrong.
    let correct = positives - (foldPositives[k] as number);
    let bestCorrect = correct;
    let bestThreshold = -Infinity;
    let groupScore = NaN;
    let inGroup = false;
    for (let j = 0; j < n; j++) {
      const i = order[j] as number;
      if (fold[i] === k) continue;
      const s = scores[i] as number;
      if (inGroup && s !== groupScore) {
        // Candidate between the group just passed and this score.
        if (correct > bestCorrect) {
          bestCorrect = correct;
          bestThreshold = (groupScore + s) / 2;
        }
      }
      groupScore = s;
      inGroup = true;
      correct += matched[i] === 1 ? -1 : 1;
    }
    // Above the highest training score: reject all.
    if (inGroup && correct > bestCorrect) bestThreshold = Infinity;

    let right = 0;
    for (let i = 0; i < n; i++) {
      if (fold[i] !== k) continue;
      const accept = (scores[i] as number) >= bestThreshold;
      if (accept === (matched[i] === 1)) right++;
    }
    thresholds[k] = bestThreshold;
    foldAccuracies[k] = right / (foldSize[k] as number);
  }

  let mean = 0;
  for (const a of foldAccuracies) mean += a;
  mean /= folds;
  let ss = 0;
  for (const a of foldAccuracies) ss += (a - mean) * (a - mean);
  const std = Math.sqrt(ss / (folds - 1));
  return { foldAccuracies, mean, standardError: std / Math.sqrt(folds), thresholds };
}

// ---------------------------------------------------------------------------
// Identification

/**
 * Closed-set rank-1 identification accuracy: each probe image is given the identity of the
 * single most similar gallery image (nearest neighbour by cosine similarity, not a class
 * mean: no averaging of embeddings, as in the usual gallery/probe protocols).
 *
 * A probe counts as correct only when its best similarity to a gallery image of its own
 * identity is strictly greater than its best similarity to every other identity's images;
 * a tie is a miss, so the result never depends on the order of the gallery (and a collapsed
 * embedding, all similarities equal, scores 0 rather than a lucky guess). Zero vectors
 * have similarity 0 to everything, as in `cosineSimilarities`.
 *
 * Indices refer to rows of `embeddings`. Closed set: every probe identity must be in the
 * gallery, and no image may be both a probe and a gallery image.
 */
export function rank1Identification(
  embeddings: Float32Array,
  dim: number,
  galleryIdx: Int32Array,
  galleryLabels: Int32Array,
  probeIdx: Int32Array,
  probeLabels: Int32Array,
): Rank1Result {
  const rows = checkEmbeddings(embeddings, dim);
  if (galleryIdx.length !== galleryLabels.length) {
    throw new Error(`rank1Identification: ${galleryIdx.length} gallery images but ${galleryLabels.length} gallery labels.`);
  }
  if (probeIdx.length !== probeLabels.length) {
    throw new Error(`rank1Identification: ${probeIdx.length} probe images but ${probeLabels.length} probe labels.`);
  }
  if (galleryIdx.length === 0) throw new Error('rank1Identification: the gallery is empty.');
  if (probeIdx.length === 0) throw new Error('rank1Identification: there are no probe images.');
  checkIndices(galleryIdx, rows, 'rank1Identification', 'galleryIdx');
  checkIndices(probeIdx, rows, 'rank1Identification', 'probeIdx');
  const inGallery = new Set<number>(galleryIdx);
  const galleryIdentities = new Set<number>(galleryLabels);
  for (let p = 0; p < probeIdx.length; p++) {
    if (inGallery.has(probeIdx[p] as number)) {
      throw new Error(
        `rank1Identification: image ${probeIdx[p]} is both a probe and a gallery image; it would match itself.`,
      );
    }
    if (!galleryIdentities.has(probeLabels[p] as number)) {
      throw new Error(
        `rank1Identification: probe ${p} has identity ${probeLabels[p]}, which has no gallery image; ` +
          'closed-set identification needs every probe identity in the gallery.',
      );
    }
  }

  const gallery = unitRows(embeddings, dim, galleryIdx, 'rank1Identification');
  const probes = unitRows(embeddings, dim, probeIdx, 'rank1Identification');
  let correct = 0;
  for (let p = 0; p < probeIdx.length; p++) {
    const label = probeLabels[p] as number;
    const po = p * dim;
    let bestSame = -Infinity;
    let bestOther = -Infinity;
    for (let g = 0; g < galleryIdx.length; g++) {
      const go = g * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += (probes[po + d] as number) * (gallery[go + d] as number);
      if (galleryLabels[g] === label) {
        if (dot > bestSame) bestSame = dot;
      } else if (dot > bestOther) {
        bestOther = dot;
      }
    }
    if (bestSame > bestOther) correct++;
  }
  return { accuracy: correct / probeIdx.length, correct, probes: probeIdx.length };
}

// ---------------------------------------------------------------------------
// Everything at once

/** ROC, AUC, EER, TAR at `STANDARD_FARS` and the k-fold accuracy of one set of pair scores. */
export function verificationReport(scores: Float32Array, matched: Uint8Array, fold: Int32Array): VerificationReport {
  const { positives, negatives } = checkScores(scores, matched, 'verificationReport');
  const roc = rocCurve(scores, matched);
  return {
    pairs: scores.length,
    matchedPairs: positives,
    mismatchedPairs: negatives,
    roc,
    auc: auc(roc),
    eer: equalErrorRate(roc),
    tarAtFar: STANDARD_FARS.map((far) => ({ far, tar: tarAtFar(roc, far) })),
    tenFold: tenFoldVerification(scores, matched, fold),
  };
}

// ---------------------------------------------------------------------------
// Helpers

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function checkEmbeddings(embeddings: Float32Array, dim: number): number {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`The embedding dimension must be a positive integer, got ${dim}.`);
  if (embeddings.length % dim !== 0) {
    throw new Error(`${embeddings.length} embedding values are not a whole number of rows of ${dim}.`);
  }
  return embeddings.length / dim;
}

function checkIndices(idx: Int32Array, rows: number, fn: string, name: string): void {
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i] as number;
    if (r < 0 || r >= rows) {
      throw new Error(`${fn}: ${name}[${i}] = ${r} is not an image index (there are ${rows} embeddings).`);
    }
  }
}

/** Unit-length copies of the given rows (zero rows stay zero), in float64. */
function unitRows(embeddings: Float32Array, dim: number, idx: Int32Array, fn: string): Float64Array {
  const out = new Float64Array(idx.length * dim);
  for (let r = 0; r < idx.length; r++) {
    const o = (idx[r] as number) * dim;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = embeddings[o + d] as number;
      norm += x * x;
    }
    if (!Number.isFinite(norm)) {
      throw new Error(`${fn}: the embedding of image ${idx[r]} contains NaN or Infinity; the model produced invalid outputs.`);
    }
    if (norm === 0) continue;
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) out[r * dim + d] = (embeddings[o + d] as number) * inv;
  }
  return out;
}
