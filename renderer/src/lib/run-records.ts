// Runs as the renderer shows them: run.json records (protocol/run-record.ts) and metrics.jsonl
// rows (protocol/metrics-rows.ts) as getRun and listRuns carry them, read with the protocol's
// lenient readers: unknown fields are ignored, a field of the wrong type becomes "unknown"
// (undefined), and only a record without its id, creation time, state or config is reported as
// unreadable (with the reason), never thrown. What is left here is the views' logic: the series,
// the final numbers and the formatting.
import type { z } from 'zod';
import { epochSummaryReader, runRecordReader, stopSummaryReader, type RunRecordRead } from '#protocol/run-record';
import { epochRowReader, histogramsRowReader, inspectionMarkSchema, layerCountReader, layerHistogramsReader, layersRowReader, metricsRowKind, readFilters, stepRowReader } from '#protocol/metrics-rows';
import { lenientObject } from '#protocol/lenient';
import type { FirstFilters, Histogram, LayerHistograms } from '#protocol/messages';
import type { EvaluationView } from '#protocol/workbench';

// ---------------------------------------------------------------------------
// run.json

/** A run record as a view reads it (protocol/run-record.ts runRecordReader). */
export type RunRecordView = RunRecordRead;

export type RunListEntry =
  | { ok: true; id: string; record: RunRecordView; interrupted: boolean }
  | { ok: false; id: string; reason: string };

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'record';
  return `${where}: ${issue.message}`;
}

/** One run.json as sent by the trainer, or why it cannot be shown. */
export function parseRunRecord(raw: unknown): { ok: true; record: RunRecordView } | { ok: false; reason: string } {
  const parsed = runRecordReader.safeParse(raw);
  if (parsed.success) return { ok: true, record: parsed.data };
  return { ok: false, reason: `the run record cannot be read (${issueText(parsed.error)})` };
}

/** The listRuns reply, entry by entry: a malformed entry becomes an unreadable run, never an exception. */
export function parseRunList(raw: unknown): RunListEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((item, i): RunListEntry => {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as { ok?: unknown; id?: unknown; record?: unknown; interrupted?: unknown; reason?: unknown };
    const id = typeof entry.id === 'string' && entry.id !== '' ? entry.id : `(entry ${i + 1})`;
    if (entry.ok === false) return { ok: false, id, reason: typeof entry.reason === 'string' ? entry.reason : 'the trainer could not read this run' };
    const parsed = parseRunRecord(entry.record);
    if (!parsed.ok) return { ok: false, id, reason: parsed.reason };
    return { ok: true, id, record: parsed.record, interrupted: entry.interrupted === true };
  });
}

