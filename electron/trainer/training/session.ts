// A training run from start (or resume) to its end: data, model, the loop with
// pause/resume/stop, metrics, checkpoints, and the NaN guard. Plain Node: the
// command line runs it in-process, the app inside the trainer process. It holds no
// tensor: the model, optimizer and probes sit behind a ComputeCore (compute-core.ts),
// and the session hands it plain data (batches as arrays, settings, state).
//
// One session trains at a time in a process: stochastic layers take their seeds
// from the step set in models/step-random (see there).
import * as tf from '@tensorflow/tfjs';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { batchArrays, type BatchSource } from '../../../datasets/batches';
import { stepsPerEpoch, totalSteps } from '#protocol/train-config';
import type { FaceDataset } from '../../../datasets';
import { classificationSplit } from '../../../datasets/splits';
import { selectBackend, type BackendChoice, type BackendName, type SelectBackendOptions } from '../../../models/backend';
import { describeAdapter } from '../../../models/webgpu-adapter';
import type { GpuHost } from '../gpu-host/host-link';
import { createRun, resolveRun, type RunHandle, type RunState } from '../runs/run-store';
import { LAB_VERSION } from '#protocol/version';
import { parseTrainConfig, recordedWithinLimits, type ResumeOverrides, type TrainConfig, type TrainConfigInput } from './config';
import { checkSameDataset, describeDataset, loadDataset, TrainingError } from './run-model';
import { learningRate } from './schedule';
import { LossWatch } from './loss-watch';
import { fitBatch, type GpuBufferLimits } from './memory-fit';
import { describeRecipeChoices } from '#protocol/train-recipes';
import { WasmHeapFullError } from '../../../models/kernels/wasm-heap';
import { defaultProbeImages, type MapSubscription, type ProbeOptions } from '../probes/run-probes';
import { MAX_SNAPSHOT_PROBES, pruneSnapshotsAfter, writeSnapshot } from '../probes/snapshots';
import type { FirstFilters, InspectionInfo, LayerHistograms, LayerInfo, LayerStats } from '#protocol/messages';
import type { StepHistograms } from '../probes/run-probes';
import { histogramRequest } from './histogram-cadence';
import { InProcessCore, type ComputeCore, type CoreFactory, type ModelInfo, type ProbeSettings } from './compute-core';
import { ViewerLink } from './viewer-link';
import { validate, type Validation } from './validation';

export { TrainingError } from './run-model';
export type { RunState } from '../runs/run-store';

/** What a run.json written before `init` and `warmupSteps` existed trained with. */
const SETTINGS_BEFORE_RECIPES = { init: 'he', warmupSteps: 0 } as const;

export interface StepMetrics {
  readonly kind: 'step';
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly imagesPerSecond: number;
  readonly stepMs: number;
}

export interface EpochMetrics {
  readonly kind: 'epoch';
  readonly step: number;
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
}

export type TrainEvent =
  /** `inspection`: set by an inspection pass (inspection/inspection-session.ts), which speaks these events too without training. */
  | { readonly type: 'started'; readonly runId: string; readonly step: number; readonly totalSteps: number; readonly backend: string; readonly backendName: string; readonly adapter?: string; readonly resumed: boolean; readonly inspection?: InspectionInfo }
  /** `at`: when the step ended (ms since the epoch). */
  | ({ readonly type: 'progress'; readonly at: number } & Omit<StepMetrics, 'kind'>)
  | ({ readonly type: 'epoch' } & Omit<EpochMetrics, 'kind'>)
  | { readonly type: 'checkpoint'; readonly step: number; readonly file: string }
  | { readonly type: 'state'; readonly state: RunState; readonly message?: string }
  /** Something the user should know that did not stop the run (a damaged checkpoint skipped on resume). */
  | { readonly type: 'warning'; readonly message: string }
  /** The activation layers a viewer can watch (sent once the run starts). */
  | { readonly type: 'layers'; readonly layers: LayerInfo[] }
  /** The probe faces (dataset image indices, identity names) and the capture interval. */
  | { readonly type: 'probes'; readonly images: number[]; readonly labels: string[]; readonly intervalMs: number }
  /** Every activation layer's dead counts and health on this step's training batch. */
  | { readonly type: 'layerStats'; readonly step: number; readonly epoch: number; readonly window: number; readonly layers: LayerStats[] }
  /** Every activation layer's weight and activation histograms, and the first layer's filters, every few steps (training/histogram-cadence.ts). */
  | { readonly type: 'histograms'; readonly step: number; readonly epoch: number; readonly layers: LayerHistograms[]; readonly filters: FirstFilters | null }
  /** Binary activation-map frames (protocol/frames.ts) of the layers being watched. */
  | { readonly type: 'frames'; readonly step: number; readonly frames: ArrayBuffer[] };

