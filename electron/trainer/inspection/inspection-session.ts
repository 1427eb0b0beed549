// An inspection pass: a run's latest weights go ONCE over a dataset the user names, in
// inference mode (no optimizer step, dropout off, RReLU at its evaluation slope), batch by
// batch, and every activation layer is measured as training measures it: dead units and
// filters, layer health, weight and activation histograms, and the probe faces' activation
// maps. It works for any run with a checkpoint, and is the only way to look inside a run
// imported from PyTorch (it has no training of the lab's to watch).
//
// It speaks the training session's events (TrainEvent), so the lab host streams it and the
// Train view shows it as it shows training; 'started' carries `inspection` and there is no
// progress (loss). layerStats' step is the batch of the pass (1..totalSteps); the tracker's
// window is the pass's number of batches, so "dead" is "dead on every image so far", and on
// the last batch "on every image of the pass" (pass-health.ts combines the health).
//
// What it writes, and only when the pass ran to its end and the run's lock is free then (taken
// for the write alone, so a pass never keeps the run from being trained, resumed or deleted): metrics.jsonl gets a 'layers' row and a 'histograms' row at the checkpoint's
// step, each marked `inspection` (protocol/metrics-rows.ts), and snapshots/ the probe faces'
// maps at that step when training left none there. It never writes run.json or a checkpoint:
// the weights are read, never changed.
import { batchArrays, type BatchSource } from '../../../datasets/batches';
import { openDataset, type FaceDataset } from '../../../datasets';
import { DatasetError } from '../../../datasets/errors';
import { checkIdentityPattern, type LayoutKind } from '../../../datasets/layout';
import { classificationSplit } from '../../../datasets/splits';
import { selectBackend, type BackendChoice, type BackendName } from '../../../models/backend';
import { describeAdapter } from '../../../models/webgpu-adapter';
import type { InspectionInfo, LayerStats } from '#protocol/messages';
import type { InspectionMark } from '#protocol/metrics-rows';
import type { GpuHost } from '../gpu-host/host-link';
import { checkpointClasses } from '../interchange/run-weights';
import { defaultProbeImages, type MapSubscription, type ProbeOptions, type StepHistograms } from '../probes/run-probes';
import { RunError, resolveRun, type LatestCheckpoint, type RunHandle } from '../runs/run-store';
import { InProcessCore, type ComputeCore, type CoreFactory, type ModelInfo, type ProbeSettings } from '../training/compute-core';
import { ViewerLink } from '../training/viewer-link';
import { parseTrainConfig, type TrainConfig } from '../training/config';
import { histogramRequest } from '../training/histogram-cadence';
import { describeDataset, TrainingError } from '../training/run-model';
import type { RunOutcome, TrainEvent } from '../training/session';
import { passLayerStats, type BatchStats } from './pass-health';
import { recordInspection, type SavedInspection } from './inspection-record';
import { MAX_SNAPSHOT_PROBES } from '../probes/snapshot-capture';
import { setImmediate as yieldToEvents } from 'node:timers/promises';

/** The dataset to look with: any source the lab imports, as `lab eval --data` takes it. */
export interface InspectionData {
  readonly spec: string;
  readonly layout?: LayoutKind | 'auto';
  /** Flat folders: a regex whose one group is the identity. */
  readonly identityRegex?: string;
}

export interface InspectionOptions {
  readonly dataDir: string;
  readonly data: InspectionData;
  readonly onEvent?: (event: TrainEvent) => void;
  /** Force a backend (otherwise the best one for inference). */
  readonly backend?: BackendName;
  /** The desktop app's GPU host (see SessionOptions.gpuHost). */
  readonly gpuHost?: GpuHost;
  /** Makes the core when it runs in this process (default InProcessCore.create). */
  readonly core?: CoreFactory;
  /** Prefetched batches (0 = in-thread). */
  readonly prefetch?: number;
  /** Images per batch (default: the run's training batch). */
  readonly batch?: number;
  /** Probe settings (the interval and the saturation threshold; the window is the pass's). */
  readonly probes?: Omit<ProbeOptions, 'window'>;
}

/** How a pass ended: the run's outcome, with what the pass found and where it was kept. */
export interface InspectionOutcome extends RunOutcome {
  /** The checkpoint's step (whose weights were looked at). */
  readonly step: number;
  readonly data: ReturnType<typeof describeDataset>;
  readonly batches: number;
  /** Images gone through (all of the dataset's when the pass ended). */
  readonly images: number;
  /** Every activation layer's numbers over the whole pass (dead on every image; health over every batch). */
  readonly layers: LayerStats[];
  /** Where the pass was kept; null when it was not (stopped, or another process holds the run). */
  readonly saved: SavedInspection | null;
  /** Why it was not kept, when it was not. */
  readonly notSaved?: string;
  readonly warnings: readonly string[];
}

