// When a run takes its weight and activation histograms (probes/histograms.ts). Each one is
// streamed and written to metrics.jsonl, so the cadence bounds the record: TensorBoard keeps
// 500 histograms per tag by default, and a run takes about as many, spread over its steps.
import type { HistogramRequest } from '../probes/run-probes';

/** About how many histogram rows a run writes. */
export const HISTOGRAM_RECORDS = 500;
/** Histograms are taken at most every this many steps (they cost a few reductions per layer). */
export const MIN_HISTOGRAM_EVERY = 5;
/** The first layer's filters go with every this-many-th histogram row (they are larger). */
export const FILTERS_EVERY_NTH = 10;

/** Every how many steps a run of `totalSteps` takes histograms. */
export function histogramEvery(totalSteps: number): number {
  return Math.max(MIN_HISTOGRAM_EVERY, Math.ceil(totalSteps / HISTOGRAM_RECORDS));
}

/**
 * What step `step` (1-based) takes in a run of `totalSteps` (its last step, maxSteps
 * included): histograms on step 1, every `histogramEvery` steps and on the last step; the
 * filters on step 1, the last step and every FILTERS_EVERY_NTH histogram row. Undefined:
 * nothing this step.
 */
export function histogramRequest(step: number, totalSteps: number): HistogramRequest | undefined {
  const every = histogramEvery(totalSteps);
  const edge = step === 1 || step === totalSteps;
  if (!edge && step % every !== 0) return undefined;
  return { histograms: true, filters: edge || step % (every * FILTERS_EVERY_NTH) === 0 };
}
