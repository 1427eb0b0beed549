// What the Evaluate view shows of an evaluation, made from what evaluation.json holds:
// the headline numbers, the ROC curve thinned for drawing, the score histogram, rank-1,
// and the hardest pairs with their faces. Both the `evaluateRun` reply and `getEvaluation`
// are made here from the saved form (savedEvaluation in evaluate-run.ts), so a view read
// back later is the very view the evaluation returned.
//
// Also the per-pair arithmetic the view needs: the hardest pairs and the ROC thinning.
// Plain numbers, no tfjs, no files.
import { z } from 'zod';
import type { EvaluationView, PairView } from '#protocol/workbench';

/** Points of the ROC curve sent to the UI at most. */
export const MAX_ROC_POINTS = 400;
/** Bins of the score histogram, over the scores' own range (roc.ts: scoreHistogram). */
export const HISTOGRAM_BINS = 40;

// ---------------------------------------------------------------------------
// The hardest pairs

/**
 * Pair indices of the hardest pairs of one kind: the mismatched pairs with the highest
 * scores ('false-match', highest first) or the matched pairs with the lowest scores
 * ('false-non-match', lowest first). Ties go to the lower pair index, so the answer
 * never depends on the sort's whims.
 */
export function hardestPairIndices(scores: Float32Array, matched: Uint8Array, kind: 'false-match' | 'false-non-match', count: number): number[] {
  if (scores.length !== matched.length) throw new Error(`hardestPairIndices: ${scores.length} scores but ${matched.length} matched flags`);
  const want = kind === 'false-match' ? 0 : 1;
  const picked: number[] = [];
  for (let i = 0; i < scores.length; i++) if (matched[i] === want) picked.push(i);
  const sign = kind === 'false-match' ? -1 : 1;
  picked.sort((x, y) => sign * ((scores[x] as number) - (scores[y] as number)) || x - y);
  return picked.slice(0, Math.max(0, count));
}

// ---------------------------------------------------------------------------
// ROC thinning

/**
 * At most `maxPoints` points of a ROC curve (FAR ascending, as rocCurve gives it), for
 * drawing. The first and last points are always kept. Three quarters of the budget go to
 * points evenly spaced along the curve's length in the linear (FAR, TAR) plot, which keeps
 * its shape (every step of the staircase that is visible at all); the rest to points evenly
 * spaced in log10(FAR), which keeps the low-FAR end that a log axis (and TAR at FAR 0.1%)
 * magnifies. A curve of `maxPoints` points or fewer is returned whole.
 */
export function thinRoc(far: ArrayLike<number>, tar: ArrayLike<number>, maxPoints = MAX_ROC_POINTS): { far: number[]; tar: number[] } {
  const n = far.length;
  if (tar.length !== n) throw new Error(`thinRoc: ${n} FAR values but ${tar.length} TAR values`);
  if (maxPoints < 2) throw new Error(`thinRoc: at least 2 points are needed, got ${maxPoints}`);
  if (n <= maxPoints) return { far: Array.from(far), tar: Array.from(tar) };
  const keep = new Set<number>([0, n - 1]);
  const linearBudget = Math.floor(((maxPoints - 2) * 3) / 4);
  const logBudget = maxPoints - 2 - linearBudget;
  // Evenly along the curve's length.
  const length = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    length[i] = (length[i - 1] as number) + Math.hypot((far[i] as number) - (far[i - 1] as number), (tar[i] as number) - (tar[i - 1] as number));
  }
  const total = length[n - 1] as number;
  if (total > 0) {
    let next = 1;
    for (let i = 1; i < n - 1 && next <= linearBudget; i++) {
      if ((length[i] as number) >= (next * total) / (linearBudget + 1)) {
        keep.add(i);
        while (next <= linearBudget && (length[i] as number) >= (next * total) / (linearBudget + 1)) next++;
      }
    }
  }
  // Evenly in log10(FAR), from the smallest FAR above 0: the last point at or below each
  // target, so the step's top (its best TAR) is the one kept.
  let first = 1;
  while (first < n && !((far[first] as number) > 0)) first++;
  if (first < n - 1 && logBudget > 0) {
    const lo = Math.log10(far[first] as number);
    const hi = 0; // FAR 1
    let next = 0;
    for (let i = first; i < n - 1 && next < logBudget; i++) {
      const target = lo + ((next + 1) * (hi - lo)) / (logBudget + 1);
      const here = Math.log10(far[i] as number);
      const following = Math.log10(far[i + 1] as number);
      if (here <= target && following > target) {
        keep.add(i);
        next++;
        while (next < logBudget && lo + ((next + 1) * (hi - lo)) / (logBudget + 1) < following) next++;
      }
    }
  }
  const chosen = [...keep].sort((x, y) => x - y);
  return { far: chosen.map((i) => far[i] as number), tar: chosen.map((i) => tar[i] as number) };
}

// ---------------------------------------------------------------------------
// The saved form (evaluation.json) and the view made from it