/** Everything a pass needs, made before it runs. */
interface Opened {
  readonly run: RunHandle;
  readonly config: TrainConfig;
  readonly checkpoint: LatestCheckpoint;
  readonly dataset: FaceDataset;
  readonly source: BatchSource;
  readonly backend: BackendChoice;
  readonly batches: number;
  readonly core: ComputeCore;
}

export class InspectionSession {
  private batch = 0;
  private readonly warnings: string[] = [];
  readonly run: RunHandle;
  readonly model: ModelInfo;
  readonly core: ComputeCore;
  /** The viewers' commands and requests for maps, as training has them (training/viewer-link.ts). */
  private readonly viewers: ViewerLink;
  /** What it does to its run, for the lab host's busy message. */
  readonly activity = 'being looked inside (an inspection pass)';

  private constructor(
    private readonly opened: Opened,
    private readonly options: InspectionOptions,
    probeSettings: ProbeSettings,
  ) {
    this.run = opened.run;
    this.core = opened.core;
    this.model = opened.core.model;
    this.viewers = new ViewerLink(opened, probeSettings, {
      // Frames are sent at the pass's batch (0 before the first).
      step: () => this.batch,
      // train() announces the faces after 'started'; a change is announced once a batch has gone (or the pass has ended).
      announced: () => this.batch > 0 || this.viewers.ended,
      emit: (event) => this.emit(event),
    });
  }

  /** Opens the run's latest weights and the dataset, ready for `train()` (the pass). */
  static async open(runRef: string, options: InspectionOptions): Promise<InspectionSession> {
    const run = await resolveRun(options.dataDir, runRef);
    const { data } = options;
    if (data.identityRegex !== undefined) {
      const problem = checkIdentityPattern(data.identityRegex);
      if (problem !== null) throw new DatasetError(`The identity regex ${problem}`, 'Write a regular expression whose one group is the person, e.g. ^(.+)_\\d+\\.', data.spec);
    }
    // The step settings play no part in a pass (a run recorded before they were bounded is looked at all the same).
    const config = parseTrainConfig({ ...run.record.config, maxSteps: 0, checkpointEvery: 0, ...(options.batch === undefined ? {} : { batch: options.batch }) });
    const checkpoint = await run.loadLatestCheckpoint();
    if (!checkpoint) throw new TrainingError(`Run ${run.id} has no checkpoint yet, so it has no weights to look inside: let it train to the end of an epoch (or stop it, which saves one), then inspect it`);
    const backend = await selectBackend({ purpose: 'infer', ...(options.backend === undefined ? {} : { force: options.backend }), ...(options.gpuHost === undefined ? {} : { remoteWebGpu: options.gpuHost }) });
    const dataset = await openDataset(data.spec, {
      dataDir: options.dataDir,
      inputSize: config.inputSize,
      layout: data.layout ?? 'auto',
      ...(data.identityRegex === undefined ? {} : { identityRule: { kind: 'regex', pattern: data.identityRegex } }),
    });
    const source: BatchSource = { pixels: await dataset.pixels(), storedSize: dataset.storedSize, labels: dataset.imageIdentity };
    const batches = Math.ceil(dataset.images.length / config.batch);
    let core: ComputeCore | undefined;
    try {
      const makeCore = backend.remote === true && options.gpuHost !== undefined ? options.gpuHost.createCore : (options.core ?? InProcessCore.create);
      core = await makeCore({ config, numClasses: checkpointClasses(checkpoint.arrays), probes: { ...options.probes, window: Math.max(1, batches) } });
      // The weights only: a trained run's optimizer slots and probe history play no part in a pass.
      await core.setState({ arrays: [...checkpoint.arrays.values()].filter((a) => a.name.startsWith('weights/')), optimizerUpdates: 0, probes: undefined, weightsOnly: true });
      const probeSettings = await core.configureProbes({});
      const session = new InspectionSession({ run, config, checkpoint, dataset, source, backend, batches, core }, options, probeSettings);
      session.warnings.push(...checkpoint.warnings);
      await session.setProbeImages(null);
      return session;
    } catch (error) {
      await core?.dispose();
      throw error;
    }
  }

  /** Batches in the pass (the 'started' event's totalSteps). */
  get totalSteps(): number {
    return this.opened.batches;
  }

  get hasEnded(): boolean {
    return this.viewers.ended;
  }