/** What a run was configured as, for tables and headings. */
export interface RunConfigView {
  model: string;
  /** The activation of every layer without its own. */
  activation: string;
  /** Per-layer activation overrides (config.layers). */
  layerOverrides: Record<string, string>;
  inputSize: number | undefined;
  lr: number | undefined;
  batch: number | undefined;
  epochs: number | undefined;
  maxSteps: number | undefined;
  optimizer: string | undefined;
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function runConfig(record: RunRecordView): RunConfigView {
  const c = record.config;
  const layers = c['layers'];
  const layerOverrides: Record<string, string> = {};
  if (typeof layers === 'object' && layers !== null && !Array.isArray(layers)) {
    for (const [layer, activation] of Object.entries(layers)) if (typeof activation === 'string') layerOverrides[layer] = activation;
  }
  return {
    model: text(c['model'], '?'),
    activation: text(c['activation'], '?'),
    layerOverrides,
    inputSize: finite(c['inputSize']),
    lr: finite(c['lr']),
    batch: finite(c['batch']),
    epochs: finite(c['epochs']),
    maxSteps: finite(c['maxSteps']),
    optimizer: typeof c['optimizer'] === 'string' ? c['optimizer'] : undefined,
  };
}

/** The dataset a run trained on, for a table cell: its name, whether it is synthetic, and the details for a tooltip. */
export interface RunDatasetView {
  name: string;
  synthetic: boolean;
  detail: string;
}

export function runDataset(record: RunRecordView): RunDatasetView {
  const d = record.dataset;
  const data = typeof record.config['data'] === 'string' ? (record.config['data'] as string) : undefined;
  // An older record without `dataset`: its config's data string (a path's last part, or synthetic:NxM).
  const fromData = data === undefined ? undefined : (data.split(/[\\/]/).filter((part) => part !== '').at(-1) ?? data);
  const name = d?.name ?? fromData ?? '?';
  const synthetic = d?.synthetic ?? (data?.startsWith('synthetic') === true);
  const counts = d?.identities !== undefined && d.images !== undefined ? `${d.identities} identities, ${d.images} images` : undefined;
  const detail = [d?.source ?? data, counts, synthetic ? 'synthetic faces drawn by the lab' : undefined].filter((part) => part !== undefined).join('; ');
  return { name, synthetic, detail };
}

/** "steps 21-50" / "step 7" */
function stepsText(from: number, to: number): string {
  return from === to ? `step ${from}` : `steps ${from}-${to}`;
}

/**
 * The note on a run whose metrics have gaps (run.json's `gaps`): which steps have no row and
 * why, or null when there are none. The curves are drawn across them.
 */
export function gapsNote(record: RunRecordView): string | null {
  const gaps = record.gaps ?? [];
  if (gaps.length === 0) return null;
  const parts = gaps.map((gap) => `${stepsText(gap.from, gap.to)} (${gap.reason})`);
  return `No metrics were recorded for ${parts.join('; ')}: the curves have ${gaps.length === 1 ? 'a gap' : 'gaps'} there.`;
}

/** A run's numbers as run.json's summary records them (no metrics file needed): for the list. */
export interface RunOutcomeView {
  /** The furthest step the record knows of (last epoch end, step limit, or checkpoint). */
  steps: number | undefined;
  epochs: number | undefined;
  /** Mean training loss and accuracy of the last completed epoch. */
  trainLoss: number | null;
  trainAccuracy: number | null;
  valLoss: number | null;
  valAccuracy: number | null;
}

export function runOutcome(record: RunRecordView): RunOutcomeView {
  const lastEpoch = epochSummaryReader.safeParse(record.summary?.['lastEpoch']);
  const stoppedAt = stopSummaryReader.safeParse(record.summary?.['stoppedAt']);
  const epoch = lastEpoch.success ? lastEpoch.data : null;
  const stopped = stoppedAt.success ? stoppedAt.data : null;
  const steps = Math.max(epoch?.step ?? -1, stopped?.step ?? -1, record.lastCheckpoint?.step ?? -1);
  // The validation taken latest wins: a stop at the step limit after the last epoch end.
  const valFromStop = stopped !== null && (epoch === null || stopped.step >= epoch.step);
  return {
    steps: steps >= 0 ? steps : undefined,
    epochs: epoch?.epoch !== undefined ? epoch.epoch + 1 : undefined,
    trainLoss: epoch?.trainLoss ?? null,
    trainAccuracy: epoch?.trainAccuracy ?? null,
    valLoss: valFromStop ? stopped.valLoss : (epoch?.valLoss ?? null),
    valAccuracy: valFromStop ? stopped.valAccuracy : (epoch?.valAccuracy ?? null),
  };
}

/** Whether the trainer can continue the run from its last checkpoint. */
export function canResume(entry: { record: RunRecordView; interrupted: boolean }): boolean {
  const { state } = entry.record;
  return state === 'stopped' || state === 'failed' || state === 'paused' || (state === 'running' && entry.interrupted);
}

// ---------------------------------------------------------------------------
// metrics.jsonl

/** One training step (a row without a kind, or kind 'step'). */
export interface StepPoint {
  step: number;
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  lr: number | null;
}

/** One epoch end (kind 'epoch'): the epoch's mean training numbers and the held-out ones. */
export interface EpochPoint {
  step: number;
  epoch: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
  valLoss: number | null;
  valAccuracy: number | null;
}

/** One layer's counts in a 'layers' row (a subset of the protocol's LayerStats). */
export interface LayerCount {
  layer: string;
  activation: string;
  /** 'zero', 'saturation', 'pieces' or 'cannot-die'. */
  rule: string;
  filters: number;
  /** Filters dead over the window; null where the activation cannot die. */
  deadFilters: number | null;
  units: number | null;
  deadUnits: number | null;
  /** Cannot-die activations: filters that stayed in the negative regime over the window. */
  negativeRegimeFilters: number | null;
}

/** A 'layers' row: every activation layer's dead counts at one step, over a window of steps. */
export interface LayersPoint {
  step: number;
  epoch: number;
  window: number | null;
  layers: LayerCount[];
}

/** A 'histograms' row: every activation layer's weight and activation histograms at one step. */
export interface HistogramsPoint {
  step: number;
  epoch: number;
  layers: LayerHistograms[];
}

/** The first convolution's filters as a 'histograms' row recorded them (only some rows carry them). */
export interface FiltersPoint {
  step: number;
  epoch: number;
  filters: FirstFilters;
}

/**
 * What an inspection pass's rows say of it (protocol/metrics-rows.ts inspectionMarkSchema), read
 * leniently: a field that cannot be read is '?' (text) or null (a number); `at` is '' then.
 */
export interface InspectionMarkView {
  /** The dataset's name, and the path or synthetic spec it was opened from. */
  data: string;
  source: string;
  hash: string;
  images: number | null;
  batches: number | null;
  /** When the pass ran (ISO 8601), '' when unknown. */
  at: string;
}

/**
 * One inspection pass (electron/trainer/inspection/): the weights of the checkpoint at `step`
 * run once over a dataset, nothing trained. Its 'layers' row's dead counts are over every image
 * of the pass (`window` is its batches) and its gradient numbers are not measured; its
 * 'histograms' row (the one with the same `at`), when there is one, has the activations of the
 * pass's last batch.
 */
export interface InspectionPoint {
  step: number;
  epoch: number;
  mark: InspectionMarkView;
  /** Each activation layer's counts, in model order (as the 'layers' row gives them); [] without a readable one. */
  layers: LayerCount[];
  window: number | null;
  histograms?: HistogramsPoint;
  /** The first convolution's filters, when the histograms row carries readable ones. */
  filters?: FiltersPoint;
}

export interface RunMetricsView {
  /** Training's series only: rows marked `inspection` are in `inspections`. */
  steps: StepPoint[];
  epochs: EpochPoint[];
  layers: LayersPoint[];
  histograms: HistogramsPoint[];
  filters: FiltersPoint[];
  /** The run's inspection passes, newest first. */
  inspections: InspectionPoint[];
  /** Rows of these kinds that could not be read (rows of other kinds are ignored). */
  skipped: number;
}

/**
 * One 'histograms' row (metrics.jsonl, or getRun's metrics): its histograms, and its filters
 * when it carries readable ones; null when the row itself cannot be read. A layer entry that
 * cannot be read is left out (a null histogram is kept: the tensor held NaN or an infinity).
 */
export function parseHistogramsRow(row: unknown): { point: HistogramsPoint; filters: FiltersPoint | null } | null {
  const parsed = histogramsRowReader.safeParse(row);
  if (!parsed.success) return null;
  const { step, epoch } = parsed.data;
  const layers: LayerHistograms[] = [];
  for (const item of parsed.data.layers) {
    const layer = layerHistogramsReader.safeParse(item);
    if (layer.success) layers.push({ layer: layer.data.layer, weights: layer.data.weights, activations: layer.data.activations });
  }
  const filters = parsed.data.filters === undefined ? null : readFilters(parsed.data.filters);
  return { point: { step, epoch, layers }, filters: filters ? { step, epoch, filters } : null };
}

const markReader = lenientObject(inspectionMarkSchema);

/**
 * A row's inspection mark, read leniently; null for a training row (no `inspection`, or null).
 * A mark some of whose fields cannot be read still marks the row as a pass's, not training's.
 */
function inspectionMark(row: unknown): InspectionMarkView | null {
  const raw = typeof row === 'object' && row !== null ? (row as { inspection?: unknown }).inspection : undefined;
  if (raw === undefined || raw === null) return null;
  const read = markReader.safeParse(raw);
  const mark = read.success ? read.data : {};
  return {
    data: mark.data ?? '?',
    source: mark.source ?? '?',
    hash: mark.hash ?? '',
    images: mark.images ?? null,
    batches: mark.batches ?? null,
    at: mark.at ?? '',
  };
}

function layerCounts(items: readonly unknown[]): LayerCount[] {
  const counts: LayerCount[] = [];
  for (const item of items) {
    const layer = layerCountReader.safeParse(item);
    if (!layer.success) continue;
    const { layer: name, activation, rule, filters, deadFilters, units, deadUnits, negativeRegimeFilters } = layer.data;
    counts.push({
      layer: name,
      activation: activation ?? '?',
      rule: rule ?? '?',
      filters: filters ?? 0,
      deadFilters: deadFilters ?? null,
      units: units ?? null,
      deadUnits: deadUnits ?? null,
      negativeRegimeFilters: negativeRegimeFilters ?? null,
    });
  }
  return counts;
}

/** Sorted by step; a step seen twice keeps its last row (a resumed run rewrites from its checkpoint). */
function byStep<T extends { step: number }>(points: T[]): T[] {
  const last = new Map<number, T>();
  for (const point of points) last.set(point.step, point);
  return [...last.values()].sort((a, b) => a.step - b.step);
}

/**
 * Splits getRun's metrics rows by kind. Rows of these kinds it cannot read are counted in
 * `skipped`; other kinds are ignored. Rows marked `inspection` (an inspection pass's, at the
 * checkpoint's step, over any dataset) are kept out of the training series and returned as
 * `inspections`, a 'layers' row and the 'histograms' row of the same pass (the same `at`) together.
 */
export function parseMetricsRows(rows: unknown): RunMetricsView {
  const steps: StepPoint[] = [];
  const epochs: EpochPoint[] = [];
  const layers: LayersPoint[] = [];
  const histogramRows: { step: number; point: HistogramsPoint; filters: FiltersPoint | null }[] = [];
  /** Passes by their step and `at`, in the order first seen (the file's: passes are appended). */
  const passes = new Map<string, InspectionPoint & { order: number }>();
  const passOf = (step: number, epoch: number, mark: InspectionMarkView): InspectionPoint & { order: number } => {
    const key = `${step}\u0000${mark.at}`;
    let pass = passes.get(key);
    if (!pass) {
      pass = { step, epoch, mark, layers: [], window: null, order: passes.size };
      passes.set(key, pass);
    }
    return pass;
  };
  let skipped = 0;
  for (const row of Array.isArray(rows) ? rows : []) {
    // Something that is not an object at all is an unreadable step row (counted), not a newer kind.
    const kind = typeof row === 'object' && row !== null ? metricsRowKind(row) : 'step';
    const mark = inspectionMark(row);
    if (kind === 'step') {
      const parsed = stepRowReader.safeParse(row);
      if (!parsed.success) skipped++;
      // A pass trains nothing: a step row marked as one (none is written) is not training's.
      else if (mark === null) steps.push({ step: parsed.data.step, epoch: parsed.data.epoch, loss: parsed.data.loss ?? null, accuracy: parsed.data.accuracy ?? null, lr: parsed.data.lr ?? null });
    } else if (kind === 'epoch') {
      const parsed = epochRowReader.safeParse(row);
      if (!parsed.success) skipped++;
      else if (mark === null) {
        const { step, epoch, trainLoss, trainAccuracy, valLoss, valAccuracy } = parsed.data;
        epochs.push({ step, epoch, trainLoss: trainLoss ?? null, trainAccuracy: trainAccuracy ?? null, valLoss: valLoss ?? null, valAccuracy: valAccuracy ?? null });
      }
    } else if (kind === 'layers') {
      const parsed = layersRowReader.safeParse(row);
      if (!parsed.success) {
        skipped++;
        continue;
      }
      const { step, epoch } = parsed.data;
      const counts = layerCounts(parsed.data.layers);
      const window = parsed.data.window ?? null;
      if (mark === null) layers.push({ step, epoch, window, layers: counts });
      else Object.assign(passOf(step, epoch, mark), { layers: counts, window });
    } else if (kind === 'histograms') {
      const parsed = parseHistogramsRow(row);
      if (!parsed) {
        skipped++;
        continue;
      }
      if (mark === null) histogramRows.push({ step: parsed.point.step, ...parsed });
      else {
        const pass = passOf(parsed.point.step, parsed.point.epoch, mark);
        pass.histograms = parsed.point;
        if (parsed.filters) pass.filters = parsed.filters;
        else delete pass.filters;
      }
    }
    // Another kind (a newer lab's rows): not for these views, left out without a warning.
  }
  // A rewritten step's filters are its last row's (or none): not an older timeline's.
  const histogramSteps = byStep(histogramRows);
  const histograms = histogramSteps.map((r) => r.point);
  const filters = histogramSteps.flatMap((r) => (r.filters ? [r.filters] : []));
  return { steps: byStep(steps), epochs: byStep(epochs), layers: byStep(layers), histograms, filters, inspections: newestFirst([...passes.values()]), skipped };
}

/** Passes newest first by when they ran; those whose time cannot be read last, later rows first. */
function newestFirst(passes: (InspectionPoint & { order: number })[]): InspectionPoint[] {
  const time = (pass: InspectionPoint) => {
    const t = Date.parse(pass.mark.at);
    return Number.isNaN(t) ? -Infinity : t;
  };
  return passes
    .sort((a, b) => time(b) - time(a) || b.order - a.order)
    .map(({ order: _order, ...pass }) => pass);
}

/** getRun's reply: the record, its metrics, and the warnings reading metrics.jsonl gave. */
export interface RunDetailView {
  record: RunRecordView;
  metrics: RunMetricsView;
  warnings: string[];
}

export function parseRunDetail(raw: unknown): { ok: true; run: RunDetailView } | { ok: false; reason: string } {
  const reply = (typeof raw === 'object' && raw !== null ? raw : {}) as { record?: unknown; metrics?: unknown; warnings?: unknown };
  const record = parseRunRecord(reply.record);
  if (!record.ok) return record;
  const metrics = parseMetricsRows(reply.metrics);
  const warnings = Array.isArray(reply.warnings) ? reply.warnings.filter((w): w is string => typeof w === 'string') : [];
  if (metrics.skipped > 0) warnings.push(`${metrics.skipped} metrics row${metrics.skipped === 1 ? ' was' : 's were'} not understood and left out`);
  return { ok: true, run: { record: record.record, metrics, warnings } };
}

// ---------------------------------------------------------------------------
// Derived series and final numbers

/** Activation layers in the order they first appear in the 'layers' rows. */
export function layerNames(metrics: RunMetricsView): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const point of metrics.layers) {
    for (const layer of point.layers) {
      if (!seen.has(layer.layer)) {
        seen.add(layer.layer);
        names.push(layer.layer);
      }
    }
  }
  return names;
}

