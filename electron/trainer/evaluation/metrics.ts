// Face verification and identification metrics on plain typed arrays.
//
// The embeddings are computed elsewhere (the model's 256-d layer); everything
// here is arithmetic on their scores, with no tfjs, so it runs anywhere and is
// tested against hand-computed answers.
//
// Conventions, the same in every function:
// - A score is a cosine similarity: higher means "more likely the same person".
// - A pair is *accepted* (predicted matched) when score >= threshold.
// - `matched[i]` is 1 for a same-identity pair, 0 otherwise (as `ResolvedPairs`
//   from `datasets/pairs` gives it).
// - Scores must be finite; NaN or Infinity is an error, not a silent zero.

export interface RocCurve {
  /** False positive rate (= FAR) of each point, non-decreasing, from 0 to 1. */
  readonly fpr: Float64Array;
  /** True positive rate (= TAR = 1 - FRR) of each point, non-decreasing, from 0 to 1. */
  readonly tpr: Float64Array;
  /**
   * Decreasing thresholds: point i is the rate at which pairs with score >= thresholds[i]
   * are accepted. The first is +Infinity (nothing accepted: the point (0, 0)); the last is
   * the lowest score (everything accepted: the point (1, 1)).
   */
  readonly thresholds: Float64Array;
}

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

