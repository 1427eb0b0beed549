// The live streams of one run as the Train view shows them: every step's numbers, the
// epochs, each layer's dead counts over time and its latest health, the newest activation
// frame per (layer, kind), the full-size map, the per-filter strength history of the
// layers being watched, every layer's weight and activation histograms over time with the
// first layer's newest filters, and the run's record (its settings and dataset: the run's chance
// level and warm-up). Everything held here is bounded (draw/series.ts) so a 100k-step run
// costs a few megabytes.
//
// Smoothness: the client acks a streamed message as soon as the listeners below return, and
// they only store it (no Svelte update per message). What changed is published at most once
// per animation frame by bumping a version number, so the views redraw at the stream's rate
// when they can, skip frames when they cannot, and never hold up input or the trainer.
//
// Memory, worst case: 50k progress rows (2.4 MB), 10k dead-count rows (8 bytes x (1 + 2 x
// layers) each), 3 filter histories of 6 MB, the newest frame of 8 (layer, kind) pairs, and
// 500 histogram rows (2 x 30 counts per layer each: LightCNN-29's ~30 layers, about 4 MB).
import type { HistogramsItem, HistogramsMessage, InspectionInfo, LayerStats, LayerStatsMessage, ProgressItem, ProgressMessage, TrainerEvent } from '#protocol/messages';
import type { DecodedFrame } from '#protocol/frames';
import type { LabClient } from '#protocol/client/lab-client';
import { layerHistogramHistory, parseHistogramsRow, parseRunRecord, type EpochPoint, type FiltersPoint, type HistogramsPoint, type HistogramTensor, type RunRecordView } from './run-records';
import { StepHistory } from './step-history';
import type { HistogramEntry } from '../draw/ridgeline';
import type { RecentLoss } from './chance';
import { FrameHistory, SeriesBuffer, type Reduce } from '../draw/series';
import { RunningRange, statsRange, type Range } from '../draw/heatmap';

export type MapKind = 'activation' | 'preactivation';

/** A full-size map request (the subscription's fullMap). */
export interface FullMapRequest {
  layer: string;
  kind: MapKind;
  filter: number;
  probe: number;
}

export interface LiveRunOptions {
  /** How a flush is scheduled; default: the next animation frame (a timer while the page is hidden). */
  schedule?: (flush: () => void) => void;
  /** Ceiling of stored progress rows (past it, neighbouring steps merge). */
  maxSteps?: number;
  /** Ceiling of stored dead-count rows. */
  maxDeadPoints?: number;
  /** Bytes one layer's filter-strength history may take. */
  historyBudgetBytes?: number;
  /** Newest frames kept (one per layer and kind). */
  keepFrames?: number;
  /** Histogram rows kept (TensorBoard's default reservoir: 500), spread over the whole run. */
  maxHistogramSteps?: number;
}

/** Progress columns: step, loss, accuracy, lr, images/s, gradient norm. */
const LOSS = 1;
const ACCURACY = 2;
const LR = 3;
const IMAGES_PER_SECOND = 4;
const PROGRESS_COLUMNS = 6;

/** Layers (and kinds) whose filter histories are kept: the watched one and the last few watched. */
const MAX_HISTORIES = 3;
/** First-layer filters points kept (a run records about 52: every tenth of ~500 histogram rows, the first and the last). */
const MAX_FILTER_POINTS = 64;

export const fullChannelOf = (r: FullMapRequest): string => `full:${r.layer}:${r.kind}:${r.filter}:${r.probe}`;
const frameKey = (layer: string, kind: MapKind): string => `${kind}\u0000${layer}`;