/** Layers with histograms, in the order they first appear in the 'histograms' rows. */
export function histogramLayerNames(metrics: Pick<RunMetricsView, 'histograms'>): string[] {
  const names = new Set<string>();
  for (const point of metrics.histograms) for (const layer of point.layers) names.add(layer.layer);
  return [...names];
}

/** Which of a layer's tensors a histogram describes. */
export type HistogramTensor = 'weights' | 'activations';

/** One layer's weight (or activation) histogram at each recorded step that has the layer; null where it held NaN or an infinity. */
export function layerHistogramHistory(points: readonly HistogramsPoint[], layer: string, tensor: HistogramTensor): { step: number; histogram: Histogram | null }[] {
  const out: { step: number; histogram: Histogram | null }[] = [];
  for (const point of points) {
    const found = point.layers.find((l) => l.layer === layer);
    if (found) out.push({ step: point.step, histogram: found[tensor] });
  }
  return out;
}

/** The layer's activation and rule (from its latest row), or null if it never appears. */
export function layerInfo(metrics: RunMetricsView, layer: string): LayerCount | null {
  for (let i = metrics.layers.length - 1; i >= 0; i--) {
    const found = metrics.layers[i]?.layers.find((l) => l.layer === layer);
    if (found) return found;
  }
  return null;
}

