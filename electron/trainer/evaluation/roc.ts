// The ROC curve of verification scores and the numbers read from it (AUC, EER, TAR at a
// FAR), plus the score histogram the UI draws. Plain typed arrays, no tfjs; the
// conventions (score >= threshold accepts, matched 1/0, finite scores) are those of
// metrics.ts, which re-exports everything here.
import { checkScoreArrays, checkScores, sortedOrder } from './pair-scores';

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

export interface ScoreHistogram {
  /** bins + 1 bin edges from -1 to 1; bin j is [edges[j], edges[j+1]), the last one closed. */
  readonly edges: Float64Array;
  /** Matched pairs per bin. */
  readonly matched: Uint32Array;
  /** Mismatched pairs per bin. */
  readonly mismatched: Uint32Array;
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
// For the UI

/**
 * Matched and mismatched pair counts per bin of equal width over the scores' own range
 * (their min to their max, within [-1, 1]): a trained model's cosine similarities often all
 * lie in [0.97, 1], and fixed bins over [-1, 1] (0.05 wide) would put both kinds in one or
 * two bars and make them look the same. Bins are half-open [lo, hi) except the last, which
 * includes the top; a score outside [-1, 1] (rounding) is counted in the nearest end bin, so
 * the counts always sum to the number of pairs. Scores all equal get a range 0.002 wide
 * around them. Pairs of only one kind are allowed here.
 */
export function scoreHistogram(scores: Float32Array, matched: Uint8Array, bins: number): ScoreHistogram {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`scoreHistogram: bins must be a positive integer, got ${bins}.`);
  checkScoreArrays(scores, matched, 'scoreHistogram');
  const { lo, hi } = scoreRange(scores);
  const width = (hi - lo) / bins;
  const edges = new Float64Array(bins + 1);
  for (let j = 0; j <= bins; j++) edges[j] = j === bins ? hi : lo + j * width;
  const m = new Uint32Array(bins);
  const mm = new Uint32Array(bins);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    let j = Math.floor((s - lo) / width);
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

/** The histogram's range: the scores' min and max within [-1, 1] ([-1, 1] when there are none), at least 0.002 wide. */
function scoreRange(scores: Float32Array): { lo: number; hi: number } {
  if (scores.length === 0) return { lo: -1, hi: 1 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) {
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  lo = Math.max(-1, Math.min(1, lo));
  hi = Math.max(-1, Math.min(1, hi));
  const MIN_WIDTH = 0.002;
  if (hi - lo < MIN_WIDTH) {
    const mid = (lo + hi) / 2;
    lo = Math.max(-1, mid - MIN_WIDTH / 2);
    hi = Math.min(1, lo + MIN_WIDTH);
    lo = hi - MIN_WIDTH;
  }
  return { lo, hi };
}

// ---------------------------------------------------------------------------
// Helpers

function checkRoc(roc: RocCurve, fn: string): void {
  const n = roc.fpr.length;
  if (n < 2 || roc.tpr.length !== n || roc.thresholds.length !== n) {
    throw new Error(`${fn}: not a ROC curve from rocCurve (it needs matching fpr, tpr and thresholds of at least 2 points).`);
  }
  if (roc.fpr[0] !== 0 || roc.tpr[0] !== 0 || roc.fpr[n - 1] !== 1 || roc.tpr[n - 1] !== 1) {
    throw new Error(`${fn}: a ROC curve must start at (0, 0) and end at (1, 1).`);
  }
}