  /** What the pass looks at, as the 'started' event carries it. */
  get inspection(): InspectionInfo {
    const { dataset, batches, checkpoint } = this.opened;
    return { data: dataset.name, source: dataset.report.source, images: dataset.images.length, batches, checkpointStep: checkpoint.step };
  }

  /** A stop ends the pass unsaved at its next batch (a pass is kept only whole). */
  stop(): void {
    this.viewers.stop();
  }

  pause(): void {
    this.viewers.pause();
  }

  resume(): void {
    this.viewers.resume();
  }

  /** The probe faces by the inspected dataset's image index; null = as training chooses them (the first held-out face of 4 identities). */
  async setProbeImages(images: readonly number[] | null): Promise<void> {
    await this.viewers.setFaces(images ?? defaultProbes(this.opened.dataset, this.opened.config));
  }

  /** Probe settings; the window stays the pass's (dead over the whole pass), whatever a viewer sets. */
  configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings> {
    const { statsWindow: _ignored, ...rest } = changes;
    return this.viewers.configureProbes(rest);
  }

  // What viewers ask of the maps is answered as in training (viewer-link.ts).
  setProbeInterval(ms: number): Promise<void> {
    return this.viewers.setProbeInterval(ms);
  }

  probeNow(): Promise<void> {
    return this.viewers.probeNow();
  }

  subscribe(subscription: MapSubscription): Promise<void> {
    return this.viewers.subscribe(subscription);
  }

  subscriptionProblem(subscription: MapSubscription): string | null {
    return this.viewers.subscriptionProblem(subscription);
  }