/** One layer's count over steps: dead filters, or for a layer that cannot die its negative-regime filters. */
export function layerSeries(metrics: RunMetricsView, layer: string, what: 'dead' | 'negative'): { x: number[]; y: (number | null)[] } {
  const x: number[] = [];
  const y: (number | null)[] = [];
  for (const point of metrics.layers) {
    const count = point.layers.find((l) => l.layer === layer);
    x.push(point.step);
    y.push(count ? (what === 'dead' ? count.deadFilters : count.negativeRegimeFilters) : null);
  }
  return { x, y };
}

/**
 * Filters dead across every layer that can die, per recorded step ('dead'), or filters in the
 * negative regime across the layers that cannot ('negative'). null at a step with no such layer.
 */
export function totalSeries(metrics: RunMetricsView, what: 'dead' | 'negative'): { x: number[]; y: (number | null)[] } {
  const x: number[] = [];
  const y: (number | null)[] = [];
  for (const point of metrics.layers) {
    let total: number | null = null;
    for (const layer of point.layers) {
      const value = what === 'dead' ? layer.deadFilters : layer.negativeRegimeFilters;
      if (value !== null) total = (total ?? 0) + value;
    }
    x.push(point.step);
    y.push(total);
  }
  return { x, y };
}

/**
 * Several runs' layer lists merged into one order that keeps each run's own: a layer one run
 * has and another does not goes right before the next layer of its run already listed (so
 * LightCNN-9's group2.a sits before the embedding a tiny model also has, not after it).
 */
