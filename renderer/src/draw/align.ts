// uPlot draws series that share one x array. Runs (or layers) sampled at different steps
// are put on the union of their x values, with null where a series has no point (uPlot
// leaves a gap, or bridges it with spanGaps).
import { SERIES_COLOURS, SERIES_DASHES } from './visual-constants';
export interface XYSeries {
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
}

export function alignSeries(series: readonly XYSeries[]): { x: number[]; ys: (number | null)[][] } {
  const xs = new Set<number>();
  for (const s of series) for (let i = 0; i < s.x.length; i++) xs.add(s.x[i] as number);
  const x = [...xs].sort((a, b) => a - b);
  const position = new Map(x.map((value, i) => [value, i]));
  const ys = series.map((s) => {
    const out: (number | null)[] = new Array(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      out[position.get(s.x[i] as number) as number] = y === null || y === undefined || !Number.isFinite(y) ? null : y;
    }
    return out;
  });
  return { x, ys };
}

/** Keeps at most `max` points by striding (the last point always kept): long runs stay cheap to redraw. */
export function thin(x: readonly number[], ys: readonly (readonly (number | null)[])[], max: number): { x: number[]; ys: (number | null)[][] } {
  if (x.length <= max) return { x: [...x], ys: ys.map((y) => [...y]) };
  const stride = Math.ceil(x.length / max);
  const keep: number[] = [];
  for (let i = 0; i < x.length; i += stride) keep.push(i);
  if (keep[keep.length - 1] !== x.length - 1) keep.push(x.length - 1);
  return { x: keep.map((i) => x[i] as number), ys: ys.map((y) => keep.map((i) => y[i] ?? null)) };
}

export function seriesColour(i: number): string {
  return SERIES_COLOURS[i % SERIES_COLOURS.length] as string;
}

/** Series i's colour and line pattern: the colour cycles through the palette, the pattern changes on each pass. */
export function seriesStyle(i: number): { colour: string; dash: number[] | null } {
  const pass = Math.floor(i / SERIES_COLOURS.length) % SERIES_DASHES.length;
  const dash = SERIES_DASHES[pass] ?? null;
  return { colour: seriesColour(i), dash: dash ? [...dash] : null };
}
