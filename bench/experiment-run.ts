// One experiment of `npm run experiments`: a training config run in-process on the wasm
// backend within a wall-clock budget, with every step's loss, every epoch row and every
// step's layer statistics recorded for the checks (bench/experiment-checks.ts).
import * as tf from '@tensorflow/tfjs';
import type { TrainConfig, TrainConfigInput } from '../electron/trainer/training/config';
import { TrainingSession, type EpochMetrics, type RunOutcome, type StepMetrics, type TrainEvent } from '../electron/trainer/training/session';
import type { LayerStats } from '#protocol/messages';
import type { BuiltModel } from '../models/lightcnn';
import { RReLU } from '../models/activations/rrelu';
import { setTrainingStep } from '../models/step-random';
import { describeModel } from '../models/lightcnn';
import { parseActivation } from '../models/activations/spec';

/** A step's metrics as the session reports them, and when (seconds since the session started training). */
export type StepRow = Pick<StepMetrics, 'step' | 'epoch' | 'loss' | 'accuracy' | 'lr' | 'gradNorm'> & { readonly t: number };

/** An epoch's row as the session reports it, and when. */
export type EpochRow = Omit<EpochMetrics, 'kind'> & { readonly t: number };

export interface LayerStatsRow {
  readonly step: number;
  readonly window: number;
  readonly layers: LayerStats[];
}

/** The slopes an RReLU layer of the trained model applies to x = -1, in training and in evaluation mode. */
export interface RReLUProbe {
  readonly layer: string;
  readonly lower: number;
  readonly upper: number;
  /** Training mode, at two different steps: the slopes drawn for 4,096 inputs of -1 at each. */
  readonly training: readonly { readonly step: number; readonly min: number; readonly max: number; readonly mean: number; readonly std: number }[];
  /** Fraction of the 4,096 slopes that differ between the two training steps. */
  readonly changedBetweenSteps: number;
  /** Evaluation mode: the distinct slopes seen (one value expected: (lower + upper) / 2). */
  readonly evaluation: { readonly min: number; readonly max: number };
}

/** Parameters of each linear layer (conv/dense) of the model as run and of the same model with another activation. */
export interface ParamComparison {
  readonly activation: string;
  readonly against: string;
  readonly layers: readonly { readonly name: string; readonly params: number; readonly againstParams: number }[];
  readonly total: number;
  readonly againstTotal: number;
}

export interface RunRecord {
  readonly name: string;
  readonly data: string;
  /** The settings as decided by the trainer (recipe filled in). */
  readonly config: TrainConfig;
  /** The initialiser the built model actually used (a check that `init` reaches the model). */
  readonly initializerUsed: string;
  readonly classes: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly steps: StepRow[];
  readonly epochs: EpochRow[];
  readonly layerStats: LayerStatsRow[];
  readonly warnings: string[];
  readonly outcome: Pick<RunOutcome, 'state' | 'step' | 'message' | 'failure' | 'validation'>;
  readonly seconds: number;
  readonly stoppedByBudget: boolean;
  readonly rrelu?: RReLUProbe[];
  readonly params?: ParamComparison;
  /** The experiment whose run this is, when two have the same settings (the run is not repeated). */
  readonly sameRunAs?: string;
  /** Set when the run could not start or crashed. */
  readonly error?: string;
}

export interface RunOptions {
  readonly data: string;
  readonly dataDir: string;
  readonly budgetSeconds: number;
  /** Dead counts over this many steps (the trainer's default 50 when not given). */
  readonly window?: number;
  readonly onLine?: (line: string) => void;
  /** The backend to train on: wasm unless told (cpu, to rule out a wasm kernel). */
  readonly backend?: 'wasm' | 'cpu';
  /** Log every this many epochs (and the last one); 1 by default. */
  readonly logEvery?: number;
}