export function mergeLayerOrder(lists: readonly (readonly string[])[]): string[] {
  const merged: string[] = [];
  for (const list of lists) {
    list.forEach((name, i) => {
      if (merged.includes(name)) return;
      const next = list.slice(i + 1).find((later) => merged.includes(later));
      if (next === undefined) merged.push(name);
      else merged.splice(merged.indexOf(next), 0, name);
    });
  }
  return merged;
}

/**
 * Dead counts are shown as % of the layer everywhere (Train, Run detail, Compare), with the
 * count beside it: layers of different sizes, and models of different sizes, then compare
 * on one axis. `count` of `total` filters (pieces, for maxout and MFM).
 */
export function percentOf(count: number | null, total: number | null): number | null {
  return count === null || total === null || !(total > 0) ? null : (100 * count) / total;
}

/** "2 of 8 filters" */
export function countNote(count: number | null, total: number | null, what = 'filters'): string | null {
  return count === null || total === null ? null : `${count} of ${total} ${what}`;
}

/**
 * The 'layers' rows taken once the stats window had filled (issue 14, 2.3, as the Train view
 * draws them): before step N of an N-step window a count means "not fired since step 1". All
 * rows when the run never got that far (its window is longer than the run).
 */
export function filledWindowRows(metrics: RunMetricsView): LayersPoint[] {
  const last = metrics.layers.at(-1)?.step ?? 0;
  const filled = (point: LayersPoint) => point.window === null || point.step >= point.window;
  return metrics.layers.some(filled) || last === 0 ? metrics.layers.filter(filled) : metrics.layers;
}

