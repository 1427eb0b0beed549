// The Evaluate view's chart data: the ROC curve (optionally on a log-FAR axis) with the chance
// line, and the matched / mismatched score histograms as fractions of their pairs.
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

/** Matched and mismatched pair counts per score bin, each as a fraction of its own pairs (so unequal counts compare). */
export function histogramData(histogram: EvaluationView['histogram'], colours: [string, string]): HistogramData {
  const fractions = (counts: number[]) => {
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (total > 0 ? c / total : 0));
  };
  const matchedTotal = histogram.matched.reduce((a, b) => a + b, 0);
  const mismatchedTotal = histogram.mismatched.reduce((a, b) => a + b, 0);
  return {
    edges: histogram.edges,
    series: [
      { label: `matched (same person, ${matchedTotal} pairs)`, values: fractions(histogram.matched), colour: colours[0] },
      { label: `mismatched (different people, ${mismatchedTotal} pairs)`, values: fractions(histogram.mismatched), colour: colours[1] },
    ],
  };
}