  /** Runs the pass (named as the lab's session owner calls a session's work); resolves when it has ended. */
  async train(): Promise<InspectionOutcome> {
    const { run, config, dataset, source, backend, batches, checkpoint } = this.opened;
    this.emit({
      type: 'started',
      runId: run.id,
      step: 0,
      totalSteps: batches,
      backend: backend.summary,
      backendName: backend.name,
      ...(backend.adapter ? { adapter: describeAdapter(backend.adapter) } : {}),
      resumed: false,
      inspection: this.inspection,
    });
    this.emit({ type: 'layers', layers: this.model.layers });
    this.viewers.emitProbes();
    for (const message of this.warnings) this.emit({ type: 'warning', message });
    this.emit({ type: 'state', state: 'running' });
    const measured: BatchStats[] = [];
    let histograms: StepHistograms | null = null;
    let images = 0;
    try {
      const iterator = batchArrays(source, {
        indices: Int32Array.from(dataset.images.keys()),
        batchSize: config.batch,
        inputSize: config.inputSize,
        augment: false,
        shuffle: false,
        seed: config.seed,
        dropLast: false,
        prefetch: this.options.prefetch ?? 2,
      });
      try {
        for await (const batch of iterator) {
          if (await this.holdForCommands()) {
            const notSaved = `stopped on request after batch ${this.batch} of ${batches}: a pass is kept only whole, so nothing was saved`;
            return await this.end('stopped', notSaved, { layers: passLayerStats(measured), images, saved: null, notSaved });
          }
          const step = this.batch + 1;
          const reply = await this.core.inspect({ batch, step, ...histogramsOf(step, batches) });
          this.batch = step;
          images += reply.count;
          measured.push({ count: reply.count, layers: reply.layers });
          this.emit({ type: 'layerStats', step, epoch: 0, window: reply.statsWindow, layers: reply.layers });
          if (reply.histograms) {
            histograms = reply.histograms;
            this.emit({ type: 'histograms', step, epoch: 0, ...reply.histograms });
          }
          await this.emitPending();
        }
      } finally {
        await iterator.close();
      }
      const layers = passLayerStats(measured);
      // The pass's numbers, as the last word on the Train view's health table.
      this.emit({ type: 'layerStats', step: this.batch, epoch: 0, window: Math.max(1, batches), layers });
      const mark: InspectionMark = { ...pick(describeDataset(dataset)), images, batches, at: new Date().toISOString() };
      let saved: SavedInspection | null = null;
      const lock = await lockIfFree(run);
      if (lock.unlock !== null) {
        try {
          for (const message of lock.unlock.warnings) this.emit({ type: 'warning', message });
          const recorded = await recordInspection(run, { checkpoint, mark, window: Math.max(1, batches), layers, histograms, snapshot: () => this.snapshotOf(checkpoint) });
          saved = recorded.saved;
          for (const message of recorded.warnings) this.emit({ type: 'warning', message });
        } finally {
          await lock.unlock();
        }
      } else {
        this.emit({ type: 'warning', message: `${lock.notSaved}: the pass is shown but not kept in the run` });
      }
      const where = saved ? `kept in ${saved.metrics}${saved.snapshot ? ` and ${saved.snapshot}` : ''}` : `not kept (${lock.notSaved ?? 'no lock'})`;
      const message = `looked at ${images} images of ${dataset.name} in ${this.batch} batches with the weights of step ${checkpoint.step}; ${where}`;
      return await this.end('finished', message, { layers, images, saved, ...(saved === null && lock.notSaved !== undefined ? { notSaved: lock.notSaved } : {}) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.viewers.end();
      this.emit({ type: 'state', state: 'failed', message });
      throw error;
    }
  }

  /** The probe faces' maps of every activation layer, for the snapshot (at most MAX_SNAPSHOT_PROBES faces). */
  private async snapshotOf(checkpoint: LatestCheckpoint): Promise<{ frames: ArrayBuffer[]; probes: number[]; probeLabels: string[] }> {
    const { probes, labels } = this.viewers.probeList();
    const frames = await this.core.snapshot(checkpoint.step);
    return { frames, probes: probes.slice(0, MAX_SNAPSHOT_PROBES), probeLabels: labels.slice(0, MAX_SNAPSHOT_PROBES) };
  }

  private async end(state: 'finished' | 'stopped', message: string, found: Pick<InspectionOutcome, 'layers' | 'images' | 'saved' | 'notSaved'>): Promise<InspectionOutcome> {
    // The maps of these weights (unchanged by the pass): from now on every request for maps is answered at once.
    try {
      await this.viewers.finalMaps();
    } catch (error) {
      this.emit({ type: 'warning', message: `the activation maps could not be made (${error instanceof Error ? error.message : String(error)})` });
    }
    this.emit({ type: 'state', state, message });
    const { run, dataset, batches, checkpoint } = this.opened;
    return { runId: run.id, state, step: checkpoint.step, message, data: describeDataset(dataset), batches, warnings: [...this.warnings], ...found };
  }

  /** Waits while paused; true when a stop was asked for. */
  private async holdForCommands(): Promise<boolean> {
    await yieldToEvents();
    if (this.viewers.holding) {
      this.emit({ type: 'state', state: 'paused' });
      await this.viewers.holdWhilePaused();
      if (!this.viewers.stopping) this.emit({ type: 'state', state: 'running' });
    }
    return this.viewers.stopping;
  }

  /**
   * The maps a capture was asked for (a subscription, other probe faces, Probe now), if one is
   * pending. The weights never change in a pass, so nothing is captured on a timer.
   */
  private async emitPending(): Promise<void> {
    await this.viewers.emitFrames(true);
  }

  private emit(event: TrainEvent): void {
    this.options.onEvent?.(event);
  }

  /** Frees the model (the run's lock is held only while a finished pass is written); a failure to is a warning, never an unhandled rejection. */
  dispose(): void {
    const warn = (what: string) => (error: unknown) => this.emit({ type: 'warning', message: `${what}: ${error instanceof Error ? error.message : String(error)}` });
    void this.core.dispose().catch(warn('the compute core could not be freed'));
  }
}

/** Takes the run's lock when nobody holds it; when a live process does (it trains the run), the pass is not kept. */
async function lockIfFree(run: RunHandle): Promise<{ unlock: Awaited<ReturnType<RunHandle['acquireLock']>> | null; notSaved?: string }> {
  try {
    return { unlock: await run.acquireLock() };
  } catch (error) {
    if (error instanceof RunError && error.kind === 'locked') return { unlock: null, notSaved: error.reason };
    throw error;
  }
}

/** The probe faces training would choose on this dataset: the first held-out face of 4 identities (any face when it cannot be split). */
function defaultProbes(dataset: FaceDataset, config: TrainConfig): number[] {
  let pool: Int32Array;
  try {
    const split = classificationSplit(dataset, { holdOutFraction: config.holdOut, seed: config.seed });
    pool = split.test.length > 0 ? split.test : split.train;
  } catch {
    pool = Int32Array.from(dataset.images.keys()); // fewer than 2 identities: no split, any face
  }
  return defaultProbeImages(dataset.imageIdentity, pool);
}

/** Histograms as training takes them: on the first and last batch and every few between. */
function histogramsOf(step: number, batches: number): { histograms?: NonNullable<ReturnType<typeof histogramRequest>> } {
  const request = histogramRequest(step, batches);
  return request ? { histograms: request } : {};
}

function pick({ name, source, hash }: ReturnType<typeof describeDataset>): Pick<InspectionMark, 'data' | 'source' | 'hash'> {
  return { data: name, source, hash };
}
