// A training run from start (or resume) to its end: data, model, the loop with
// pause/resume/stop, metrics, checkpoints, and the NaN guard. Plain Node: the
// command line runs it in-process, the app inside the trainer process.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { epochBatchCount, batches, type BatchSource } from '../../../datasets/batches';
import { openDataset, type FaceDataset } from '../../../datasets';
import { classificationSplit } from '../../../datasets/splits';
import { parseActivation } from '../../../models/activations/spec';
import { selectBackend, type BackendChoice, type BackendName } from '../../../models/backend';
import { buildModel, type BuiltModel } from '../../../models/lightcnn';
import { setTrainingStep } from '../../../models/step-random';
import { createRun, resolveRun, type RunHandle } from '../runs/run-store';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from './config';
import { Optimizer, type NamedVariable } from './optimizer';
import { learningRate } from './schedule';
import { namedParams, trainStep } from './train-step';
import { validate } from './validation';
import { LAB_VERSION } from '../version';

export type RunState = 'running' | 'paused' | 'stopped' | 'finished' | 'failed';

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
  | { readonly type: 'started'; readonly runId: string; readonly step: number; readonly totalSteps: number; readonly backend: string; readonly resumed: boolean }
  | ({ readonly type: 'progress' } & Omit<StepMetrics, 'kind'>)
  | ({ readonly type: 'epoch' } & Omit<EpochMetrics, 'kind'>)
  | { readonly type: 'checkpoint'; readonly step: number; readonly file: string }
  | { readonly type: 'state'; readonly state: RunState; readonly message?: string }
  /** Something the user should know that did not stop the run (a damaged checkpoint skipped on resume). */
  | { readonly type: 'warning'; readonly message: string };

export interface SessionOptions {
  readonly dataDir: string;
  readonly onEvent?: (event: TrainEvent) => void;
  /** Force a backend (otherwise the best one that can train). */
  readonly backend?: BackendName;
  /** Prefetched batches (0 = in-thread). */
  readonly prefetch?: number;
}

export interface RunOutcome {
  readonly runId: string;
  readonly state: RunState;
  readonly step: number;
  readonly message?: string;
}

/** Why a run stopped early, in words a user can act on. */
export class TrainingError extends Error {
  override readonly name = 'TrainingError';
}

interface Position {
  step: number;
  epoch: number;
  /** Next batch within the epoch. */
  batch: number;
}

export class TrainingSession {
  private paused = false;
  private stopRequested = false;
  private wake: (() => void) | undefined;

  private constructor(
    readonly run: RunHandle,
    readonly config: TrainConfig,
    private readonly dataset: FaceDataset,
    private readonly source: BatchSource,
    private readonly split: { train: Int32Array; test: Int32Array },
    readonly built: BuiltModel,
    private readonly params: NamedVariable[],
    private readonly optimizer: Optimizer,
    readonly backend: BackendChoice,
    private position: Position,
    private readonly resumed: boolean,
    private readonly options: SessionOptions,
    private readonly warnings: readonly string[] = [],
  ) {}

  static async start(input: TrainConfigInput, options: SessionOptions): Promise<TrainingSession> {
    const config = parseTrainConfig(input);
    const backend = await selectBackend({ purpose: 'train', force: options.backend });
    const dataset = await loadDataset(config, options.dataDir);
    const run = await createRun(options.dataDir, {
      config,
      dataset: describeDataset(dataset),
      backend: backend.summary,
      versions: versions(),
    });
    return TrainingSession.assemble(run, config, dataset, backend, { step: 0, epoch: 0, batch: 0 }, false, options);
  }

  /** Continues a run from its last good checkpoint (after a stop, a crash or kill -9). */
  static async resume(runId: string, options: SessionOptions): Promise<TrainingSession> {
    const run = await resolveRun(options.dataDir, runId);
    const config = parseTrainConfig(run.record.config);
    const backend = await selectBackend({ purpose: 'train', force: options.backend });
    const dataset = await loadDataset(config, options.dataDir);
    const expected = run.record.dataset.hash;
    if (expected !== undefined && expected !== describeDataset(dataset).hash) {
      throw new TrainingError(
        `The dataset changed since this run started (${dataset.report.source}): resuming would train on different images. Start a new run, or restore the dataset`,
      );
    }
    const loaded = await run.loadLatestCheckpoint();
    const position: Position = loaded ? { step: loaded.step, epoch: loaded.epoch, batch: Number(loaded.meta['batch'] ?? 0) } : { step: 0, epoch: 0, batch: 0 };
    const session = await TrainingSession.assemble(run, config, dataset, backend, position, true, options, loaded?.warnings ?? []);
    if (loaded) {
      try {
        session.restore(loaded.tensors, Number(loaded.meta['optimizerUpdates'] ?? 0));
      } finally {
        for (const t of loaded.tensors.values()) t.dispose();
      }
    }
    await run.truncateMetricsAfter(position.step);
    return session;
  }