/** Layer statistics are written to metrics.jsonl (as `kind: 'layers'` rows) every this many steps. */
export const DEFAULT_STATS_RECORD_EVERY = 10;

export interface SessionOptions {
  readonly dataDir: string;
  readonly onEvent?: (event: TrainEvent) => void;
  /** Force a backend (otherwise the best one that can train). */
  readonly backend?: BackendName;
  /** Prefetched batches (0 = in-thread). */
  readonly prefetch?: number;
  /**
   * Dead-neuron statistics and activation-map probes (on by default; `stats: false` turns the
   * per-step numbers off, `snapshots: false` the activation-map snapshots of every epoch end,
   * `histograms: false` the weight and activation histograms).
   */
  readonly probes?: ProbeOptions & { readonly recordEvery?: number; readonly snapshots?: boolean; readonly histograms?: boolean };
  /** Makes the run's compute core when it trains in this process (default InProcessCore.create). */
  readonly core?: CoreFactory;
  /**
   * The desktop app's GPU host (gpu-host/host-link.ts): webgpu is then Chromium's, in a hidden
   * page, and a run chosen onto it gets its core there. Absent on the command line and in serve mode (Dawn in this process).
   */
  readonly gpuHost?: GpuHost;
}

export interface RunOutcome {
  readonly runId: string;
  readonly state: RunState;
  readonly step: number;
  readonly message?: string;
  /** Held-out loss and accuracy at the end (every epoch end has them too). */
  readonly validation?: Validation;
  /** Why it failed, when it did: 'diverged' (NaN/Inf) or 'error'. */
  readonly failure?: 'diverged' | 'error';
  /** The learning rate of the step that diverged. */
  readonly lr?: number;
}

interface Position {
  step: number;
  epoch: number;
  /** Next batch within the epoch. */
  batch: number;
}

/** Running sums of the current epoch's training loss and accuracy; saved in checkpoints so a resumed epoch reports the same numbers. */
interface EpochSums {
  lossSum: number;
  correct: number;
  seen: number;
}

/** Everything a run trains with, made before the run's folder exists (so a bad setting leaves no orphan run). */
interface Prepared {
  readonly config: TrainConfig;
  readonly dataset: FaceDataset;
  readonly backend: BackendChoice;
  readonly split: { train: Int32Array; test: Int32Array };
  readonly source: BatchSource;
  readonly core: ComputeCore;
  /** The core's probe settings as they are (it answers them on every change). */
  readonly probeSettings: ProbeSettings;
}

async function prepare(config: TrainConfig, dataset: FaceDataset, backend: BackendChoice, options: SessionOptions): Promise<Prepared> {
  const split = classificationSplit(dataset, { holdOutFraction: config.holdOut, seed: config.seed });
  const source: BatchSource = { pixels: await dataset.pixels(), storedSize: dataset.storedSize, labels: dataset.imageIdentity };
  const { probes } = options;
  const makeCore = backend.remote === true && options.gpuHost !== undefined ? options.gpuHost.createCore : (options.core ?? InProcessCore.create);
  const core = await makeCore({ config, numClasses: dataset.identities.length, ...(probes ? { probes } : {}) });
  try {
    const probeSettings = await core.configureProbes({});
    return { config, dataset, backend, split, source, core, probeSettings };
  } catch (error) {
    await core.dispose();
    throw error;
  }
}

