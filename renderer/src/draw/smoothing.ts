// TensorBoard's smoothing of a scalar curve: an exponential moving average with debiasing.
// With weight w, s_t = w·s_{t-1} + (1−w)·v_t from s_0 = 0, divided by 1 − w^n (n: points
// so far) so that the start is not pulled towards zero. Gaps (null, non-finite) stay gaps
// and do not count. Weight 0 is the raw series; the weight is clamped to 0..0.99.
export const MAX_SMOOTHING = 0.99;

export function clampSmoothing(weight: number): number {
  return Number.isFinite(weight) ? Math.min(MAX_SMOOTHING, Math.max(0, weight)) : 0;
}

export function smoothSeries(values: readonly (number | null)[], weight: number): (number | null)[] {
  const w = clampSmoothing(weight);
  if (w === 0) return [...values];
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * w + (1 - w) * v;
    n += 1;
    return last / (1 - Math.pow(w, n));
  });
}
