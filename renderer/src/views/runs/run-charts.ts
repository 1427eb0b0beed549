// The data behind the Runs view's charts: one run's recorded curves, and several runs'
// curves overlaid. Pure functions from parsed metrics (lib/run-records.ts) to what LineChart
// takes (one shared x array, a values array per series, and reference lines: chance level
// where the run record says how many identities the run trained on).
import { alignSeries, seriesColour, seriesStyle } from '../../draw/align';
import type { ReferenceLine } from '../../draw/reference-lines';
import { chanceLines } from '../../lib/chance';
import { hasRule, layerInfo, layerNames, layerPercentSeries, mergeLayerOrder, runConfig, runLabel, totalPercentSeries, type RunDetailView, type RunRecordView } from '../../lib/run-records';

export interface Series {
  label: string;
  /** The long form of a short label (a run's full id), for the legend's tooltip and screen readers. */
  title?: string;
  values: (number | null)[];
  colour?: string;
  dash?: boolean | number[];
  /** Per point, what the legend adds after the value (the count behind a percentage). */
  notes?: (string | null)[];
}

export interface ChartData {
  x: number[];
  series: Series[];
  /** Horizontal yardsticks (chance level), not data. */
  references?: ReferenceLine[];
}

/** Points kept per chart: more than a chart's width in pixels, few enough to redraw quickly. */
export const MAX_POINTS = 1500;

interface Part {
  label: string;
  title?: string;
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
  colour?: string;
  dash?: boolean | number[];
  /** Per point of `x`: the legend's note (a count behind a percentage). */
  notes?: ArrayLike<string | null>;
}

/**
 * Keeps at most about `max` x positions by striding over the dense series, but every position
 * where a sparse series (one with fewer than `max` points, e.g. one value per epoch) has a value:
 * striding alone would drop those.
 */
export function thinKeeping(x: readonly number[], ys: readonly (readonly (number | null)[])[], max: number): { x: number[]; ys: (number | null)[][] } {
  if (x.length <= max) return { x: [...x], ys: ys.map((y) => [...y]) };
  const keep = new Set<number>();
  const stride = Math.ceil(x.length / max);
  for (let i = 0; i < x.length; i += stride) keep.add(i);
  keep.add(x.length - 1);
  for (const y of ys) {
    let count = 0;
    for (const v of y) if (v !== null) count++;
    if (count <= max) y.forEach((v, i) => v !== null && keep.add(i));
  }
  const indices = [...keep].sort((a, b) => a - b);
  return { x: indices.map((i) => x[i] as number), ys: ys.map((y) => indices.map((i) => y[i] ?? null)) };
}

function chart(parts: Part[], max = MAX_POINTS): ChartData {
  const aligned = alignSeries(parts.map((p) => ({ x: p.x, y: p.y })));
  const thinned = thinKeeping(aligned.x, aligned.ys, max);
  return {
    x: thinned.x,
    series: parts.map((p, i) => ({
      label: p.label,
      ...(p.title ? { title: p.title } : {}),
      values: thinned.ys[i] ?? [],
      ...(p.colour ? { colour: p.colour } : {}),
      ...(p.dash ? { dash: p.dash } : {}),
      ...(p.notes ? { notes: notesAt(p, thinned.x) } : {}),
    })),
  };
}

/** A part's notes on the chart's x positions (null where it has no point). */
function notesAt(part: Part, xs: readonly number[]): (string | null)[] {
  const byX = new Map<number, string | null>();
  for (let i = 0; i < part.x.length; i++) byX.set(part.x[i] as number, part.notes?.[i] ?? null);
  return xs.map((x) => byX.get(x) ?? null);
}

/** A layer's line in a chart with a line per layer: the palette's colour and pattern for its place in the model. */
function layerStyle(i: number): { colour: string; dash?: number[] } {
  const { colour, dash } = seriesStyle(i);
  return dash ? { colour, dash } : { colour };
}