export class TrainingSession {
  private trainStarted = false;
  private lastCheckpointStep = -1;
  private lastSnapshotStep = -1;
  /** Every activation layer's maps for the probe faces are kept in snapshots/ at epoch ends (probes/snapshots.ts), unless turned off. */
  private readonly snapshots: boolean;
  private sums: EpochSums = { lossSum: 0, correct: 0, seen: 0 };
  /** The loss against chance level: divergence before NaN, checkpoints only while healthy, "not learning yet". */
  private readonly lossWatch: LossWatch;
  /** Why the settings the run was not given are what they are (protocol/train-recipes.ts), for a new run. */
  decisions: readonly string[] = [];
  readonly config: TrainConfig;
  readonly backend: BackendChoice;
  /** Where the tensors live: the model, optimizer and probes of this run. */
  readonly core: ComputeCore;
  /** The model, as plain data. */
  readonly model: ModelInfo;
  /**
   * The viewers' commands and requests for maps (viewer-link.ts). Once the run has
   * ended (finished, stopped, failed) its weights are final, and until the session is disposed
   * a viewer's request for maps (a layer, pre-activation, a filter at full size, other probe
   * faces, Probe now) is answered at once from them.
   */
  private readonly viewers: ViewerLink;
  private readonly unlock: () => Promise<void>;

  private constructor(
    readonly run: RunHandle,
    private readonly prepared: Prepared,
    private position: Position,
    private readonly resumed: boolean,
    private readonly options: SessionOptions,
    unlock: () => Promise<void>,
    private readonly warnings: string[] = [],
  ) {
    this.unlock = once(unlock);
    this.config = prepared.config;
    this.backend = prepared.backend;
    this.core = prepared.core;
    this.model = prepared.core.model;
    // Frames at the training step; a change of faces is announced once train() has begun (it announces them after 'started').
    this.viewers = new ViewerLink(prepared, prepared.probeSettings, { step: () => this.position.step, announced: () => this.trainStarted, emit: (event) => this.emit(event) });
    this.snapshots = options.probes?.snapshots !== false;
    this.lossWatch = new LossWatch(prepared.dataset.identities.length, prepared.config.warmupSteps, notLearningAdvice(prepared.config));
  }

  static async start(input: TrainConfigInput, options: SessionOptions): Promise<TrainingSession> {
    parseTrainConfig(input); // a bad setting is refused before any backend is tried
    const backend = await selectBackend(backendRequest(options));
    const config = parseTrainConfig(input, { backend: backend.name });
    const dataset = await loadDataset(config, options.dataDir);
    let prepared = await prepare(config, dataset, backend, options);
    try {
      const fit = fitBatch({ summary: prepared.core.model.summary, batch: config.batch, backend: backend.name, userChose: input.batch !== undefined, model: config.model, inputSize: config.inputSize, ...gpuLimits(backend) });
      if (fit.kind === 'refused') throw new TrainingError(fit.message);
      const notes: string[] = [];
      if (fit.kind === 'reduced') {
        prepared = { ...prepared, config: { ...config, batch: fit.batch } };
        notes.push(fit.note);
      }
      const run = await createRun(options.dataDir, {
        config: prepared.config,
        dataset: describeDataset(dataset),
        backend: backend.name,
        versions: versions(),
      });
      const unlock = await run.acquireLock();
      await run.updateRun({ summary: { backend: backend.summary } });
      const session = new TrainingSession(run, prepared, { step: 0, epoch: 0, batch: 0 }, false, options, unlock, notes);
      session.decisions = describeRecipeChoices(input as Record<string, unknown>, prepared.config, backend.name);
      await session.setProbeImages(null);
      return session;
    } catch (error) {
      await prepared.core.dispose();
      throw error;
    }
  }

