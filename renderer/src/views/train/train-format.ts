// The Train view's small pure helpers: number formatting, which grid tiles are dead (in the
// space the grid shows: output channels or maxout/MFM pieces), and summaries of per-channel
// lists. No Svelte here, so the component tests and the node tests can both use them.
import type { LayerInfo, LayerStats } from '#protocol/messages';
import { displayRange, isDiverging, type ColourMapName, type Range, type ScaleMode } from '../../draw/heatmap';
import type { MapKind } from '../../lib/live-run.svelte';

/** A number for a table cell: 3 significant digits, exponent form when tiny or huge, a dash for none. */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

/** A fraction (0..1) as a percentage. */
export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${(v * 100).toFixed(digits)}%`;
}

export function summary(values: readonly number[] | undefined): { min: number; mean: number; max: number } | null {
  if (!values || values.length === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, mean: sum / values.length, max };
}

/** Channels the grid shows for a layer: its output filters, or its pre-activation channels (maxout/MFM pieces). */
export function channelsShown(info: LayerInfo, kind: MapKind): number {
  return kind === 'activation' ? info.channels : info.preActivationChannels;
}

export interface DeadMarks {
  /** Tiles whose filter (or piece) is dead over the window. */
  dead: Set<number>;
  /** Output filters of a maxout/MFM layer some (not all) of whose pieces are dead: tile -> dead pieces. */
  partial: Map<number, number>;
  /** Filters wholly in the negative regime (cannot-die layers), when the trainer lists them. */
  negative: Set<number>;
}

/**
 * Maps the trainer's dead indices onto the tiles of the grid. For maxout and MFM
 * (filterSpace 'pieces') the indices count pre-activation channels, piece i of output c
 * being channel i*C + c: the pre-activation grid marks them as they are; the output grid
 * marks a filter dead only if all its pieces are, and counts the dead pieces of the rest.
 * Elsewhere an output filter and its pre-activation channel are the same channel.
 */
export function deadMarks(stats: LayerStats | null, info: LayerInfo | null, kind: MapKind): DeadMarks {
  const marks: DeadMarks = { dead: new Set(), partial: new Map(), negative: new Set() };
  if (!stats) return marks;
  for (const i of stats.negativeRegimeFilterIndices ?? []) marks.negative.add(i);
  if (stats.filterSpace === 'pieces') {
    if (kind === 'preactivation') {
      for (const i of stats.deadFilterIndices) marks.dead.add(i);
      return marks;
    }
    const C = info?.channels ?? 0;
    if (C <= 0) return marks;
    const k = Math.max(1, Math.round((info?.preActivationChannels ?? stats.filters) / C));
    const deadPieces = new Map<number, number>();
    for (const i of stats.deadFilterIndices) deadPieces.set(i % C, (deadPieces.get(i % C) ?? 0) + 1);
    for (const [c, n] of deadPieces) {
      if (n >= k) marks.dead.add(c);
      else marks.partial.set(c, n);
    }
    return marks;
  }
  if (kind === 'preactivation' && info && info.preActivationChannels !== info.channels) return marks;
  for (const i of stats.deadFilterIndices) marks.dead.add(i);
  return marks;
}

/** The colour map a grid uses: 'auto' picks the diverging one for pre-activations and for maps with negative values. */
export function resolveColours(choice: 'auto' | ColourMapName, kind: MapKind, layerMin: number | null): ColourMapName {
  if (choice !== 'auto') return choice;
  if (kind === 'preactivation') return 'diverging';
  return layerMin !== null && layerMin < 0 ? 'diverging' : 'viridis';
}

/**
 * "dead over the last 50 steps"; before the window has filled (`step` < window), what the
 * counts then are, as the command line says: dead since step 1.
 */
export function windowText(window: number | null, step: number | null = null): string {
  if (window === null) return 'waiting for the first layer statistics';
  if (step !== null && step < window) return `dead since step 1: the ${window}-step window has not filled yet (it does at step ${window})`;
  return `dead over the last ${window} step${window === 1 ? '' : 's'}`;
}

/**
 * The dead-count curve without its points before the window filled (issue 14, 2.3): until
 * step `window`, "dead over the last N steps" is "not fired since step 1", and the first points
 * (42% dead, falling) only show the window filling. Kept whole when the run is shorter than
 * the window (it never fills: the chart says so instead).
 */
export function maskBeforeWindow(x: readonly number[], values: readonly (number | null)[], window: number | null, totalSteps: number | null): (number | null)[] {
  if (window === null || window <= 1 || windowLongerThanRun(window, totalSteps)) return [...values];
  return values.map((v, i) => ((x[i] ?? 0) < window ? null : v));
}

/** Whether the statistics window is longer than the whole run (so it never fills). */
export function windowLongerThanRun(window: number | null, totalSteps: number | null): boolean {
  return window !== null && totalSteps !== null && totalSteps > 0 && window > totalSteps;
}

/**
 * The scale the grid colours a map against. 1x1 maps (a fully connected layer's units) have no
 * range of their own, so 'filter' draws them on the layer's range, as the Runs replay does.
 */
export function effectiveScale(mode: ScaleMode, pixels: number): ScaleMode {
  return mode === 'filter' && pixels <= 1 ? 'layer' : mode;
}

/**
 * The colour bar's caption: what its left end, its middle and its right end stand for, as the
 * grid draws them (draw/heatmap.ts scaleFor and displayRange) for each colour map and scale:
 * sequential maps run from the scale's min to its max; the diverging map is centred on zero
 * (white), from -max|x| to +max|x|, whether that is each map's own or the layer's.
 * `range` is the layer's (or the global) scale; null before any maps.
 */
export function scaleLegend(mode: ScaleMode, colours: ColourMapName, range: Range | null, pixels: number): string {
  if (!range) return 'waiting for maps';
  const scale = effectiveScale(mode, pixels);
  const diverging = isDiverging(colours);
  if (scale === 'filter') {
    return diverging
      ? 'each map from −max|x| (left) through 0 (white) to +max|x| (right), max|x| its own largest |value|'
      : 'each map from its own min (left) to its own max (right)';
  }
  const whose = scale === 'layer' ? 'this layer, this frame' : 'all maps seen in this run';
  const prefix = mode === 'filter' ? '1×1 maps have no range of their own: ' : '';
  if (diverging) {
    const shown = displayRange(range, colours);
    return `${prefix}${fmt(shown.min)} (left) … 0 (white) … ${fmt(shown.max)} (right) (${whose}; ±its largest |value|)`;
  }
  return `${prefix}${fmt(range.min)} … ${fmt(range.max)} (${whose})`;
}