// ---------------------------------------------------------------------------
// One run

export interface RunCharts {
  loss: ChartData;
  accuracy: ChartData;
  lr: ChartData;
  /** Dead filters per layer, for the layers whose activation can die. */
  dead: ChartData;
  /** Negative-regime filters per layer, for the layers whose activation cannot die (leaky ReLU, PReLU, RReLU). */
  negative: ChartData;
  /** The window the dead counts were taken over (from the last row). */
  window: number | null;
  /** Whether the learning rate is drawn on a log axis (as in the Train view): when every value is positive. */
  lrLog: boolean;
}

export function runCharts(run: RunDetailView): RunCharts {
  const { steps, epochs, layers } = run.metrics;
  const stepX = steps.map((s) => s.step);
  const epochX = epochs.map((e) => e.step);
  const loss = chart([
    { label: 'loss (step)', x: stepX, y: steps.map((s) => s.loss), colour: seriesColour(0) },
    { label: 'train loss (epoch mean)', x: epochX, y: epochs.map((e) => e.trainLoss), colour: seriesColour(1), dash: true },
    { label: 'val loss', x: epochX, y: epochs.map((e) => e.valLoss), colour: seriesColour(2), dash: true },
  ]);
  const accuracy = chart([
    { label: 'accuracy (step)', x: stepX, y: steps.map((s) => s.accuracy), colour: seriesColour(0) },
    { label: 'train accuracy (epoch mean)', x: epochX, y: epochs.map((e) => e.trainAccuracy), colour: seriesColour(1), dash: true },
    { label: 'val accuracy', x: epochX, y: epochs.map((e) => e.valAccuracy), colour: seriesColour(2), dash: true },
  ]);
  const chance = chanceLines([run.record.dataset?.identities]);
  loss.references = chance.loss;
  accuracy.references = chance.accuracy;
  const lr = chart([{ label: 'learning rate', x: stepX, y: steps.map((s) => s.lr), colour: seriesColour(0) }]);
  const names = layerNames(run.metrics);
  const deadParts: Part[] = [];
  const negativeParts: Part[] = [];
  names.forEach((name, i) => {
    const info = layerInfo(run.metrics, name);
    if (!info) return;
    const label = `${name} (${info.activation}, of ${info.filters})`;
    // % of the layer, the count in the legend (as in the Train view and Compare).
    if (info.rule === 'cannot-die') negativeParts.push({ label, ...layerPercentSeries(run.metrics, name, 'negative'), ...layerStyle(i) });
    else deadParts.push({ label, ...layerPercentSeries(run.metrics, name, 'dead'), ...layerStyle(i) });
  });
  const lrs = steps.map((s) => s.lr).filter((v): v is number => v !== null);
  return {
    loss,
    accuracy,
    lr,
    dead: chart(deadParts),
    negative: chart(negativeParts),
    window: layers[layers.length - 1]?.window ?? null,
    lrLog: lrs.length > 0 && lrs.every((v) => v > 0),
  };
}

// ---------------------------------------------------------------------------
// Several runs

export interface CompareRun {
  id: string;
  run: RunDetailView;
}

export interface CompareCharts {
  loss: ChartData;
  accuracy: ChartData;
  valAccuracy: ChartData;
  /** Per run: % of the filters of all layers that can die that are dead (solid); % of the filters of layers that cannot in the negative regime (dashed). */
  dead: ChartData;
  /** One chart per layer name every run has. */
  perLayer: { layer: string; data: ChartData }[];
}

/** The longest display name a legend shows whole. */
const SHORT_NAME_MAX = 28;

/**
 * A run's short name for chart legends: its display name when it has one, else its activation (with the per-layer overrides counted)
 * and the last part of its id, e.g. "relu +1 · a1b2" for 2026-11-26T08-50-12_tiny_relu_a1b2.
 * Full ids are long and alike (date, time, model, activation), and wrap a legend badly.
 */