  /**
   * Continues a run from its last good checkpoint (after a stop, a crash or kill -9).
   * `overrides` may change the learning rate, clipping, epochs or step limit (after
   * a NaN, say); each change is recorded in run.json.
   */
  static async resume(runRef: string, options: SessionOptions & { overrides?: ResumeOverrides }): Promise<TrainingSession> {
    const run = await resolveRun(options.dataDir, runRef);
    const origin = run.record.origin;
    if (origin?.kind === 'imported') {
      throw new TrainingError(
        `Run ${run.id} was imported from ${origin.file}: it has no training of the lab's to resume (no dataset, optimiser state or schedule). Evaluate it with npm run lab -- eval ${run.id} --data <faces>, or export it with npm run lab -- export ${run.id} --format torchrun and train it further with train.py --init init.pt`,
      );
    }
    const unlock = await run.acquireLock(); // refuses while another process trains this run
    let prepared: Prepared | undefined;
    try {
      await run.removeStaleTempFiles();
      const changes = Object.fromEntries(Object.entries(options.overrides ?? {}).filter(([, v]) => v !== undefined));
      // Runs recorded before these settings existed trained without warm-up, from He-normal weights.
      const config = parseTrainConfig({ ...SETTINGS_BEFORE_RECIPES, ...recordedWithinLimits(run.record.config), ...changes });
      const backend = await selectBackend(backendRequest(options));
      const dataset = await loadDataset(config, options.dataDir);
      checkSameDataset(run.record.dataset.hash, dataset, run.id);
      prepared = await prepare(config, dataset, backend, options);
      const fit = fitBatch({ summary: prepared.core.model.summary, batch: config.batch, backend: backend.name, userChose: true, model: config.model, inputSize: config.inputSize, ...gpuLimits(backend) });
      if (fit.kind === 'refused') throw new TrainingError(`${fit.message.replace(/\. Use --batch.*$/, '')}. A run keeps its batch: start a new run with a batch that fits, or resume on a backend with more memory (--backend)`);
      const loaded = await run.loadLatestCheckpoint();
      const position: Position = loaded ? { step: loaded.step, epoch: loaded.epoch, batch: Number(loaded.meta['batch'] ?? 0) } : { step: 0, epoch: 0, batch: 0 };
      const session = new TrainingSession(run, prepared, position, true, options, unlock, [...unlock.warnings, ...(loaded?.warnings ?? [])]);
      if (loaded) {
        await prepared.core.setState({ arrays: [...loaded.arrays.values()], optimizerUpdates: Number(loaded.meta['optimizerUpdates'] ?? 0), probes: loaded.meta['probes'] });
        const sums = loaded.meta['epochSums'] as EpochSums | undefined;
        if (sums) session.sums = { ...sums };
        session.lastCheckpointStep = loaded.step;
      }
      // A cut or damaged metrics.jsonl: the lost steps stay lost (training goes on from the
      // checkpoint), so say so, and record them in run.json, rather than leave a silent gap.
      const metrics = await run.truncateMetricsAfter(position.step);
      session.warnings.push(...metrics.removedLines);
      for (const gap of await run.recordGaps(metrics.gaps)) {
        const steps = gap.from === gap.to ? `step ${gap.from}` : `steps ${gap.from}-${gap.to}`;
        session.warnings.push(`metrics.jsonl has no rows for ${steps}: ${gap.reason}. Training goes on from the checkpoint at step ${position.step}; the curves of this run have a gap there, recorded in run.json (gaps)`);
      }
      // Snapshots after the checkpoint belong to the abandoned timeline, like the metrics rows.
      await pruneSnapshotsAfter(run.dir, position.step).catch((error: unknown) => {
        session.warnings.push(`old activation snapshots after step ${position.step} could not be removed (${(error as Error).message}); the replay may show steps of the abandoned timeline`);
      });
      const history = Array.isArray(run.record.summary?.['resumes']) ? (run.record.summary['resumes'] as unknown[]) : [];
      await run.updateRun({
        config,
        backend: backend.name,
        versions: versions(),
        failure: undefined,
        summary: { ...(run.record.summary ?? {}), backend: backend.summary, resumes: [...history, { at: new Date().toISOString(), step: position.step, changes }] },
      });
      await session.setProbeImages(null);
      return session;
    } catch (error) {
      if (prepared) await prepared.core.dispose();
      await unlock();
      throw error;
    }
  }

  get stepsPerEpoch(): number {
    // The protocol's count (viewers estimate a run's length with it), which is the batcher's.
    return stepsPerEpoch(this.prepared.split.train.length, this.config.batch);
  }

  private get dropLast(): boolean {
    return this.prepared.split.train.length >= this.config.batch;
  }

  get totalSteps(): number {
    return totalSteps(this.stepsPerEpoch, this.config.epochs, this.config.maxSteps);
  }

  /** Seen between steps (holdForCommands). */
  pause(): void {
    this.viewers.pause();
  }

  /** Sets the probe faces by dataset image index; null = the default (first held-out face of 4 identities). */
  async setProbeImages(images: readonly number[] | null): Promise<void> {
    const { dataset, split } = this.prepared;
    await this.viewers.setFaces(images ?? defaultProbeImages(dataset.imageIdentity, split.test.length > 0 ? split.test : split.train));
  }

  setProbeInterval(ms: number): Promise<void> {
    return this.viewers.setProbeInterval(ms);
  }

  /** Changes the core's probe settings (interval, statistics window, saturation threshold, statistics on/off). */
  configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings> {
    return this.viewers.configureProbes(changes);
  }