/** A layer's dead (or, cannot-die, negative-regime) filters as % of its filters over the steps (once the window filled), with the counts as notes. */
export function layerPercentSeries(metrics: RunMetricsView, layer: string, what: 'dead' | 'negative'): { x: number[]; y: (number | null)[]; notes: (string | null)[] } {
  const x: number[] = [];
  const y: (number | null)[] = [];
  const notes: (string | null)[] = [];
  for (const point of filledWindowRows(metrics)) {
    const count = point.layers.find((l) => l.layer === layer);
    const value = count ? (what === 'dead' ? count.deadFilters : count.negativeRegimeFilters) : null;
    x.push(point.step);
    y.push(percentOf(value, count?.filters ?? null));
    notes.push(countNote(value, count?.filters ?? null));
  }
  return { x, y, notes };
}

/**
 * Filters dead across every layer that can die, as % of those layers' filters ('dead'), or in
 * the negative regime across the layers that cannot ('negative'), per recorded step: runs of
 * models of different sizes compare on one axis. null at a step with no such layer.
 */
export function totalPercentSeries(metrics: RunMetricsView, what: 'dead' | 'negative'): { x: number[]; y: (number | null)[]; notes: (string | null)[] } {
  const x: number[] = [];
  const y: (number | null)[] = [];
  const notes: (string | null)[] = [];
  for (const point of filledWindowRows(metrics)) {
    let count: number | null = null;
    let filters = 0;
    for (const layer of point.layers) {
      const value = what === 'dead' ? layer.deadFilters : layer.negativeRegimeFilters;
      if (value === null) continue;
      count = (count ?? 0) + value;
      filters += layer.filters;
    }
    x.push(point.step);
    y.push(percentOf(count, filters));
    notes.push(countNote(count, filters));
  }
  return { x, y, notes };
}