/** A number as evaluation.json writes it: infinities and NaN as strings ("Infinity", "NaN"). */
const num = z.union([z.number(), z.enum(['Infinity', '-Infinity', 'NaN']).transform(Number), z.null().transform(() => Number.NaN)]);
const nums = z.array(num);

const pairFaceSchema = z.object({ image: z.number().int(), png: z.string(), identity: z.string() });
const pairViewSchema = z.object({ score: num, a: pairFaceSchema, b: pairFaceSchema });

/** The evaluated dataset (absent in files written before evaluations on other datasets). */
const evaluatedDataSchema = z.object({ name: z.string(), source: z.string(), hash: z.string(), identities: z.number().int(), images: z.number().int() });
/** What of the pairs the run trained on (overlap.ts; absent in the same older files). */
const overlapSchema = z.object({
  checked: z.boolean(),
  identities: z.number().int(),
  identityNames: z.array(z.string()),
  images: z.number().int(),
  idNamesNotCompared: z.number().int().optional(),
  note: z.string().optional(),
});

/** What the view needs of evaluation.json. Format 1 (the first `lab eval`) lacks the extras. */
export const savedEvaluationSchema = z.object({
  format: z.number().int().optional(),
  runId: z.string(),
  step: z.number().int(),
  data: evaluatedDataSchema.optional(),
  overlap: overlapSchema.optional(),
  pairsSource: z.string(),
  evaluatedAt: z.string().optional(),
  verification: z.object({
    pairs: z.number().int(),
    matchedPairs: z.number().int(),
    mismatchedPairs: z.number().int(),
    roc: z.object({ fpr: nums, tpr: nums }),
    auc: num,
    eer: num,
    tarAtFar: z.array(z.object({ far: num, tar: num })),
    tenFold: z.object({ foldAccuracies: nums, mean: num, standardError: num }),
  }),
  rank1: z.object({ accuracy: num, correct: z.number().int(), probes: z.number().int() }),
  notes: z.array(z.string()),
  histogram: z.object({ edges: nums, matched: nums, mismatched: nums }).optional(),
  hardest: z.object({ falseMatches: z.array(pairViewSchema), falseNonMatches: z.array(pairViewSchema) }).optional(),
});
export type SavedEvaluation = z.infer<typeof savedEvaluationSchema>;

/** The note a view of an evaluation saved without the extras carries. */
export const OLD_EVALUATION_NOTE = 'this evaluation was saved by an older version of the lab, without the score histogram and the hardest pairs: evaluate the run again to see them';

/** The Evaluate view of a saved evaluation; one saved without the extras gets an empty histogram, no hardest pairs, and a note saying so. */
export function evaluationView(saved: SavedEvaluation): EvaluationView {
  const v = saved.verification;
  const complete = saved.histogram !== undefined && saved.hardest !== undefined;
  const view: EvaluationView = {
    runId: saved.runId,
    step: saved.step,
    pairsSource: saved.pairsSource,
    pairs: v.pairs,
    matchedPairs: v.matchedPairs,
    mismatchedPairs: v.mismatchedPairs,
    accuracy: v.tenFold.mean,
    standardError: v.tenFold.standardError,
    folds: v.tenFold.foldAccuracies.length,
    auc: v.auc,
    eer: v.eer,
    tarAtFar: v.tarAtFar.map((t) => ({ far: t.far, tar: t.tar })),
    roc: thinRoc(v.roc.fpr, v.roc.tpr),
    histogram: saved.histogram ? { edges: [...saved.histogram.edges], matched: [...saved.histogram.matched], mismatched: [...saved.histogram.mismatched] } : { edges: [], matched: [], mismatched: [] },
    rank1: { accuracy: saved.rank1.accuracy, correct: saved.rank1.correct, probes: saved.rank1.probes },
    hardestFalseMatches: (saved.hardest?.falseMatches ?? []).map(copyPair),
    hardestFalseNonMatches: (saved.hardest?.falseNonMatches ?? []).map(copyPair),
    notes: complete ? [...saved.notes] : [...saved.notes, OLD_EVALUATION_NOTE],
    ...(saved.data === undefined ? {} : { data: { ...saved.data } }),
    ...(saved.overlap === undefined ? {} : { overlap: { ...saved.overlap, identityNames: [...saved.overlap.identityNames] } }),
  };
  return jsonSafe(view);
}

function copyPair(p: z.infer<typeof pairViewSchema>): PairView {
  return { score: p.score, a: { ...p.a }, b: { ...p.b } };
}

/**
 * The view with every non-finite number replaced by null. None of its numbers can be
 * non-finite for a valid evaluation; if one ever were, it is better sent as the null JSON
 * would make of it anyway than as a number a MessagePort carries but a WebSocket does not.
 */
function jsonSafe<T>(value: T): T {
  const walk = (x: unknown): unknown => {
    if (typeof x === 'number') return Number.isFinite(x) ? x : null;
    if (Array.isArray(x)) return x.map(walk);
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)]));
    return x;
  };
  return walk(value) as T;
}