  subscriptionProblem(subscription: MapSubscription): string | null {
    return this.viewers.subscriptionProblem(subscription);
  }

  subscribe(subscription: MapSubscription): Promise<void> {
    return this.viewers.subscribe(subscription);
  }

  probeNow(): Promise<void> {
    return this.viewers.probeNow();
  }

  resume(): void {
    this.viewers.resume();
  }

  stop(): void {
    this.viewers.stop();
  }

  /** Whether the run has ended; its final weights still answer requests for maps until dispose. */
  get hasEnded(): boolean {
    return this.viewers.ended;
  }

  /** The core when it runs in this thread (tests and the bench reach into its tensors); throws otherwise. */
  get inProcessCore(): InProcessCore {
    if (this.core instanceof InProcessCore) return this.core;
    throw new Error('this session\'s compute core does not run in this thread');
  }

  private emit(event: TrainEvent): void {
    this.options.onEvent?.(event);
  }

  private async setState(state: RunState, message?: string): Promise<void> {
    await this.run.updateRun({ state });
    this.emit(message === undefined ? { type: 'state', state } : { type: 'state', state, message });
  }

  private get maxStepsReached(): boolean {
    return this.config.maxSteps > 0 && this.position.step >= this.config.maxSteps;
  }

  /** Trains until the last epoch, a stop, `maxSteps`, or a failure. */
  async train(): Promise<RunOutcome> {
    const { config, prepared } = this;
    const numClasses = prepared.dataset.identities.length;
    this.trainStarted = true;
    await this.setState('running');
    this.emit({ type: 'started', runId: this.run.id, step: this.position.step, totalSteps: this.totalSteps, backend: this.backend.summary, backendName: this.backend.name, ...(this.backend.adapter ? { adapter: describeAdapter(this.backend.adapter) } : {}), resumed: this.resumed });
    this.emit({ type: 'layers', layers: this.model.layers });
    this.viewers.emitProbes();
    for (const message of this.warnings) this.emit({ type: 'warning', message });
    try {
      while (this.position.epoch < config.epochs) {
        if (this.maxStepsReached) return await this.stopAtLimit();
        const iterator = batchArrays(prepared.source, {
          indices: prepared.split.train,
          batchSize: config.batch,
          inputSize: config.inputSize,
          augment: true,
          shuffle: true,
          seed: config.seed,
          epoch: this.position.epoch,
          dropLast: this.dropLast,
          prefetch: this.options.prefetch ?? 2,
          startBatch: this.position.batch,
        });
        try {
          for await (const batch of iterator) {
            if (this.maxStepsReached) return await this.stopAtLimit();
            if (await this.holdForCommands()) {
              await this.checkpoint();
              await this.recordSnapshot(this.epochOfStep);
              return await this.finish('stopped', 'stopped on request');
            }
            const lr = learningRate(config, this.position.epoch + this.position.batch / this.stepsPerEpoch, this.position.step);
            const histograms = this.options.probes?.histograms === false ? undefined : histogramRequest(this.position.step + 1, this.totalSteps);
            const result = await this.core.step({ batch, lr, clipNorm: config.clipNorm, step: this.position.step + 1, seed: config.seed, ...(histograms ? { histograms } : {}) });
            const { stepMs } = result;
            if (!result.finite) return await this.diverged(this.position.step + 1, nonFiniteReason(result), lr);
            this.position = { ...this.position, step: this.position.step + 1, batch: this.position.batch + 1 };
            this.sums.lossSum += result.loss * result.count;
            this.sums.correct += result.correct;
            this.sums.seen += result.count;
            const row: StepMetrics = {
              kind: 'step',
              step: this.position.step,
              epoch: this.position.epoch,
              loss: result.loss,
              accuracy: result.correct / result.count,
              lr,
              gradNorm: result.gradNorm,
              imagesPerSecond: (result.count * 1000) / stepMs,
              stepMs,
            };
            const at = performance.timeOrigin + performance.now(); // before the disk write below
            await this.run.appendMetrics([row]);
            const { kind: _kind, ...progress } = row;
            this.emit({ type: 'progress', ...progress, at });
            await this.reportLayers(result.layers, result.statsWindow, result.warnings);
            if (result.histograms) await this.reportHistograms(result.histograms);
            await this.viewers.emitFrames(false); // when due: the weights change every step
            const verdict = this.lossWatch.observe(this.position.step, result.loss);
            if (verdict.kind === 'exploded') return await this.diverged(this.position.step, verdict.reason, lr);
            if (verdict.kind === 'high' && verdict.first) {
              this.emit({ type: 'warning', message: `step ${this.position.step}: the loss is ${result.loss.toPrecision(4)}, ${(result.loss / this.lossWatch.chance).toFixed(1)} x chance level (ln ${numClasses} = ${this.lossWatch.chance.toFixed(2)}): the run may be diverging. No checkpoint is taken until the loss comes back below ${this.lossWatch.high.toFixed(2)}${this.lastGoodText()}` });
            }
            const notLearning = this.lossWatch.notLearning(this.position.step);
            if (notLearning !== undefined) this.emit({ type: 'warning', message: notLearning });
            const epochEnds = this.position.batch >= this.stepsPerEpoch;
            if (!epochEnds && (this.maxStepsReached || (config.checkpointEvery > 0 && this.position.step % config.checkpointEvery === 0))) await this.checkpoint();
          }
        } finally {
          await iterator.close();
        }
        await this.endEpoch();
      }
      if (this.lastCheckpointStep !== this.position.step) {
        // The last epoch's checkpoint was refused (the loss was high): the run is not done with weights worth keeping.
        return await this.finish('stopped', `the last steps' loss was far above chance, so step ${this.position.step} was not saved${this.lastGoodText()}; resume it with a lower learning rate`);
      }
      return await this.finish('finished');
    } catch (caught) {
      const error = caught instanceof WasmHeapFullError ? this.heapFull(caught) : caught;
      const message = error instanceof Error ? error.message : String(error);
      await this.run.updateRun({ failure: { step: this.position.step, message } }).catch(() => {});
      await this.finish('failed', message).catch(() => {});
      throw error;
    } finally {
      await this.unlock();
    }
  }

