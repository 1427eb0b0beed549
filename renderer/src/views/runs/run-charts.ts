// The data behind the Runs view's charts: one run's recorded curves, and several runs'
// curves overlaid. Pure functions from parsed metrics (lib/run-records.ts) to what LineChart
// takes (one shared x array, a values array per series).
import { alignSeries, seriesColour } from '../../draw/align';
import { hasRule, layerInfo, layerNames, layerSeries, runLabel, totalSeries, type RunDetailView } from '../../lib/run-records';

export interface Series {
  label: string;
  values: (number | null)[];
  colour?: string;
  dash?: boolean;
}

export interface ChartData {
  x: number[];
  series: Series[];
}

/** Points kept per chart: more than a chart's width in pixels, few enough to redraw quickly. */
export const MAX_POINTS = 1500;

interface Part {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
  colour?: string;
  dash?: boolean;
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
      values: thinned.ys[i] ?? [],
      ...(p.colour ? { colour: p.colour } : {}),
      ...(p.dash ? { dash: true } : {}),
    })),
  };
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
  const lr = chart([{ label: 'learning rate', x: stepX, y: steps.map((s) => s.lr), colour: seriesColour(0) }]);
  const names = layerNames(run.metrics);
  const deadParts: Part[] = [];
  const negativeParts: Part[] = [];
  names.forEach((name, i) => {
    const info = layerInfo(run.metrics, name);
    if (!info) return;
    const label = `${name} (${info.activation}, of ${info.filters})`;
    if (info.rule === 'cannot-die') negativeParts.push({ label, ...layerSeries(run.metrics, name, 'negative'), colour: seriesColour(i) });
    else deadParts.push({ label, ...layerSeries(run.metrics, name, 'dead'), colour: seriesColour(i) });
  });
  return {
    loss,
    accuracy,
    lr,
    dead: chart(deadParts),
    negative: chart(negativeParts),
    window: layers[layers.length - 1]?.window ?? null,
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
  /** Per run: filters dead across all layers that can die (solid); negative-regime filters of layers that cannot (dashed). */
  dead: ChartData;
  /** One chart per layer name every run has. */
  perLayer: { layer: string; data: ChartData }[];
}

export function compareCharts(runs: readonly CompareRun[]): CompareCharts {
  const label = (r: CompareRun) => runLabel(r.id, r.run.record);
  const colour = (i: number) => seriesColour(i);
  const loss = chart(runs.map((r, i) => ({ label: label(r), x: r.run.metrics.steps.map((s) => s.step), y: r.run.metrics.steps.map((s) => s.loss), colour: colour(i) })));
  const accuracy = chart(runs.map((r, i) => ({ label: label(r), x: r.run.metrics.steps.map((s) => s.step), y: r.run.metrics.steps.map((s) => s.accuracy), colour: colour(i) })));
  const valAccuracy = chart(runs.map((r, i) => ({ label: label(r), x: r.run.metrics.epochs.map((e) => e.step), y: r.run.metrics.epochs.map((e) => e.valAccuracy), colour: colour(i) })));
  const deadParts: Part[] = [];
  runs.forEach((r, i) => {
    if (hasRule(r.run.metrics, 'can-die')) deadParts.push({ label: `${label(r)}: dead`, ...totalSeries(r.run.metrics, 'dead'), colour: colour(i) });
    if (hasRule(r.run.metrics, 'cannot-die')) deadParts.push({ label: `${label(r)}: negative regime`, ...totalSeries(r.run.metrics, 'negative'), colour: colour(i), dash: true });
  });
  const common = runs.length === 0 ? [] : layerNames(runs[0]!.run.metrics).filter((name) => runs.every((r) => layerInfo(r.run.metrics, name) !== null));
  const perLayer = common.map((layer) => ({
    layer,
    data: chart(
      runs.map((r, i) => {
        const info = layerInfo(r.run.metrics, layer);
        const cannotDie = info?.rule === 'cannot-die';
        return {
          label: `${label(r)}: ${info?.activation ?? '?'}${cannotDie ? ' (negative regime)' : ''}`,
          ...layerSeries(r.run.metrics, layer, cannotDie ? 'negative' : 'dead'),
          colour: colour(i),
          dash: cannotDie,
        };
      }),
    ),
  }));
  return { loss, accuracy, valAccuracy, dead: chart(deadParts), perLayer };
}