function defaultSchedule(flush: () => void): void {
  const hidden = typeof document !== 'undefined' && document.visibilityState === 'hidden';
  if (!hidden && typeof requestAnimationFrame === 'function') requestAnimationFrame(() => flush());
  else setTimeout(flush, hidden ? 250 : 16);
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export class LiveRun {
  /** The run these numbers belong to. */
  runId = $state<string | null>(null);
  /**
   * Set when the stream is an inspection pass (a run's weights over a dataset, nothing trained):
   * its steps are the pass's batches, and the run's recorded training is not backfilled into it.
   */
  inspection = $state.raw<InspectionInfo | null>(null);
  /** The run's record (run.json as getRun answers it), once it has come; null before, or when the trainer cannot say. */
  record = $state.raw<RunRecordView | null>(null);
  /** Bumped when steps or epochs arrived (at most once per animation frame). */
  progressVersion = $state(0);
  /** Bumped when layer statistics arrived. */
  statsVersion = $state(0);
  /** Bumped when activation frames arrived. */
  framesVersion = $state(0);
  /** Bumped when histograms (or first-layer filters) arrived. */
  histogramsVersion = $state(0);
  // Plain fields, published by the versions above.
  private latestItem: ProgressItem | null = null;
  private statsWindow: number | null = null;
  private latestStatsStep: number | null = null;
  private progress: SeriesBuffer;
  private epochList: EpochPoint[] = [];
  private deadLayers: string[] = [];
  private dead: SeriesBuffer | null = null;
  private stats = new Map<string, LayerStats>();
  private frames = new Map<string, DecodedFrame>();
  private full: DecodedFrame | null = null;
  private histories = new Map<string, FrameHistory>();
  private ranges: Record<MapKind, RunningRange> = { activation: new RunningRange(), preactivation: new RunningRange() };
  private histogramRows: StepHistory<HistogramsPoint>;
  /**
   * Every first-layer filters point seen (recorded or live), oldest first: after a resume drops
   * the newest, the one before it is still there to show (they come every tenth histogram row).
   */
  private filterPoints: FiltersPoint[] = [];
  private dirty = { progress: false, stats: false, frames: false, histograms: false };
  private scheduled = false;
  private backfilled: string | null = null;
  /** The run whose record was asked for (by backfill or loadRecord): once per run. */
  private recordAsked: string | null = null;
  private readonly off: (() => void)[];
  private readonly options: Required<Omit<LiveRunOptions, 'schedule'>> & { schedule: (flush: () => void) => void };

  constructor(
    readonly client: LabClient,
    options: LiveRunOptions = {},
  ) {
    this.options = {
      schedule: options.schedule ?? defaultSchedule,
      maxSteps: options.maxSteps ?? 50_000,
      maxDeadPoints: options.maxDeadPoints ?? 10_000,
      historyBudgetBytes: options.historyBudgetBytes ?? 6 << 20,
      keepFrames: options.keepFrames ?? 8,
      maxHistogramSteps: options.maxHistogramSteps ?? 500,
    };
    this.progress = this.newProgress();
    this.histogramRows = new StepHistory(this.options.maxHistogramSteps);
    this.off = [
      client.on('progress', (m) => this.onProgress(m)),
      client.on('layerStats', (m) => this.onLayerStats(m)),
      client.on('histograms', (m) => this.onHistograms(m)),
      client.on('frame', (f) => this.onFrame(f)),
      client.on('event', (e) => this.onEvent(e)),
    ];
  }

  dispose(): void {
    for (const off of this.off) off();
  }

  // -------------------------------------------------------------------------
  // Reading (each reads its version, so a view re-runs when it changes)

  /** The newest step. */
  get latest(): ProgressItem | null {
    void this.progressVersion;
    return this.latestItem;
  }

  /** Steps the newest dead counts were taken over. */
  get window(): number | null {
    void this.statsVersion;
    return this.statsWindow;
  }

  /** Step of the newest layer statistics. */
  get statsStep(): number | null {
    void this.statsVersion;
    return this.latestStatsStep;
  }

  /** Steps shown: (thinned to at most maxPoints) step, loss, accuracy, lr, images/s. */
  progressView(maxPoints = 2000): { x: number[]; loss: (number | null)[]; accuracy: (number | null)[]; lr: (number | null)[]; imagesPerSecond: (number | null)[] } {
    void this.progressVersion;
    const v = this.progress.view(maxPoints, [LOSS, ACCURACY, LR, IMAGES_PER_SECOND]);
    return { x: v.x, loss: v.columns[0]!, accuracy: v.columns[1]!, lr: v.columns[2]!, imagesPerSecond: v.columns[3]! };
  }

  /**
   * The mean loss of the last `window` steps (loss-watch.ts's window): the stored rows after
   * the newest step minus `window`. Past the store's ceiling a row is the mean of several steps,
   * which averages to the same.
   */
  recentLoss(window: number): RecentLoss | null {
    void this.progressVersion;
    const last = this.progress.lastStep;
    if (Number.isNaN(last)) return null;
    let sum = 0;
    let count = 0;
    for (let i = this.progress.length - 1; i >= 0 && this.progress.at(i, 0) > last - window; i--) {
      const loss = this.progress.at(i, LOSS);
      if (Number.isFinite(loss)) {
        sum += loss;
        count++;
      }
    }
    return { step: last, mean: count > 0 ? sum / count : null, full: this.progress.firstStep <= last - window + 1 };
  }

  /** Rows stored for the steps, and how many steps each stands for. */
  get progressSize(): { rows: number; grain: number } {
    void this.progressVersion;
    return { rows: this.progress.length, grain: this.progress.grain };
  }

  get epochs(): EpochPoint[] {
    void this.progressVersion;
    return [...this.epochList];
  }

  layerStats(layer: string): LayerStats | null {
    void this.statsVersion;
    return this.stats.get(layer) ?? null;
  }

  /**
   * Dead filters (or units) of each layer over the steps. 'cannot-die' layers give their
   * negative-regime filters instead; `percent` divides by the layer's filters (units).
   */
  deadView(
    measure: 'filters' | 'units',
    percent: boolean,
    maxPoints = 1500,
  ): { x: number[]; layers: { layer: string; rule: LayerStats['rule'] | null; values: (number | null)[]; counts: (number | null)[]; total: number }[] } {
    void this.statsVersion;
    const L = this.deadLayers.length;
    if (!this.dead || L === 0) return { x: [], layers: [] };
    const columns = this.deadLayers.map((_, i) => 1 + (measure === 'filters' ? i : L + i));
    const v = this.dead.view(maxPoints, columns);
    return {
      x: v.x,
      layers: this.deadLayers.map((layer, i) => {
        const stats = this.stats.get(layer);
        const total = stats ? (measure === 'filters' ? stats.filters : stats.units) : 0;
        const values = v.columns[i]!;
        return {
          layer,
          rule: stats?.rule ?? null,
          values: percent ? values.map((y) => (y === null || !(total > 0) ? null : (100 * y) / total)) : values,
          counts: values,
          total,
        };
      }),
    };
  }

  /** The newest frame of a layer's maps (activation or pre-activation), or null. */
  frame(layer: string, kind: MapKind): DecodedFrame | null {
    void this.framesVersion;
    return this.frames.get(frameKey(layer, kind)) ?? null;
  }

  /** The newest full-size frame, if it answers `request`. */
  fullMap(request: FullMapRequest): DecodedFrame | null {
    void this.framesVersion;
    return this.full && this.full.header.channel === fullChannelOf(request) ? this.full : null;
  }

  /** The range of every map of this kind seen in the run (the 'global' colour scale), or null before any. */
  globalRange(kind: MapKind): Range | null {
    void this.framesVersion;
    const r = this.ranges[kind];
    return r.empty ? null : r.range;
  }

  resetGlobalRange(): void {
    this.ranges.activation.reset();
    this.ranges.preactivation.reset();
    for (const frame of this.frames.values()) this.ranges[frame.header.kind].include(statsRange(frame.stats));
    this.mark('frames');
  }

  /** One filter's strength (mean and max |x| per probe face) over the frames seen, or null. */
  filterHistory(layer: string, kind: MapKind, filter: number): { steps: number[]; mean: number[][]; maxAbs: number[][] } | null {
    void this.framesVersion;
    const h = this.histories.get(frameKey(layer, kind));
    return h && filter < h.channels ? h.channel(filter) : null;
  }

  /** One layer's weight (or activation) histograms over the recorded steps, oldest first. */
  histogramHistory(layer: string, tensor: HistogramTensor): HistogramEntry[] {
    void this.histogramsVersion;
    return layerHistogramHistory(this.histogramRows.rows(), layer, tensor);
  }

  /** Step of the newest histograms, or null before any. */
  get histogramsStep(): number | null {
    void this.histogramsVersion;
    return this.histogramRows.last?.step ?? null;
  }

  /** The first convolution's newest filters (and their step), or null before any (or for a model without one). */
  get firstFilters(): FiltersPoint | null {
    void this.histogramsVersion;
    return this.filterPoints.at(-1) ?? null;
  }

  /** Publishes what arrived since the last flush (called by the scheduler; tests call it directly). */
  flush(): void {
    this.scheduled = false;
    if (this.dirty.progress) this.progressVersion++;
    if (this.dirty.stats) this.statsVersion++;
    if (this.dirty.frames) this.framesVersion++;
    if (this.dirty.histograms) this.histogramsVersion++;
    this.dirty = { progress: false, stats: false, frames: false, histograms: false };
  }

  /** Forgets everything (a new run). */
  reset(runId: string | null = null): void {
    this.runId = runId;
    this.backfilled = null;
    this.inspection = null;
    this.record = null;
    this.recordAsked = null;
    this.latestItem = null;
    this.statsWindow = null;
    this.latestStatsStep = null;
    this.progress = this.newProgress();
    this.epochList = [];
    this.deadLayers = [];
    this.dead = null;
    this.stats.clear();
    this.frames.clear();
    this.full = null;
    this.histories.clear();
    this.ranges.activation.reset();
    this.ranges.preactivation.reset();
    this.histogramRows.clear();
    this.filterPoints = [];
    this.mark('progress', 'stats', 'frames', 'histograms');
  }

  /**
   * Fills in what happened before this view started listening from the run's recorded
   * metrics (getRun): steps, epochs, the layer rows (every 10 steps) and the histograms rows
   * (with the newest recorded filters), and takes the run's record. Once per run; a trainer that cannot answer leaves the live data as it is.
   */
  async backfill(runId: string): Promise<void> {
    if (this.backfilled === runId) return;
    this.backfilled = runId;
    this.recordAsked = runId;
    let result: unknown;
    try {
      result = await this.client.getRun(runId);
    } catch {
      return;
    }
    if (this.runId !== null && this.runId !== runId) return;
    this.runId = runId;
    this.takeRecord(runId, result);
    const rows = (result as { metrics?: unknown } | null)?.metrics;
    // An inspection pass's numbers are its batches': the run's recorded training is another series.
    if (!Array.isArray(rows) || this.inspection) return;
    const firstLive = this.progress.firstStep;
    const before = (step: number, first: number) => Number.isNaN(first) || step < first;
    const progress = this.newProgress();
    const firstDead = this.dead?.firstStep ?? NaN;
    const deadRows: { step: number; window: number; layers: LayerStats[] }[] = [];
    const firstHistograms = this.histogramRows.firstStep;
    /** The last row of each step (a resumed run rewrites steps), with its filters. */
    const histogramRows = new Map<number, NonNullable<ReturnType<typeof parseHistogramsRow>>>();
    for (const row of rows as Record<string, unknown>[]) {
      const step = num(row.step);
      if (!Number.isFinite(step)) continue;
      // A saved inspection pass (its rows are marked) is not training: Run detail lists it apart.
      if (row.inspection !== undefined && row.inspection !== null) continue;
      if ((row.kind === 'step' || row.kind === undefined) && before(step, firstLive) && 'loss' in row) {
        progress.push([step, num(row.loss), num(row.accuracy), num(row.lr), num(row.imagesPerSecond), num(row.gradNorm)]);
      } else if (row.kind === 'epoch') {
        this.addEpoch({
          step,
          epoch: num(row.epoch),
          trainLoss: orNull(num(row.trainLoss)),
          trainAccuracy: orNull(num(row.trainAccuracy)),
          valLoss: orNull(num(row.valLoss)),
          valAccuracy: orNull(num(row.valAccuracy)),
        });
      } else if (row.kind === 'layers' && Array.isArray(row.layers) && before(step, firstDead)) {
        deadRows.push({ step, window: num(row.window), layers: row.layers as LayerStats[] });
      } else if (row.kind === 'histograms' && before(step, firstHistograms)) {
        const parsed = parseHistogramsRow(row);
        if (parsed) histogramRows.set(step, parsed);
      }
    }
    for (const r of this.progress.rows()) progress.push(r);
    this.progress = progress;
    if (deadRows.length > 0) {
      const live = this.dead ? [...this.dead.rows()] : [];
      if (!this.dead) this.setDeadLayers(deadRows.at(-1)!.layers.map((l) => l.layer));
      this.dead!.clear();
      for (const r of deadRows) this.pushDead(r.step, r.layers);
      for (const r of live) this.dead!.push(r);
      if (this.stats.size === 0) {
        const last = deadRows.at(-1)!;
        for (const l of last.layers) this.stats.set(l.layer, l);
        this.statsWindow = Number.isFinite(last.window) ? last.window : null;
        this.latestStatsStep = last.step;
      }
    }
    if (histogramRows.size > 0) this.backfillHistograms([...histogramRows.values()].sort((a, b) => a.point.step - b.point.step));
    this.mark('progress', 'stats');
  }

  /** Recorded histogram rows (sorted, all before the first live one) go before the live ones. */
  private backfillHistograms(recorded: NonNullable<ReturnType<typeof parseHistogramsRow>>[]): void {
    const live = this.histogramRows.rows();
    this.histogramRows.clear();
    for (const r of recorded) this.histogramRows.push(r.point);
    for (const r of live) this.histogramRows.push(r);
    const firstLive = this.filterPoints[0]?.step ?? Infinity;
    const recordedFilters = recorded.flatMap((r) => (r.filters !== null && r.filters.step < firstLive ? [r.filters] : []));
    this.filterPoints = [...recordedFilters, ...this.filterPoints].slice(-MAX_FILTER_POINTS);
    this.mark('histograms');
  }

  /** Asks for the run's record (once per run; backfill's answer carries it too). */
  async loadRecord(runId: string): Promise<void> {
    if (this.recordAsked === runId) return;
    this.recordAsked = runId;
    try {
      this.takeRecord(runId, await this.client.getRun(runId));
    } catch {
      // A trainer that cannot say: the charts go without chance level.
    }
  }

  private takeRecord(runId: string, result: unknown): void {
    if (this.runId !== null && this.runId !== runId) return;
    const parsed = parseRunRecord((result as { record?: unknown } | null)?.record);
    if (parsed.ok && parsed.record.id === runId) this.record = parsed.record;
  }

  // -------------------------------------------------------------------------
  // Streams

  private onProgress(message: ProgressMessage): void {
    for (const item of message.items) {
      if (item.step <= this.progress.lastStep) this.progress.truncateAfter(item.step - 1);
      this.progress.push([item.step, item.loss ?? NaN, item.accuracy, item.lr, item.imagesPerSecond, item.gradNorm]);
    }
    const last = message.items.at(-1);
    if (last) this.latestItem = last;
    this.mark('progress');
  }

  private onLayerStats(message: LayerStatsMessage): void {
    const names = message.layers.map((l) => l.layer);
    if (!this.dead || names.join('\u0000') !== this.deadLayers.join('\u0000')) this.setDeadLayers(names);
    if (message.step <= this.dead!.lastStep) this.dead!.truncateAfter(message.step - 1);
    this.pushDead(message.step, message.layers);
    for (const l of message.layers) this.stats.set(l.layer, l);
    this.statsWindow = message.window;
    this.latestStatsStep = message.step;
    this.mark('stats');
  }

  private onHistograms(message: HistogramsMessage): void {
    for (const item of message.items) this.addHistograms(item);
    this.mark('histograms');
  }

  private addHistograms({ step, epoch, layers, filters }: HistogramsItem): void {
    this.histogramRows.push({ step, epoch, layers });
    // A rewritten step (a resumed run) replaces what was kept at and after it.
    this.filterPoints = this.filterPoints.filter((p) => p.step < step);
    if (filters) this.filterPoints = [...this.filterPoints, { step, epoch, filters }].slice(-MAX_FILTER_POINTS);
  }

  private onFrame(frame: DecodedFrame): void {
    const h = frame.header;
    if (h.channel.startsWith('full:')) {
      this.full = frame;
      this.mark('frames');
      return;
    }
    const key = frameKey(h.layer, h.kind);
    this.frames.delete(key); // re-inserted: the Map's order is least recently updated first
    this.frames.set(key, frame);
    while (this.frames.size > this.options.keepFrames) this.frames.delete(this.frames.keys().next().value as string);
    this.ranges[h.kind].include(statsRange(frame.stats));
    let history = this.histories.get(key);
    if (!history || history.probes !== h.probes.length || history.channels !== h.channels) {
      history = new FrameHistory(h.probes.length, h.channels, FrameHistory.capacityFor(h.probes.length, h.channels, this.options.historyBudgetBytes));
      this.histories.delete(key);
      this.histories.set(key, history);
      while (this.histories.size > MAX_HISTORIES) this.histories.delete(this.histories.keys().next().value as string);
    }
    history.push(h.step, frame.stats);
    this.mark('frames');
  }

  private onEvent(event: TrainerEvent): void {
    switch (event.type) {
      case 'started':
        if (event.inspection || this.inspection) {
          // A pass is its own series (batches, not training steps), and training after one starts afresh.
          this.reset(event.runId);
          this.inspection = event.inspection ?? null;
          if (this.inspection) {
            void this.loadRecord(event.runId);
            return;
          }
        } else if (!event.resumed || (this.runId !== null && this.runId !== event.runId)) {
          this.reset(event.runId);
        } else {
          this.runId = event.runId;
          // Resumed from a checkpoint: the steps after it will come again.
          this.progress.truncateAfter(event.step);
          this.dead?.truncateAfter(event.step);
          this.epochList = this.epochList.filter((e) => e.step <= event.step);
          this.histogramRows.truncateAfter(event.step);
          this.filterPoints = this.filterPoints.filter((p) => p.step <= event.step);
          this.mark('progress', 'stats', 'histograms');
        }
        // The record (and, joining a run under way, its earlier steps) in one getRun.
        if (this.progress.length === 0) void this.backfill(event.runId);
        else void this.loadRecord(event.runId);
        return;
      case 'state':
        if (event.runId && this.runId !== null && event.runId !== this.runId) {
          this.reset(event.runId);
          void this.loadRecord(event.runId);
        } else if (event.runId && this.runId === null) this.runId = event.runId;
        return;
      case 'epoch':
        this.addEpoch({
          step: event.step,
          epoch: event.epoch,
          trainLoss: event.trainLoss,
          trainAccuracy: event.trainAccuracy,
          valLoss: event.valLoss,
          valAccuracy: event.valAccuracy,
        });
        this.mark('progress');
        return;
      default:
        return;
    }
  }

  // -------------------------------------------------------------------------

  private addEpoch(point: EpochPoint): void {
    const list = this.epochList.filter((e) => e.epoch !== point.epoch);
    list.push(point);
    list.sort((a, b) => a.step - b.step || a.epoch - b.epoch);
    this.epochList = list;
  }

  private setDeadLayers(names: string[]): void {
    this.deadLayers = names;
    // Columns: step, then each layer's dead filters, then each layer's dead units. Counts merge by their last value.
    const reduce: Reduce[] = Array.from({ length: 1 + 2 * names.length }, () => 'last');
    this.dead = new SeriesBuffer(1 + 2 * names.length, { maxPoints: this.options.maxDeadPoints, reduce });
  }

  private pushDead(step: number, layers: readonly LayerStats[]): void {
    if (!this.dead) return;
    const L = this.deadLayers.length;
    const row = new Array<number>(1 + 2 * L).fill(NaN);
    row[0] = step;
    const byName = new Map(layers.map((l) => [l.layer, l]));
    this.deadLayers.forEach((name, i) => {
      const l = byName.get(name);
      if (!l) return;
      row[1 + i] = l.rule === 'cannot-die' ? (l.negativeRegimeFilters ?? NaN) : (l.deadFilters ?? NaN);
      row[1 + L + i] = l.deadUnits ?? NaN;
    });
    this.dead.push(row);
  }

  private newProgress(): SeriesBuffer {
    const reduce: (Reduce | undefined)[] = [];
    reduce[LR] = 'last';
    return new SeriesBuffer(PROGRESS_COLUMNS, { maxPoints: this.options.maxSteps, reduce });
  }

  private mark(...what: ('progress' | 'stats' | 'frames' | 'histograms')[]): void {
    for (const w of what) this.dirty[w] = true;
    if (this.scheduled) return;
    this.scheduled = true;
    this.options.schedule(() => this.flush());
  }
}