  private async reportLayers(layers: LayerStats[], window: number, warnings: readonly string[]): Promise<void> {
    for (const message of warnings) this.emit({ type: 'warning', message });
    if (layers.length === 0) return;
    const { step, epoch } = this.position;
    this.emit({ type: 'layerStats', step, epoch, window, layers });
    const every = this.options.probes?.recordEvery ?? DEFAULT_STATS_RECORD_EVERY;
    const last = step >= this.totalSteps;
    if (step % every === 0 || step === 1 || last) await this.run.appendMetrics([{ kind: 'layers', step, epoch, window, layers }]);
  }

  private async reportHistograms({ layers, filters }: StepHistograms): Promise<void> {
    const { step, epoch } = this.position;
    this.emit({ type: 'histograms', step, epoch, layers, filters });
    await this.run.appendMetrics([{ kind: 'histograms', step, epoch, layers, ...(filters ? { filters } : {}) }]);
  }

  /** Held-out loss and accuracy of the weights as they are now. */
  private heldOut(): Promise<Validation> {
    const { source, split } = this.prepared;
    return validate((batch) => this.core.evaluate(batch), source, split.test, this.config.inputSize, this.config.batch);
  }

  private async endEpoch(): Promise<void> {
    const val = await this.heldOut();
    const { lossSum, correct, seen } = this.sums;
    const row: EpochMetrics = {
      kind: 'epoch',
      step: this.position.step,
      epoch: this.position.epoch,
      trainLoss: seen > 0 ? lossSum / seen : NaN,
      trainAccuracy: seen > 0 ? correct / seen : NaN,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
    };
    await this.run.appendMetrics([row]);
    const { kind: _kind, ...event } = row;
    this.emit({ type: 'epoch', ...event });
    this.position = { step: this.position.step, epoch: this.position.epoch + 1, batch: 0 };
    this.sums = { lossSum: 0, correct: 0, seen: 0 };
    await this.checkpoint(val.loss);
    await this.recordSnapshot(row.epoch);
    await this.run.updateRun({ summary: { ...(this.run.record.summary ?? {}), lastEpoch: event } });
  }

  /** --max-steps reached: a stop, not an end (the run can be resumed with a larger limit). */
  private async stopAtLimit(): Promise<RunOutcome> {
    const validation = await this.heldOut();
    await this.checkpoint(validation.loss);
    await this.recordSnapshot(this.epochOfStep);
    await this.run.updateRun({ summary: { ...(this.run.record.summary ?? {}), stoppedAt: { step: this.position.step, valLoss: validation.loss, valAccuracy: validation.accuracy } } });
    const outcome = await this.finish('stopped', `reached the step limit (maxSteps ${this.config.maxSteps})`);
    return { ...outcome, validation };
  }

