// The Evaluate view's chart data: the ROC curve (optionally on a log-FAR axis) with the chance
// line, the matched / mismatched score histograms as fractions of their pairs (trimmed to the
// bins that hold scores), and whether a TAR at a given FAR can be read off this many pairs.
import type { EvaluationView } from '../../../../electron/trainer/protocol/workbench';

export interface RocData {
  x: number[];
  series: { label: string; values: (number | null)[]; colour?: string; dash?: boolean }[];
  xLabel: string;
}

/**
 * TAR against FAR. On a log axis (what face verification reads: TAR at FAR 1e-3, 1e-2...)
 * x is log10(FAR) and the points at FAR 0 are left out. The chance line is TAR = FAR.
 */
export function rocData(roc: EvaluationView['roc'], logFar: boolean): RocData {
  const x: number[] = [];
  const tar: number[] = [];
  const n = Math.min(roc.far.length, roc.tar.length);
  for (let i = 0; i < n; i++) {
    const far = roc.far[i] as number;
    if (!Number.isFinite(far) || (logFar && far <= 0)) continue;
    x.push(logFar ? Math.log10(far) : far);
    tar.push(roc.tar[i] as number);
  }
  const chance = x.map((v) => (logFar ? 10 ** v : v));
  return {
    x,
    xLabel: logFar ? 'log₁₀ FAR (false accept rate)' : 'FAR (false accept rate)',
    series: [
      { label: 'TAR (true accept rate)', values: tar },
      { label: 'chance', values: chance, colour: '#999999', dash: true },
    ],
  };
}

export interface HistogramData {
  edges: number[];
  series: { label: string; values: number[]; colour?: string }[];
}

/**
 * The bins [from, to) worth drawing: from one empty bin before the first that holds a score to
 * one empty bin after the last (where there are such bins). Scores of a trained model often
 * sit in 0.85..1 of a -1..1 axis; drawn whole, the bars would be squashed against one edge.
 * All bins when none holds a score.
 */
export function occupiedBins(counts: readonly (readonly number[])[], bins: number, margin = 1): { from: number; to: number } {
  const holds = (i: number) => counts.some((c) => (c[i] ?? 0) > 0);
  let first = 0;
  while (first < bins && !holds(first)) first++;
  if (first === bins) return { from: 0, to: bins };
  let last = bins - 1;
  while (last > first && !holds(last)) last--;
  return { from: Math.max(0, first - margin), to: Math.min(bins, last + 1 + margin) };
}

/**
 * Matched and mismatched pair counts per score bin, each as a fraction of its own pairs (so
 * unequal counts compare), over the bins that hold scores (occupiedBins): the x axis spans the data.
 */
export function histogramData(histogram: EvaluationView['histogram'], colours: [string, string]): HistogramData {
  const fractions = (counts: number[]) => {
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (total > 0 ? c / total : 0));
  };
  const matchedTotal = histogram.matched.reduce((a, b) => a + b, 0);
  const mismatchedTotal = histogram.mismatched.reduce((a, b) => a + b, 0);
  const bins = Math.max(0, histogram.edges.length - 1);
  const { from, to } = occupiedBins([histogram.matched, histogram.mismatched], bins);
  return {
    edges: histogram.edges.slice(from, to + 1),
    series: [
      { label: `matched (same person, ${matchedTotal} pairs)`, values: fractions(histogram.matched).slice(from, to), colour: colours[0] },
      { label: `mismatched (different people, ${mismatchedTotal} pairs)`, values: fractions(histogram.mismatched).slice(from, to), colour: colours[1] },
    ],
  };
}

// ---------------------------------------------------------------------------
// TAR at a fixed FAR

/**
 * False accepts a TAR @ FAR point must rest on to be shown. FAR f over n mismatched pairs
 * allows n·f false accepts: below one, the threshold cannot be placed at that FAR at all (0.1%
 * of 770 pairs is 0.77 of a pair), so the number would only repeat the TAR at FAR 0. One is
 * the hard floor; a point resting on fewer than ROUGH_BELOW is shown but flagged as rough.
 */
export const MIN_FALSE_ACCEPTS = 1;
/** Below this many false accepts a TAR @ FAR point is set by a handful of impostor scores: shown, flagged rough. */
export const ROUGH_BELOW = 10;

export interface TarResolution {
  /** Whether there are enough mismatched pairs to read a TAR at this FAR. */
  resolvable: boolean;
  /** False accepts the FAR allows over these mismatched pairs (mismatched × FAR). */
  falseAccepts: number;
  /** Mismatched pairs needed for MIN_FALSE_ACCEPTS false accepts. */
  neededPairs: number;
  /** Resolvable, but resting on fewer than ROUGH_BELOW false accepts. */
  rough: boolean;
  /** Why the point is hidden or rough (for a title), or '' when it is neither. */
  note: string;
}

export function tarResolution(mismatchedPairs: number, far: number): TarResolution {
  const falseAccepts = mismatchedPairs * far;
  // 1e-9: FARs are decimal fractions (0.001 * 1000 is 1.0000000000000002 or 0.9999999999999999).
  const neededPairs = far > 0 ? Math.ceil(MIN_FALSE_ACCEPTS / far - 1e-9) : Infinity;
  const resolvable = far > 0 && falseAccepts >= MIN_FALSE_ACCEPTS - 1e-9;
  const rough = resolvable && falseAccepts < ROUGH_BELOW - 1e-9;
  const allows = `${Number(falseAccepts.toPrecision(3))} false accept${falseAccepts === 1 ? '' : 's'}`;
  const note = !resolvable
    ? `needs at least ${Number.isFinite(neededPairs) ? neededPairs.toLocaleString('en') : 'more'} mismatched pairs: at this FAR, ${mismatchedPairs.toLocaleString('en')} allow ${allows}, less than one`
    : rough
      ? `rough: at this FAR, ${mismatchedPairs.toLocaleString('en')} mismatched pairs allow only ${allows}`
      : '';
  return { resolvable, falseAccepts, neededPairs, rough, note };
}
