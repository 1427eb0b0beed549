// Histograms over time as TensorBoard's "offset" view draws them: one ridge per recorded step,
// the oldest at the back (top), the newest at the front (bottom), all on one value axis. Pure
// functions of the histograms: the layout (every ridge's outline as SVG path data, the ticks,
// the step labels, the notes a reader needs) and the SVG text drawn from it, which the app
// shows as it is and saves as a file, so the picture on screen and the exported one agree.
import { RIDGE_NEW_COLOUR, RIDGE_OLD_COLOUR } from './visual-constants';
import type { Histogram } from '#protocol/messages';
import { multiplesWithin } from './ticks';

/** One tensor's histogram at one step; null where the tensor held NaN or an infinity. */
export interface HistogramEntry {
  step: number;
  histogram: Histogram | null;
}

export type RidgeKind = 'drawn' | 'constant' | 'null';

export interface Ridge {
  step: number;
  kind: RidgeKind;
  /** y of the ridge's baseline (a count of 0). */
  baseline: number;
  /**
   * The outline: from the histogram's min on the baseline, through each bin's top at the bin's
   * centre, to its max on the baseline, closed. A constant tensor is a spike at its value; a
   * null histogram has no outline ('').
   */
  path: string;
  /** Each bin's height in pixels: its count over the ridge's tallest bin, times ridgeHeight. */
  heights: number[];
  /** Its tooltip: the step, the range, how many values were counted. */
  title: string;
  /** Older ridges are paler. */
  colour: string;
  /** Whether its step is written beside it (labels stay apart). */
  labelled: boolean;
}

export interface AxisTick {
  value: number;
  x: number;
  label: string;
}

export interface RidgeChart {
  width: number;
  height: number;
  /** The plotting area. */
  left: number;
  right: number;
  top: number;
  bottom: number;
  /** The tallest a ridge stands, in pixels. */
  ridgeHeight: number;
  /** The shared value range of the shown ridges; null when none has values. */
  range: { min: number; max: number } | null;
  ticks: AxisTick[];
  /** Oldest first: the order they are drawn in, back to front. */
  ridges: Ridge[];
  /** Steps recorded, and steps shown (thinned evenly to at most maxRidges, the newest kept). */
  recorded: number;
  shown: number;
  /** What a reader must know: sampling, NaN or infinity, constant tensors, thinning, the scaling. */
  notes: string[];
}

export interface RidgeOptions {
  width?: number;
  height?: number;
  /** The most ridges drawn; more recorded steps are thinned evenly (the newest always shown). */
  maxRidges?: number;
}

/** The picture's fixed parts, in pixels. */
const MARGIN = { left: 14, right: 62, top: 10, bottom: 34 };
/** The tallest ridge's share of the plot's height (the rest is the offset between steps). */
const RIDGE_SHARE = 0.4;
/** Step labels closer than this are left out (the newest always kept). */
const LABEL_GAP = 11;

const px = (v: number): string => String(Math.round(v * 100) / 100);