/** A layer's dead filters for a table cell: "25.0%" and, for its tooltip, "2 of 8 filters dead". */
export function deadCellText(layer: LayerCount): { text: string; title: string } {
  const cannotDie = layer.rule === 'cannot-die';
  const count = cannotDie ? layer.negativeRegimeFilters : layer.deadFilters;
  const percent = percentOf(count, layer.filters);
  const note = countNote(count, layer.filters);
  if (cannotDie) return { text: `cannot die${percent !== null ? ` (${formatPercent(percent / 100)} negative)` : ''}`, title: note ? `${note} in the negative regime` : '' };
  return { text: formatPercent(percent === null ? null : percent / 100), title: note ? `${note} dead` : '' };
}

/** A layer's dead units for a table cell: "12.5%" and, for its tooltip, "8 of 64 units dead"; "—" where none are counted (an activation that cannot die). */
export function deadUnitsCellText(layer: LayerCount): { text: string; title: string } {
  const percent = percentOf(layer.deadUnits, layer.units);
  const note = countNote(layer.deadUnits, layer.units, 'units');
  return { text: formatPercent(percent === null ? null : percent / 100), title: note ? `${note} dead` : '' };
}

/** Whether any layer of the run can die (ReLU, sigmoid, MFM...) / any cannot (leaky ReLU, PReLU, RReLU). */
export function hasRule(metrics: RunMetricsView, kind: 'can-die' | 'cannot-die'): boolean {
  return metrics.layers.some((point) => point.layers.some((l) => (kind === 'cannot-die' ? l.rule === 'cannot-die' : l.rule !== 'cannot-die')));
}

