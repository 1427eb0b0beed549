// Axis ticks for the line charts (components/LineChart.svelte, on uPlot): whole-number steps on
// a step axis (uPlot's default increments include 0.5, so a run's first two steps read 1, 1.5,
// 2), and at least a few ticks on a value axis whose range is narrow (a loss between 3.65 and
// 3.82 on a short chart got a single tick, "3.7"). Pure functions of numbers, for uPlot's
// `incrs` and `splits` options.

/** Tick increments for an axis of whole numbers (steps): 1, 2, 5, 10, 20, 50... up to 5e9. */
export const INTEGER_INCRS: readonly number[] = (() => {
  const out: number[] = [];
  for (let e = 0; e <= 9; e++) for (const m of [1, 2, 5]) out.push(m * 10 ** e);
  return out;
})();

/** The next smaller increment on the 1-2-5 ladder: 1 -> 0.5, 0.5 -> 0.2, 0.2 -> 0.1, 2 -> 1... */
export function smallerIncrement(incr: number): number {
  if (!(incr > 0) || !Number.isFinite(incr)) return incr;
  const exponent = Math.floor(Math.log10(incr) + 1e-9);
  const base = 10 ** exponent;
  const mantissa = Math.round((incr / base) * 1e6) / 1e6;
  if (mantissa > 5) return 5 * base;
  if (mantissa > 2) return 2 * base;
  if (mantissa > 1) return base;
  return 0.5 * base;
}

/** The multiples of `incr` within [min, max] (rounded so that 0.1 * 3 reads 0.3). */
export function multiplesWithin(min: number, max: number, incr: number): number[] {
  if (!(incr > 0) || !Number.isFinite(min) || !Number.isFinite(max) || max < min) return [];
  const first = Math.ceil(min / incr - 1e-9);
  const last = Math.floor(max / incr + 1e-9);
  if (last - first > 10_000) return [];
  const out: number[] = [];
  for (let k = first; k <= last; k++) out.push(Number((k * incr).toPrecision(12)));
  return out;
}

/**
 * Ticks for a value axis: the multiples of uPlot's increment in [min, max], or, when that gives
 * fewer than `minTicks`, of the next smaller increments (1-2-5 ladder) until it does. A narrow
 * range then still shows a scale (3.65, 3.7, 3.75, 3.8) instead of one lone number. A smaller
 * increment is taken only while its ticks stay `minPx` apart (`pxPerIncr`: the pixels uPlot
 * gives one `incr`), so the labels never run into each other on a short chart.
 */
export function ensureTicks(min: number, max: number, incr: number, minTicks = 3, pxPerIncr = Infinity, minPx = 14): number[] {
  let step = incr;
  let ticks = multiplesWithin(min, max, step);
  for (let tries = 0; ticks.length < minTicks && tries < 8; tries++) {
    const smaller = smallerIncrement(step);
    if (!(smaller < step) || (pxPerIncr * smaller) / incr < minPx) break;
    step = smaller;
    ticks = multiplesWithin(min, max, step);
  }
  return ticks;
}

/**
 * Ticks of a log axis: powers of ten only, when the range spans at least one (uPlot's own put a
 * grid line at every 1..9 x 10^k: 20 lines over two decades crowd a short chart); within less
 * than a decade, the 1-2-5 values in it, or just the ends.
 */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max >= min) || !Number.isFinite(max)) return [];
  const lo = Math.ceil(Math.log10(min) - 1e-9);
  const hi = Math.floor(Math.log10(max) + 1e-9);
  if (hi >= lo) {
    // Many decades: every other one (or sparser), at most about 8 lines.
    const every = Math.max(1, Math.ceil((hi - lo + 1) / 8));
    const out: number[] = [];
    for (let e = lo; e <= hi; e += every) out.push(Number((10 ** e).toPrecision(12)));
    return out;
  }
  const out: number[] = [];
  const decade = Math.floor(Math.log10(min));
  for (const e of [decade, decade + 1]) for (const m of [1, 2, 5]) {
    const v = Number((m * 10 ** e).toPrecision(12));
    if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
  }
  return out.length > 0 ? out : [min, max];
}