export async function runExperiment(name: string, config: Omit<TrainConfigInput, 'data'>, options: RunOptions): Promise<RunRecord> {
  const steps: StepRow[] = [];
  const epochs: EpochRow[] = [];
  const layerStats: LayerStatsRow[] = [];
  const warnings: string[] = [];
  const log = options.onLine ?? (() => {});
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let session: TrainingSession | undefined;
  let stoppedByBudget = false;
  const timer = setTimeout(() => {
    stoppedByBudget = true;
    session?.stop();
  }, options.budgetSeconds * 1000);
  const onEvent = (e: TrainEvent): void => {
    switch (e.type) {
      case 'progress':
        steps.push({ step: e.step, epoch: e.epoch, loss: e.loss, accuracy: e.accuracy, lr: e.lr, gradNorm: e.gradNorm, t: seconds() });
        break;
      case 'epoch': {
        const { type: _type, ...row } = e;
        epochs.push({ ...row, t: seconds() });
        if ((e.epoch + 1) % (options.logEvery ?? 1) === 0 || e.epoch + 1 === session?.config.epochs) log(`  ${name} epoch ${e.epoch + 1} step ${e.step}: train loss ${e.trainLoss.toFixed(3)}, held-out ${(e.valAccuracy * 100).toFixed(1)}% (${seconds().toFixed(0)} s)`);
        break;
      }
      case 'layerStats':
        layerStats.push({ step: e.step, window: e.window, layers: e.layers });
        break;
      case 'warning':
        warnings.push(e.message);
        break;
      default:
        break;
    }
  };
  try {
    session = await TrainingSession.start(
      { ...config, data: options.data } as TrainConfigInput,
      { dataDir: options.dataDir, backend: options.backend ?? 'wasm', prefetch: 0, probes: { snapshots: false, ...(options.window ? { window: options.window } : {}) }, onEvent },
    );
    if (stoppedByBudget) session.stop(); // the budget ran out while starting
    const outcome = await session.train();
    const built = session.inProcessCore.built;
    const record: RunRecord = {
      name,
      data: options.data,
      config: session.config,
      initializerUsed: built.config.initializer,
      classes: built.config.numClasses,
      stepsPerEpoch: session.stepsPerEpoch,
      totalSteps: session.totalSteps,
      steps,
      epochs,
      layerStats,
      warnings,
      outcome: { state: outcome.state, step: outcome.step, message: outcome.message, failure: outcome.failure, validation: outcome.validation },
      seconds: seconds(),
      stoppedByBudget,
      ...afterTraining(built, session.config),
    };
    return record;
  } catch (error) {
    return {
      name,
      data: options.data,
      config: (session?.config ?? config) as TrainConfig,
      initializerUsed: session?.model.config.initializer ?? '',
      classes: session?.model.config.numClasses ?? 0,
      stepsPerEpoch: 0,
      totalSteps: 0,
      steps,
      epochs,
      layerStats,
      warnings,
      outcome: { state: 'failed', step: steps.at(-1)?.step ?? 0 },
      seconds: seconds(),
      stoppedByBudget,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
    session?.dispose();
  }
}

/** What the trained model itself can tell: RReLU's slopes, a maxout model's parameters against one piece. */
function afterTraining(built: BuiltModel, config: TrainConfig): { rrelu?: RReLUProbe[]; params?: ParamComparison } {
  const extra: { rrelu?: RReLUProbe[]; params?: ParamComparison } = {};
  const rrelus = built.model.layers.filter((l): l is RReLU => l instanceof RReLU);
  if (rrelus.length > 0) extra.rrelu = rrelus.map((layer) => probeRReLU(layer, config.seed));
  const spec = parseActivation(config.activation);
  if (spec.name === 'maxout') extra.params = compareParams(built, config, 'relu');
  return extra;
}

function probeRReLU(layer: RReLU, seed: number): RReLUProbe {
  const n = 4096;
  const x = tf.fill([1, n], -1);
  const slopesAt = (training: boolean, step: number): Float32Array => {
    setTrainingStep(seed, step);
    return tf.tidy(() => (layer.apply(x, { training }) as tf.Tensor).neg().dataSync() as Float32Array);
  };
  const summary = (step: number, s: Float32Array) => {
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of s) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    const mean = sum / s.length;
    let sq = 0;
    for (const v of s) sq += (v - mean) ** 2;
    return { step, min, max, mean, std: Math.sqrt(sq / s.length) };
  };
  const a = slopesAt(true, 1_000_000);
  const b = slopesAt(true, 1_000_001);
  const e = slopesAt(false, 1_000_001);
  x.dispose();
  let changed = 0;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) changed++;
  const ev = summary(0, e);
  return { layer: layer.name, lower: layer.lower, upper: layer.upper, training: [summary(1_000_000, a), summary(1_000_001, b)], changedBetweenSteps: changed / n, evaluation: { min: ev.min, max: ev.max } };
}

function compareParams(built: BuiltModel, config: TrainConfig, against: string): ParamComparison {
  const other = describeModel({
    architecture: config.model,
    inputSize: config.inputSize,
    widthMultiplier: config.width,
    activation: parseActivation(against),
    numClasses: built.config.numClasses,
    dropout: config.dropout,
    seed: config.seed,
  });
  const linear = (l: { kind: string }) => l.kind === 'conv' || l.kind === 'dense';
  const otherByName = new Map(other.layers.filter(linear).map((l) => [l.name, l.params]));
  const layers = built.summary.layers.filter(linear).map((l) => ({ name: l.name, params: l.params, againstParams: otherByName.get(l.name) ?? NaN }));
  return { activation: config.activation, against, layers, total: built.summary.totalParams, againstTotal: other.totalParams };
}