/**
 * The one definition of a run's training loss and accuracy in every view (the Runs table,
 * Run detail, Compare; issue 14, 2.5): the mean over the last completed epoch's steps, as
 * run.json's summary records it (so the table, which reads only run.json, shows the same
 * number). Named the same everywhere, with this title.
 */
export const LAST_EPOCH_LOSS_TITLE = 'Mean training loss over the last completed epoch';
export const LAST_EPOCH_ACCURACY_TITLE = 'Mean training accuracy over the last completed epoch';
export const LAST_EPOCH_LOSS_LABEL = 'Loss (last epoch)';
export const LAST_EPOCH_ACCURACY_LABEL = 'Accuracy (last epoch)';

export interface FinalNumbers {
  /** The last recorded step. */
  step: number | undefined;
  /** Mean training loss and accuracy over the last completed epoch (LAST_EPOCH_*); null before one completed. */
  loss: number | null;
  accuracy: number | null;
  valLoss: number | null;
  valAccuracy: number | null;
  /** The last 'layers' row: each layer's dead counts at the end. */
  layers: LayerCount[];
  /** The window those counts were taken over. */
  window: number | null;
}

export function finalNumbers(run: RunDetailView): FinalNumbers {
  const { steps, epochs, layers } = run.metrics;
  const outcome = runOutcome(run.record);
  // The record's summary first (what the Runs table shows); a record without one, the last epoch row.
  const lastTrained = [...epochs].reverse().find((e) => e.trainAccuracy !== null || e.trainLoss !== null);
  const fromRecord = outcome.trainAccuracy !== null || outcome.trainLoss !== null;
  const lastEpoch = [...epochs].reverse().find((e) => e.valAccuracy !== null || e.valLoss !== null);
  // The record's summary also knows a validation taken at a step limit after the last epoch end.
  const useRecord = outcome.valAccuracy !== null && (lastEpoch === undefined || (outcome.steps ?? -1) > lastEpoch.step);
  const lastLayers = layers[layers.length - 1];
  return {
    step: steps[steps.length - 1]?.step ?? outcome.steps,
    loss: fromRecord ? outcome.trainLoss : (lastTrained?.trainLoss ?? null),
    accuracy: fromRecord ? outcome.trainAccuracy : (lastTrained?.trainAccuracy ?? null),
    valLoss: useRecord ? outcome.valLoss : (lastEpoch?.valLoss ?? null),
    valAccuracy: useRecord ? outcome.valAccuracy : (lastEpoch?.valAccuracy ?? null),
    layers: lastLayers?.layers ?? [],
    window: lastLayers?.window ?? null,
  };
}

/** A run's label in charts and tables: its id and its activation (with the overrides counted). */
export function runLabel(id: string, record: RunRecordView): string {
  const config = runConfig(record);
  const overrides = Object.keys(config.layerOverrides).length;
  const name = record.displayName === undefined ? id : `${record.displayName} (${id})`;
  return `${name} · ${config.activation}${overrides > 0 ? ` +${overrides}` : ''}`;
}

/** TAR at one FAR from an evaluation (to within rounding), or null when it was not computed. */
export function tarAt(evaluation: EvaluationView, far: number): number | null {
  const found = evaluation.tarAtFar.find((point) => Math.abs(point.far - far) <= far * 1e-6);
  return found ? found.tar : null;
}

// ---------------------------------------------------------------------------
// Formatting

/** A number with `digits` decimals, or "—" for nothing. */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value !== 0 && (Math.abs(value) >= 1e5 || Math.abs(value) < 10 ** -digits)) return value.toExponential(2);
  return value.toFixed(digits);
}

/** A fraction as a percentage ("97.3%"), or "—". */
export function formatPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

/** "2026-11-26 08:50" in local time, or the text as it was when it is not a date. */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Bytes as "12.3 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