export interface ScoreHistogram {
  /** bins + 1 bin edges from -1 to 1; bin j is [edges[j], edges[j+1]), the last one closed. */
  readonly edges: Float64Array;
  /** Matched pairs per bin. */
  readonly matched: Uint32Array;
  /** Mismatched pairs per bin. */
  readonly mismatched: Uint32Array;
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
// ROC and the numbers read from it

/**
 * The ROC curve of verification scores, one point per distinct score (plus the start):
 * sorted by decreasing threshold, from (0, 0) at threshold +Infinity to (1, 1) at the
 * lowest score. Pairs with equal scores are accepted or rejected together, so a run of
 * tied scores is one segment (a diagonal when it holds both kinds), never a staircase
 * whose shape would depend on the order of the pairs. O(n log n): one sort.
 */
export function rocCurve(scores: Float32Array, matched: Uint8Array): RocCurve {
  const { positives, negatives } = checkScores(scores, matched, 'rocCurve');
  const order = sortedOrder(scores);
  const n = scores.length;
  // At most n distinct scores, plus the (0, 0) point.
  const fpr = new Float64Array(n + 1);
  const tpr = new Float64Array(n + 1);
  const thresholds = new Float64Array(n + 1);
  thresholds[0] = Infinity;
  let points = 1;
  let tp = 0;
  let fp = 0;
  // Walk from the highest score down; emit a point after each group of equal scores.
  for (let j = n - 1; j >= 0; j--) {
    const i = order[j] as number;
    if (matched[i] === 1) tp++;
    else fp++;
    const s = scores[i] as number;
    if (j === 0 || (scores[order[j - 1] as number] as number) !== s) {
      fpr[points] = fp / negatives;
      tpr[points] = tp / positives;
      thresholds[points] = s;
      points++;
    }
  }
  return { fpr: fpr.slice(0, points), tpr: tpr.slice(0, points), thresholds: thresholds.slice(0, points) };
}

/**
 * Area under the ROC curve by the trapezoid rule. With the tie handling of `rocCurve`
 * this is exactly the Mann-Whitney U statistic over (matched x mismatched) pairs,
 * ties counting one half: the probability that a random matched pair outscores a
 * random mismatched one.
 */
export function auc(roc: RocCurve): number {
  checkRoc(roc, 'auc');
  let area = 0;
  for (let i = 1; i < roc.fpr.length; i++) {
    const dx = (roc.fpr[i] as number) - (roc.fpr[i - 1] as number);
    area += (dx * ((roc.tpr[i] as number) + (roc.tpr[i - 1] as number))) / 2;
  }
  return area;
}

/**
 * Equal error rate: the false accept rate where it equals the false reject rate
 * (FPR = 1 - TPR), linearly interpolated along the ROC segment that crosses that line
 * (the curve starts below it at (0, 0) and ends above it at (1, 1), and the crossing
 * is unique because both rates only grow along the curve).
 */
export function equalErrorRate(roc: RocCurve): number {
  checkRoc(roc, 'equalErrorRate');
  // d = FPR - FNR = fpr + tpr - 1 goes from -1 to 1, non-decreasing.
  let prevD = -1;
  for (let i = 0; i < roc.fpr.length; i++) {
    const f = roc.fpr[i] as number;
    const d = f + (roc.tpr[i] as number) - 1;
    if (d >= 0) {
      if (d === 0 || i === 0) return f;
      const f0 = roc.fpr[i - 1] as number;
      const t = -prevD / (d - prevD);
      return f0 + t * (f - f0);
    }
    prevD = d;
  }
  // Unreachable for a valid curve (it ends at (1, 1), where d = 1).
  throw new Error('equalErrorRate: the ROC curve does not end at (1, 1).');
}

/**
 * True accept rate at a false accept rate: the largest TPR among the curve's points with
 * FPR <= far. Only thresholds that exist are used (no interpolation between points), so
 * the answer is a rate some threshold really achieves, never more than allowed false
 * accepts. With N mismatched pairs the FAR is resolved only in steps of 1/N: with fewer
 * than 1/far mismatched pairs this is the TAR at zero false accepts.
 */
export function tarAtFar(roc: RocCurve, far: number): number {
  checkRoc(roc, 'tarAtFar');
  if (!(far >= 0 && far <= 1)) throw new Error(`tarAtFar: the false accept rate must be within [0, 1], got ${far}.`);
  let best = 0;
  // fpr is non-decreasing: stop at the first point beyond the allowed rate.
  for (let i = 0; i < roc.fpr.length && (roc.fpr[i] as number) <= far; i++) {
    best = Math.max(best, roc.tpr[i] as number);
  }
  return best;
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
// For the UI

/**
 * Matched and mismatched pair counts per bin of equal width over [-1, 1] (cosine
 * similarities). Bins are half-open [lo, hi) except the last, which includes 1; a score
 * outside [-1, 1] (rounding) is counted in the nearest end bin, so the counts always sum to
 * the number of pairs. Pairs of only one kind are allowed here.
 */
export function scoreHistogram(scores: Float32Array, matched: Uint8Array, bins: number): ScoreHistogram {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`scoreHistogram: bins must be a positive integer, got ${bins}.`);
  checkScoreArrays(scores, matched, 'scoreHistogram');
  const edges = new Float64Array(bins + 1);
  for (let j = 0; j <= bins; j++) edges[j] = -1 + (2 * j) / bins;
  const m = new Uint32Array(bins);
  const mm = new Uint32Array(bins);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    let j = Math.floor(((s + 1) / 2) * bins);
    if (j < 0) j = 0;
    if (j >= bins) j = bins - 1;
    // Guard the float rounding of the division against the exact edges.
    while (j > 0 && s < (edges[j] as number)) j--;
    while (j < bins - 1 && s >= (edges[j + 1] as number)) j++;
    if (matched[i] === 1) m[j] = (m[j] as number) + 1;
    else mm[j] = (mm[j] as number) + 1;
  }
  return { edges, matched: m, mismatched: mm };
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

/** Indices of `scores` in ascending score order (stable for ties). */
function sortedOrder(scores: Float32Array): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((x, y) => (scores[x] as number) - (scores[y] as number) || x - y);
  return order;
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

function checkScoreArrays(scores: Float32Array, matched: Uint8Array, fn: string): { positives: number; negatives: number } {
  if (scores.length !== matched.length) {
    throw new Error(`${fn}: ${scores.length} scores but ${matched.length} matched flags; they must describe the same pairs.`);
  }
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i] as number)) throw new Error(`${fn}: the score of pair ${i} is ${scores[i]}; scores must be finite.`);
    const m = matched[i];
    if (m === 1) positives++;
    else if (m !== 0) throw new Error(`${fn}: matched[${i}] is ${m}; use 1 for a matched pair and 0 for a mismatched one.`);
  }
  return { positives, negatives: scores.length - positives };
}

function checkScores(scores: Float32Array, matched: Uint8Array, fn: string): { positives: number; negatives: number } {
  const counts = checkScoreArrays(scores, matched, fn);
  if (counts.positives === 0) throw new Error(`${fn}: there are no matched pairs; verification needs both kinds of pair.`);
  if (counts.negatives === 0) throw new Error(`${fn}: there are no mismatched pairs; verification needs both kinds of pair.`);
  return counts;
}

function checkRoc(roc: RocCurve, fn: string): void {
  const n = roc.fpr.length;
  if (n < 2 || roc.tpr.length !== n || roc.thresholds.length !== n) {
    throw new Error(`${fn}: not a ROC curve from rocCurve (it needs matching fpr, tpr and thresholds of at least 2 points).`);
  }
  if (roc.fpr[0] !== 0 || roc.tpr[0] !== 0 || roc.fpr[n - 1] !== 1 || roc.tpr[n - 1] !== 1) {
    throw new Error(`${fn}: a ROC curve must start at (0, 0) and end at (1, 1).`);
  }
}