/** A number for a label: three significant digits, no float noise. */
export function shortNumber(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** The increment on the 1-2-5 ladder whose tick count over `span` comes closest to `target`. */
export function niceIncrement(span: number, target = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const e = Math.floor(Math.log10(span / target));
  let best = 10 ** e;
  for (let k = e - 1; k <= e + 1; k++) {
    for (const m of [1, 2, 5]) {
      const incr = m * 10 ** k;
      if (Math.abs(span / incr - target) < Math.abs(span / best - target)) best = incr;
    }
  }
  return Number(best.toPrecision(12));
}

/** The indices of at most `max` entries, evenly spread, first and last kept. */
export function evenIndices(length: number, max: number): number[] {
  if (length <= max) return Array.from({ length }, (_, i) => i);
  if (max <= 1) return [length - 1];
  const out = new Set<number>();
  for (let k = 0; k < max; k++) out.add(Math.round((k * (length - 1)) / (max - 1)));
  return [...out].sort((a, b) => a - b);
}

function mix(t: number): string {
  const c = RIDGE_OLD_COLOUR.map((o, i) => Math.round(o + (RIDGE_NEW_COLOUR[i]! - o) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** "every 4th of 4,194,304 values" */
export function samplingText(h: Histogram): string {
  const nth = h.stride === 2 ? '2nd' : h.stride === 3 ? '3rd' : `${h.stride}th`;
  return `every ${nth} of ${h.total.toLocaleString('en-US')} values`;
}

function ridgeTitle(step: number, h: Histogram | null): string {
  if (h === null) return `step ${step}: NaN or infinity in the tensor, no histogram`;
  if (h.min === h.max) return `step ${step}: all ${h.total.toLocaleString('en-US')} values ${shortNumber(h.min)}`;
  const counted = h.stride > 1 ? `counted ${samplingText(h)}` : `${h.total.toLocaleString('en-US')} values`;
  return `step ${step}: ${shortNumber(h.min)} to ${shortNumber(h.max)}, ${counted}`;
}

/** Lays out the ridges of a histogram history (entries in step order). */
export function ridgeline(entries: readonly HistogramEntry[], options: RidgeOptions = {}): RidgeChart {
  const { width = 440, height = 250, maxRidges = 30 } = options;
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const plotH = bottom - top;
  const ridgeHeight = Math.round(plotH * RIDGE_SHARE);
  const shownEntries = evenIndices(entries.length, Math.max(1, maxRidges)).map((i) => entries[i]!);
  const valued = shownEntries.flatMap((e) => (e.histogram ? [e.histogram] : []));

  let range: RidgeChart['range'] = null;
  if (valued.length > 0) {
    let min = Math.min(...valued.map((h) => h.min));
    let max = Math.max(...valued.map((h) => h.max));
    if (min === max) {
      // Every shown value the same: a range around it, so the spike stands in the middle.
      const pad = min === 0 ? 0.5 : Math.abs(min) * 0.1;
      min -= pad;
      max += pad;
    }
    range = { min, max };
  }
  const xOf = (v: number): number => (range ? left + ((v - range.min) / (range.max - range.min)) * (right - left) : left);

  const n = shownEntries.length;
  const offset = n > 1 ? (plotH - ridgeHeight) / (n - 1) : 0;
  const ridges: Ridge[] = shownEntries.map((entry, k) => {
    const baseline = n > 1 ? top + ridgeHeight + k * offset : bottom;
    const colour = mix(n > 1 ? k / (n - 1) : 1);
    const h = entry.histogram;
    const title = ridgeTitle(entry.step, h);
    if (h === null) return { step: entry.step, kind: 'null', baseline, path: '', heights: [], title, colour, labelled: false };
    const peak = Math.max(0, ...h.counts);
    const heights = h.counts.map((c) => (peak > 0 ? (c / peak) * ridgeHeight : 0));
    if (h.min === h.max) {
      const x = xOf(h.min);
      const path = `M${px(x - 2)},${px(baseline)}L${px(x)},${px(baseline - ridgeHeight)}L${px(x + 2)},${px(baseline)}Z`;
      return { step: entry.step, kind: 'constant', baseline, path, heights, title, colour, labelled: false };
    }
    const w = (h.max - h.min) / h.counts.length;
    const points = heights.map((ht, i) => `L${px(xOf(h.min + (i + 0.5) * w))},${px(baseline - ht)}`);
    const path = `M${px(xOf(h.min))},${px(baseline)}${points.join('')}L${px(xOf(h.max))},${px(baseline)}Z`;
    return { step: entry.step, kind: 'drawn', baseline, path, heights, title, colour, labelled: false };
  });
  // Step labels: the oldest and the newest, and from the newest back every ridge at least
  // LABEL_GAP from the label below it and from the oldest's.
  const oldest = ridges[0];
  if (oldest) oldest.labelled = true;
  let lastLabel = Infinity;
  for (let k = ridges.length - 1; k >= 1; k--) {
    const ridge = ridges[k]!;
    if (lastLabel - ridge.baseline >= LABEL_GAP && ridge.baseline - oldest!.baseline >= LABEL_GAP) {
      ridge.labelled = true;
      lastLabel = ridge.baseline;
    }
  }

  let ticks: AxisTick[] = [];
  if (range) {
    const incr = niceIncrement(range.max - range.min);
    const decimals = Math.max(0, -Math.floor(Math.log10(incr) + 1e-9));
    const label = (v: number) => (Math.abs(v) < 1e-3 && v !== 0 ? shortNumber(v) : v.toFixed(Math.min(decimals, 6)));
    ticks = multiplesWithin(range.min, range.max, incr).map((value) => ({ value, x: xOf(value), label: label(value) }));
    if (ticks.length < 2) ticks = [range.min, range.max].map((value) => ({ value, x: xOf(value), label: shortNumber(value) }));
  }

  return { width, height, left, right, top, bottom, ridgeHeight, range, ticks, ridges, recorded: entries.length, shown: n, notes: ridgeNotes(entries, shownEntries) };
}

function ridgeNotes(entries: readonly HistogramEntry[], shown: readonly HistogramEntry[]): string[] {
  if (shown.length === 0) return [];
  const notes: string[] = ['Each ridge is scaled to its own tallest bin.'];
  if (shown.length < entries.length) notes.push(`${shown.length} of ${entries.length} recorded steps shown, evenly spaced (the newest always).`);
  const nulls = shown.filter((e) => e.histogram === null);
  if (nulls.length > 0) {
    const steps = nulls.slice(-3).map((e) => e.step).join(', ');
    notes.push(`${nulls.length} step${nulls.length === 1 ? '' : 's'} held NaN or infinity, so no histogram (dashed; step${nulls.length === 1 ? '' : 's'} ${nulls.length > 3 ? '…, ' : ''}${steps}).`);
  }
  const constant = shown.filter((e) => e.histogram !== null && e.histogram.min === e.histogram.max);
  if (constant.length > 0) {
    const newest = constant.at(-1)!.histogram!;
    notes.push(`${constant.length} step${constant.length === 1 ? '' : 's'} with every value equal, drawn as a spike (newest: all ${shortNumber(newest.min)}).`);
  }
  const sampled = [...shown].reverse().find((e) => e.histogram !== null && e.histogram.stride > 1)?.histogram;
  if (sampled) notes.push(`Counts from a sample: ${samplingText(sampled)} (min and max are over all of them).`);
  return notes;
}

/** Words into lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The chart's own colours: fixed greys in a saved file (white background), the page's text colour at lower opacities on screen. */
const FILE_INK = { text: '#444', grid: '#ddd', axis: '#888', gridOpacity: 1, axisOpacity: 1, faintOpacity: 0.75 } as const;
const PAGE_INK = { text: 'currentColor', grid: 'currentColor', axis: 'currentColor', gridOpacity: 0.18, axisOpacity: 0.5, faintOpacity: 0.65 } as const;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The chart as SVG text. With `title` (a saved file) the title goes on top and the notes under
 * the axis, so the file explains itself; without (in the app, where the page has them) neither.
 */
export function ridgelineSvg(chart: RidgeChart, { title, xLabel = 'value' }: { title?: string; xLabel?: string } = {}): string {
  const head = title ? 22 : 0;
  const newest = chart.ridges.at(-1);
  // About 5.6 px a character at 10 px: notes wrap to the drawing's width instead of running off it.
  const perLine = Math.max(20, Math.floor((chart.width - chart.left - 4) / 5.6));
  const notes = title ? [...(newest ? [`Newest: ${newest.title}.`] : []), ...chart.notes].flatMap((note) => wrap(note, perLine)) : [];
  const height = chart.height + head + notes.length * 14;
  // A saved file is dark on white; in the page the labels and grid take the page's text colour,
  // so they read in the dark theme too.
  const ink = title ? FILE_INK : PAGE_INK;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${chart.width}" height="${height}" viewBox="0 0 ${chart.width} ${height}" font-family="sans-serif" font-size="10">`);
  if (title) out.push(`<title>${esc(title)}</title><rect width="${chart.width}" height="${height}" fill="#ffffff"/><text x="${chart.left}" y="15" font-size="13" font-weight="bold" fill="#222">${esc(title)}</text>`);
  out.push(`<g transform="translate(0 ${head})">`);
  out.push(`<g stroke="${ink.grid}" stroke-opacity="${ink.gridOpacity}">${chart.ticks.map((t) => `<line x1="${px(t.x)}" y1="${chart.top}" x2="${px(t.x)}" y2="${chart.bottom}"/>`).join('')}</g>`);
  for (const r of chart.ridges) {
    // Steps arrive unvalidated from the stream: escaped like every other text put in this markup.
    out.push(`<g data-step="${esc(String(r.step))}" data-kind="${r.kind}"><title>${esc(r.title)}</title>`);
    if (r.kind === 'null') {
      out.push(`<line x1="${chart.left}" y1="${px(r.baseline)}" x2="${chart.right}" y2="${px(r.baseline)}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${chart.left + 2}" y="${px(r.baseline - 2)}" fill="#c0392b">NaN/inf</text>`);
    } else {
      out.push(`<path d="${r.path}" fill="${r.colour}" fill-opacity="0.9" stroke="#6b3300" stroke-width="0.6" stroke-linejoin="round"/>`);
    }
    out.push('</g>');
  }
  out.push(`<g fill="${ink.text}">`);
  for (const r of chart.ridges) if (r.labelled) out.push(`<text x="${chart.right + 4}" y="${px(r.baseline + 3)}">${esc(String(r.step))}</text>`);
  if (chart.ridges.length > 0) out.push(`<text x="${chart.right + 4}" y="${chart.top + 4}" fill="${ink.text}" fill-opacity="${ink.faintOpacity}">step</text>`);
  out.push('</g>');
  out.push(`<g stroke="${ink.axis}" stroke-opacity="${ink.axisOpacity}"><line x1="${chart.left}" y1="${chart.bottom}" x2="${chart.right}" y2="${chart.bottom}"/>${chart.ticks.map((t) => `<line x1="${px(t.x)}" y1="${chart.bottom}" x2="${px(t.x)}" y2="${chart.bottom + 4}"/>`).join('')}</g>`);
  out.push(`<g fill="${ink.text}" text-anchor="middle">${chart.ticks.map((t) => `<text x="${px(t.x)}" y="${chart.bottom + 14}">${esc(t.label)}</text>`).join('')}`);
  out.push(`<text x="${px((chart.left + chart.right) / 2)}" y="${chart.bottom + 28}" fill="${ink.text}" fill-opacity="${ink.faintOpacity}">${esc(xLabel)}</text></g>`);
  out.push('</g>');
  notes.forEach((note, i) => out.push(`<text x="${chart.left}" y="${chart.height + head + 10 + i * 14}" fill="#555">${esc(note)}</text>`));
  out.push('</svg>');
  return out.join('\n');
}

/** The chart in words (its aria-label): the steps, the range, and the newest step's spread. */
export function ridgelineDescription(chart: RidgeChart, what: string): string {
  if (chart.ridges.length === 0) return `${what}: no histograms recorded yet`;
  const first = chart.ridges[0]!.step;
  const last = chart.ridges.at(-1)!;
  const range = chart.range ? `, values ${shortNumber(chart.range.min)} to ${shortNumber(chart.range.max)}` : '';
  const steps = chart.shown === 1 ? `1 step (${first})` : `${chart.shown} steps from ${first} to ${last.step}`;
  return `${what}: ${steps}${range}; newest, ${last.title}`;
}
