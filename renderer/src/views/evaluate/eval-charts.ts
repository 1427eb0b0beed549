// The Evaluate view's chart data: the ROC curve (optionally on a log-FAR axis) with the chance
// line, the matched / mismatched score histograms as fractions of their pairs (trimmed to the
// bins that hold scores), and whether a TAR at a given FAR can be read off this many pairs.
import type { EvaluationView } from '#protocol/workbench';
import { CHANCE_COLOUR } from '../../draw/visual-constants';

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
      { label: 'chance', values: chance, colour: CHANCE_COLOUR, dash: true },
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

// The rule is shared with the command line (`lab eval`): protocol/tar-resolution.ts.
export { MIN_FALSE_ACCEPTS, ROUGH_BELOW, tarResolution, type TarResolution } from '#protocol/tar-resolution';