export function shortRunLabel(id: string, record: RunRecordView): string {
  // A name the user gave the run says more than its id (cut to stay short in a legend).
  if (record.displayName !== undefined) return record.displayName.length > SHORT_NAME_MAX ? `${record.displayName.slice(0, SHORT_NAME_MAX - 1)}…` : record.displayName;
  const config = runConfig(record);
  const overrides = Object.keys(config.layerOverrides).length;
  const parts = id.split(/[_\s]+/).filter(Boolean);
  const tail = parts.length > 1 ? (parts.at(-1) as string) : id;
  return `${config.activation}${overrides > 0 ? ` +${overrides}` : ''} · ${tail}`;
}

/** Short names of several runs (shortRunLabel), the full runLabel for any two that would read alike. */
export function shortRunLabels(runs: readonly CompareRun[]): string[] {
  const short = runs.map((r) => shortRunLabel(r.id, r.run.record));
  return short.map((s, i) => (short.indexOf(s) !== short.lastIndexOf(s) ? runLabel(runs[i]!.id, runs[i]!.run.record) : s));
}

export function compareCharts(runs: readonly CompareRun[]): CompareCharts {
  const short = shortRunLabels(runs);
  // Legends show the short name; the full id stays in the series' title (tooltip, screen readers).
  const named = (r: CompareRun, i: number, suffix = '') => ({ label: `${short[i]}${suffix}`, title: `${runLabel(r.id, r.run.record)}${suffix}` });
  const colour = (i: number) => seriesColour(i);
  const loss = chart(runs.map((r, i) => ({ ...named(r, i), x: r.run.metrics.steps.map((s) => s.step), y: r.run.metrics.steps.map((s) => s.loss), colour: colour(i) })));
  const accuracy = chart(runs.map((r, i) => ({ ...named(r, i), x: r.run.metrics.steps.map((s) => s.step), y: r.run.metrics.steps.map((s) => s.accuracy), colour: colour(i) })));
  const valAccuracy = chart(runs.map((r, i) => ({ ...named(r, i), x: r.run.metrics.epochs.map((e) => e.step), y: r.run.metrics.epochs.map((e) => e.valAccuracy), colour: colour(i) })));
  // One chance line per identity count among the runs (named by it when they differ).
  const chance = chanceLines(runs.map((r) => r.run.record.dataset?.identities));
  loss.references = chance.loss;
  accuracy.references = chance.accuracy;
  valAccuracy.references = chance.accuracy;
  const deadParts: Part[] = [];
  runs.forEach((r, i) => {
    if (hasRule(r.run.metrics, 'can-die')) deadParts.push({ ...named(r, i, ': dead'), ...totalPercentSeries(r.run.metrics, 'dead'), colour: colour(i) });
    if (hasRule(r.run.metrics, 'cannot-die')) deadParts.push({ ...named(r, i, ': negative regime'), ...totalPercentSeries(r.run.metrics, 'negative'), colour: colour(i), dash: true });
  });
  // In the models' own order (merged over the runs), each layer every run has.
  const order = mergeLayerOrder(runs.map((r) => layerNames(r.run.metrics)));
  const common = order.filter((name) => runs.every((r) => layerInfo(r.run.metrics, name) !== null));
  const perLayer = common.map((layer) => ({
    layer,
    data: chart(
      runs.map((r, i) => {
        const info = layerInfo(r.run.metrics, layer);
        const cannotDie = info?.rule === 'cannot-die';
        return {
          ...named(r, i, `: ${info?.activation ?? '?'}${cannotDie ? ' (negative regime)' : ''}`),
          ...layerPercentSeries(r.run.metrics, layer, cannotDie ? 'negative' : 'dead'),
          colour: colour(i),
          dash: cannotDie,
        };
      }),
    ),
  }));
  return { loss, accuracy, valAccuracy, dead: chart(deadParts), perLayer };
}