  /** Ends the run as failed at `step`: the loss or a gradient went non-finite, or the loss exploded (loss-watch.ts). */
  private async diverged(step: number, reason: string, lr: number): Promise<RunOutcome> {
    const kept = this.run.record.lastCheckpoint;
    const message =
      `the run diverged at step ${step} with lr ${formatNumber(lr)}: ${reason}. ` +
      `Lower the learning rate${this.config.clipNorm > 0 ? '' : ' or enable clipping (--clip-norm 5)'}${this.config.warmupSteps > 0 ? '' : ', or warm it up (--warmup-steps 100, on a new run)'}; ` +
      (kept ? `the last good checkpoint (step ${kept.step}) is kept` : 'no checkpoint had been saved yet');
    await this.run.updateRun({ failure: { step, message } });
    return { ...(await this.finish('failed', message)), failure: 'diverged', lr };
  }

  /** The wasm heap ran out mid-run: an ordinary error that says what to change and what is kept. */
  private heapFull(error: WasmHeapFullError): TrainingError {
    const kept = this.run.record.lastCheckpoint;
    return new TrainingError(
      `training stopped after step ${this.position.step}: ${error.message}. This run's batch (${this.config.batch}) at ${this.config.inputSize} px does not fit the 4 GiB wasm heap; ` +
        `start a new run with a smaller --batch or --input${kept ? `. The last good checkpoint (step ${kept.step}) is kept: the run can still be evaluated` : ''}`,
    );
  }

  /** ": the last good checkpoint is step N" (or that none was saved yet). */
  private lastGoodText(): string {
    const kept = this.run.record.lastCheckpoint;
    return kept ? `; the last good checkpoint is step ${kept.step}` : '; no checkpoint has been saved yet';
  }

  /** Waits while paused; true when a stop was asked for. */
  private async holdForCommands(): Promise<boolean> {
    await yieldToEvents(); // let pause/stop commands in between steps
    if (this.viewers.holding) {
      await this.setState('paused');
      // The maps of the weights it paused at (the last capture may be a few steps older); the
      // weights do not change while paused, so nothing more is captured unless a viewer asks.
      await this.core.requestCapture();
      await this.viewers.holdWhilePaused();
      if (!this.viewers.stopping) await this.setState('running');
    }
    return this.viewers.stopping;
  }

  private async finish(state: RunState, message?: string): Promise<RunOutcome> {
    await this.run.flushMetrics();
    await this.captureFinalMaps(state);
    await this.setState(state, message);
    return message === undefined ? { runId: this.run.id, state, step: this.position.step } : { runId: this.run.id, state, step: this.position.step, message };
  }

  /**
   * The run is over: the watched layers' maps at the final weights, before the end state (the
   * last periodic capture may be several steps older), and from now on every request for maps
   * is answered at once from these weights. A failure is a warning: the run's end stands.
   */
  private async captureFinalMaps(state: RunState): Promise<void> {
    try {
      await this.viewers.finalMaps();
    } catch (error) {
      // A failed run has said why already (a lost GPU host fails every call): no second message.
      if (state !== 'failed') this.emit({ type: 'warning', message: `the activation maps of the final weights could not be made (${errorText(error)})` });
    }
  }

  /**
   * Saves the weights as they are now. `heldOutLoss`: their loss on the held-out images, when
   * it was just measured; a step's training loss is measured before its update, so only this
   * judges the weights saved. Weights taken while the loss is far above chance are not a state
   * to resume from: no checkpoint then.
   */
  private async checkpoint(heldOutLoss?: number): Promise<void> {
    if (this.lastCheckpointStep === this.position.step) return; // already saved at this step
    // Held-out images judge by the "exploded" bar: a network that overfits can be confidently wrong on them.
    const heldOutHigh = heldOutLoss !== undefined && !Number.isNaN(heldOutLoss) && heldOutLoss > this.lossWatch.exploded;
    if (this.lossWatch.isHigh || heldOutHigh) {
      const why = heldOutHigh
        ? `the held-out loss is ${heldOutLoss.toPrecision(4)}, above ${this.lossWatch.exploded.toFixed(2)}`
        : `the loss has been above ${this.lossWatch.high.toFixed(2)} since step ${this.lossWatch.highSince}`;
      this.emit({ type: 'warning', message: `no checkpoint at step ${this.position.step}: ${why}${this.lastGoodText()}` });
      return;
    }
    const state = await this.core.getState();
    const { file } = await this.run.saveCheckpoint({
      step: this.position.step,
      epoch: this.position.epoch,
      meta: { batch: this.position.batch, optimizerUpdates: state.optimizerUpdates, seed: this.config.seed, epochSums: { ...this.sums }, probes: state.probes },
      tensors: state.arrays,
    });
    this.lastCheckpointStep = this.position.step;
    this.emit({ type: 'checkpoint', step: this.position.step, file });
  }