  private static async assemble(
    run: RunHandle,
    config: TrainConfig,
    dataset: FaceDataset,
    backend: BackendChoice,
    position: Position,
    resumed: boolean,
    options: SessionOptions,
    warnings: readonly string[] = [],
  ): Promise<TrainingSession> {
    const split = classificationSplit(dataset, { holdOutFraction: config.holdOut, seed: config.seed });
    const source: BatchSource = { pixels: await dataset.pixels(), storedSize: dataset.storedSize, labels: dataset.imageIdentity };
    const built = buildFromConfig(config, dataset.identities.length);
    const params = namedParams(built.model);
    const optimizer = new Optimizer({ kind: config.optimizer, momentum: config.momentum, weightDecay: config.weightDecay }, params);
    return new TrainingSession(run, config, dataset, source, split, built, params, optimizer, backend, position, resumed, options, warnings);
  }

  get stepsPerEpoch(): number {
    return epochBatchCount(this.split.train.length, this.config.batch, this.dropLast);
  }

  private get dropLast(): boolean {
    return this.split.train.length >= this.config.batch;
  }

  get totalSteps(): number {
    const all = this.stepsPerEpoch * this.config.epochs;
    return this.config.maxSteps > 0 ? Math.min(all, this.config.maxSteps) : all;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  stop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  private emit(event: TrainEvent): void {
    this.options.onEvent?.(event);
  }

  private async setState(state: RunState, message?: string): Promise<void> {
    await this.run.updateRun({ state });
    this.emit(message === undefined ? { type: 'state', state } : { type: 'state', state, message });
  }

  /** Trains until the last epoch, a stop, `maxSteps`, or a failure. */
  async train(): Promise<RunOutcome> {
    const { config } = this;
    const numClasses = this.dataset.identities.length;
    await this.setState('running');
    this.emit({ type: 'started', runId: this.run.id, step: this.position.step, totalSteps: this.totalSteps, backend: this.backend.summary, resumed: this.resumed });
    for (const message of this.warnings) this.emit({ type: 'warning', message });
    try {
      while (this.position.epoch < config.epochs) {
        let lossSum = 0;
        let correct = 0;
        let seen = 0;
        const iterator = batches(this.source, {
          indices: this.split.train,
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
            if (config.maxSteps > 0 && this.position.step >= config.maxSteps) {
              batch.dispose();
              return await this.finish('finished', `stopped after ${config.maxSteps} steps (--max-steps)`);
            }
            if (await this.holdForCommands()) {
              batch.dispose();
              await this.checkpoint();
              return await this.finish('stopped');
            }
            const lr = learningRate(config, this.position.epoch + this.position.batch / this.stepsPerEpoch);
            setTrainingStep(config.seed, this.position.step);
            const started = performance.now();
            const result = trainStep(this.built.model, this.params, this.optimizer, { xs: batch.xs, ys: batch.ys, numClasses, lr, clipNorm: config.clipNorm });
            const stepMs = performance.now() - started;
            batch.dispose();
            if (!result.finite) {
              const what = Number.isFinite(result.loss) ? 'a gradient' : 'the loss';
              const value = Number.isFinite(result.loss) ? result.gradNorm : result.loss;
              const message =
                `${what} became ${Number.isNaN(value) ? 'NaN' : 'infinite'} at step ${this.position.step + 1} with lr ${formatNumber(lr)}: ` +
                `lower the learning rate${config.clipNorm > 0 ? '' : ' or enable clipping (--clip-norm 5)'}; the last good checkpoint is kept`;
              await this.run.updateRun({ failure: { step: this.position.step + 1, message } });
              return await this.finish('failed', message);
            }
            this.position = { ...this.position, step: this.position.step + 1, batch: this.position.batch + 1 };
            lossSum += result.loss * result.count;
            correct += result.correct;
            seen += result.count;
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
            await this.run.appendMetrics([row]);
            const { kind: _kind, ...progress } = row;
            this.emit({ type: 'progress', ...progress });
            const last = config.maxSteps > 0 && this.position.step >= config.maxSteps;
            if (last || (config.checkpointEvery > 0 && this.position.step % config.checkpointEvery === 0)) await this.checkpoint();
          }
        } finally {
          await iterator.close();
        }
        const val = await validate(this.built.model, this.source, this.split.test, config.inputSize, numClasses, config.batch);
        const epochRow: EpochMetrics = {
          kind: 'epoch',
          step: this.position.step,
          epoch: this.position.epoch,
          trainLoss: seen > 0 ? lossSum / seen : NaN,
          trainAccuracy: seen > 0 ? correct / seen : NaN,
          valLoss: val.loss,
          valAccuracy: val.accuracy,
        };
        await this.run.appendMetrics([epochRow]);
        const { kind: _kind, ...epochEvent } = epochRow;
        this.emit({ type: 'epoch', ...epochEvent });
        this.position = { step: this.position.step, epoch: this.position.epoch + 1, batch: 0 };
        await this.checkpoint();
      }
      return await this.finish('finished');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.run.updateRun({ failure: { step: this.position.step, message } }).catch(() => {});
      await this.finish('failed', message).catch(() => {});
      throw error;
    }
  }

  /** Waits while paused; true when a stop was asked for. */
  private async holdForCommands(): Promise<boolean> {
    await yieldToEvents(); // let pause/stop commands in between steps
    if (this.paused && !this.stopRequested) {
      await this.setState('paused');
      while (this.paused && !this.stopRequested) await new Promise<void>((wake) => (this.wake = wake));
      this.wake = undefined;
      if (!this.stopRequested) await this.setState('running');
    }
    return this.stopRequested;
  }

  private async finish(state: RunState, message?: string): Promise<RunOutcome> {
    await this.run.flushMetrics();
    await this.setState(state, message);
    return message === undefined ? { runId: this.run.id, state, step: this.position.step } : { runId: this.run.id, state, step: this.position.step, message };
  }

  private async checkpoint(): Promise<void> {
    const tensors = [
      ...this.built.model.weights.map((weight) => ({ name: `weights/${weight.originalName}`, tensor: weight.read() })),
      ...this.optimizer.stateTensors(),
    ];
    const { file } = await this.run.saveCheckpoint({
      step: this.position.step,
      epoch: this.position.epoch,
      meta: { batch: this.position.batch, optimizerUpdates: this.optimizer.updateCount, seed: this.config.seed },
      tensors,
    });
    this.emit({ type: 'checkpoint', step: this.position.step, file });
  }

  private restore(tensors: ReadonlyMap<string, tf.Tensor>, optimizerUpdates: number): void {
    restoreWeights(this.built.model, tensors);
    this.optimizer.loadState(tensors, optimizerUpdates);
  }

  /** Frees the model and optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
    this.built.model.dispose();
  }
}

/** The model a run's config describes, with fresh (seeded) weights. */
export function buildFromConfig(config: TrainConfig, numClasses: number): BuiltModel {
  return buildModel({
    architecture: config.model,
    inputSize: config.inputSize,
    widthMultiplier: config.width,
    activation: parseActivation(config.activation),
    overrides: Object.fromEntries(Object.entries(config.layers).map(([layer, text]) => [layer, parseActivation(text)])),
    numClasses,
    dropout: config.dropout,
    seed: config.seed,
  });
}

/** Puts a checkpoint's weights into the model, refusing one from another model. */
export function restoreWeights(model: tf.LayersModel, tensors: ReadonlyMap<string, tf.Tensor>): void {
  for (const weight of model.weights) {
    const saved = tensors.get(`weights/${weight.originalName}`);
    if (!saved) throw new TrainingError(`The checkpoint has no weights for ${weight.originalName}: it belongs to a different model`);
    if (saved.shape.join('x') !== weight.shape.join('x')) {
      throw new TrainingError(`The checkpoint's ${weight.originalName} is ${saved.shape.join('x')}, the model's is ${weight.shape.join('x')}`);
    }
    weight.write(saved);
  }
}

export async function loadDataset(config: TrainConfig, dataDir: string): Promise<FaceDataset> {
  return openDataset(config.data, {
    dataDir,
    inputSize: config.inputSize,
    layout: config.layout,
    identityRule: config.identityRegex === undefined ? undefined : { kind: 'regex', pattern: config.identityRegex },
  });
}

function describeDataset(dataset: FaceDataset) {
  return {
    name: dataset.name,
    source: dataset.report.source,
    hash: datasetHash(dataset),
    identities: dataset.identities.length,
    images: dataset.images.length,
    synthetic: dataset.synthetic,
  };
}

/** What was trained on: identity names, files and their content hashes. */
function datasetHash(dataset: FaceDataset): string {
  const h = createHash('sha256');
  for (const image of dataset.images) h.update(`${dataset.identities[image.identity]}\0${image.relPath}\0${image.sha256}\n`);
  return h.digest('hex').slice(0, 16);
}

function versions() {
  return { lab: LAB_VERSION, node: process.version, tfjs: tf.version.tfjs };
}

function formatNumber(n: number): string {
  return Number(n.toPrecision(3)).toString();
}