  /** The epoch the last step belongs to (at an epoch's first batch, none of it has run yet: the one before). */
  private get epochOfStep(): number {
    const { epoch, batch } = this.position;
    return batch === 0 && epoch > 0 ? epoch - 1 : epoch;
  }

  /**
   * Writes snapshots/step-N.fclf: every activation layer's maps for (at most 4 of) the probe
   * faces, in inference mode, so nothing of training changes. `epoch`: the epoch the current
   * step belongs to. A failure is a warning: the run goes on, the next epoch tries again.
   */
  private async recordSnapshot(epoch: number): Promise<void> {
    const step = this.position.step;
    if (!this.snapshots || step === this.lastSnapshotStep) return;
    this.lastSnapshotStep = step;
    try {
      const { probes: faces, labels } = this.viewers.probeList();
      const probes = faces.slice(0, MAX_SNAPSHOT_PROBES);
      const probeLabels = labels.slice(0, MAX_SNAPSHOT_PROBES);
      const frames = await this.core.snapshot(step);
      await writeSnapshot(this.run.dir, { step, epoch, probes, probeLabels, capturedAt: Date.now() }, frames);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.emit({ type: 'warning', message: `The activation snapshot of step ${step} was not saved (${reason}); training goes on, and the next epoch's snapshot will be tried` });
    }
  }

  /** Frees the model and optimizer state, and the run's lock if training never ran; a failure to is a warning, never an unhandled rejection. */
  dispose(): void {
    void this.core.dispose().catch((error: unknown) => this.emit({ type: 'warning', message: `the compute core could not be freed: ${errorText(error)}` }));
    void this.unlock().catch((error: unknown) => this.emit({ type: 'warning', message: `the run's lock could not be released: ${errorText(error)}` }));
  }
}

/** What to try when a run has not left chance level, for its own settings. */
function notLearningAdvice(config: TrainConfig): string {
  const lower = formatNumber(config.lr / 3);
  return config.optimizer === 'adam'
    ? `try a lower learning rate (--lr ${lower}), a longer warm-up (--warmup-steps ${Math.max(50, 2 * config.warmupSteps)}), or a smaller model or input`
    : 'try Adam (--optimizer adam --lr 0.0005, the recipe of the Light CNNs), a warm-up (--warmup-steps 50), or a smaller model or input';
}

function nonFiniteReason(result: { loss: number; gradNorm: number }): string {
  const what = Number.isFinite(result.loss) ? 'a gradient' : 'the loss';
  const value = Number.isFinite(result.loss) ? result.gradNorm : result.loss;
  return `${what} became ${Number.isNaN(value) ? 'NaN' : 'infinite'}`;
}

/** What a session asks of backend selection: training, the backend it was told to use, the app's GPU host for webgpu. */
function backendRequest(options: SessionOptions): SelectBackendOptions {
  return { purpose: 'train', ...(options.backend !== undefined ? { force: options.backend } : {}), ...(options.gpuHost !== undefined ? { remoteWebGpu: options.gpuHost } : {}) };
}

/** The WebGPU adapter's buffer limits, which bound one tensor (memory-fit.ts), when the backend is webgpu. */
function gpuLimits(backend: BackendChoice): { gpuLimits?: GpuBufferLimits } {
  return backend.adapter !== undefined ? { gpuLimits: backend.adapter } : {};
}

function once(release: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= release());
}

function versions() {
  return { lab: LAB_VERSION, node: process.version, tfjs: tf.version.tfjs };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatNumber(n: number): string {
  return Number(n.toPrecision(3)).toString();
}
