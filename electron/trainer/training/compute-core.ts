// The compute core: every part of a training run that holds tensors (the built model, its
// named parameters, the optimizer, the probes' taps and tracker, the snapshot model)
// behind ONE small interface; the session (session.ts) keeps only plain data.
//
// Why a seam: the desktop app cannot train on the GPU inside its trainer (a utility
// process): Electron's V8 memory cage forbids the external ArrayBuffers Dawn's Node addon
// hands out. So the app will run this core in a browser context (a hidden BrowserWindow
// with Chromium's own WebGPU) and drive it over a MessagePort. The interface is therefore
// message-shaped: every request and reply is structured-cloneable data (numbers, strings,
// plain objects, Sets, typed arrays, ArrayBuffers; never a tensor, class instance or
// function), so that host is a transport, not a rewrite. InProcessCore runs it in the
// caller's own thread, as the command line and the tests do today.
import * as tf from '@tensorflow/tfjs';
import type { BatchArrays } from '../../../datasets/batches';
import { WasmHeapFullError } from '../../../models/kernels/wasm-heap';
import { GpuDeviceError, guardGpu } from '../../../models/webgpu-device';
import type { BuiltModel, ResolvedModelConfig } from '../../../models/lightcnn';
import { setTrainingStep } from '../../../models/step-random';
import type { ModelSummary } from '../../../models/summary';
import { prepareMaxDerivatives } from '../probes/dead-rules';
import { RunProbes, type HistogramRequest, type MapSubscription, type ProbeOptions, type StepHistograms } from '../probes/run-probes';
import { MAX_SNAPSHOT_PROBES, SnapshotCapture } from '../probes/snapshot-capture';
import type { LayerInfo, LayerStats } from '#protocol/messages';
import type { NamedArray } from '../runs/checkpoint';
import type { TrainConfig } from './config';
import { Optimizer, type NamedVariable } from './optimizer';
import { buildFromConfig, restoreWeights } from './model-build';
import { TrainingError } from './training-error';
import { namedParams, trainStep } from './train-step';

export type { NamedArray } from '../runs/checkpoint';

/** One batch: pixels [count, inputSize, inputSize, 1] in [0, 1], int32 labels, the images' dataset indices. */
export type BatchData = BatchArrays;

/** What a core is made for: the run's settings (plain, as run.json holds them). */
export interface CoreSpec {
  readonly config: TrainConfig;
  readonly numClasses: number;
  /** Probe settings; `snapshots: false` leaves the snapshot model out. */
  readonly probes?: ProbeOptions & { readonly snapshots?: boolean };
}

/** The model a core trains, as plain data. */
export interface ModelInfo {
  /** Every activation layer's name, in order from the input. */
  readonly activationLayers: string[];
  /** What a viewer can watch of each activation layer. */
  readonly layers: LayerInfo[];
  readonly summary: ModelSummary;
  readonly config: ResolvedModelConfig;
}

export interface StepRequest {
  readonly batch: BatchData;
  readonly lr: number;
  /** Global-norm clipping threshold; 0 = off. */
  readonly clipNorm: number;
  /** The 1-based step being taken (seeds the stochastic layers, labels the probe numbers). */
  readonly step: number;
  /** The run's seed. */
  readonly seed: number;
  /** Also take the weight and activation histograms (and the first layer's filters) after this step. */
  readonly histograms?: HistogramRequest;
}

export interface StepReply {
  readonly loss: number;
  readonly correct: number;
  readonly count: number;
  /** Norm of all gradients before clipping. */
  readonly gradNorm: number;
  /** False when the loss or a gradient was NaN or infinite: then nothing was updated. */
  readonly finite: boolean;
  /** Milliseconds the step itself took in the core. */
  readonly stepMs: number;
  /** Every activation layer's probe numbers on this batch; [] when off. */
  readonly layers: LayerStats[];
  /** The steps the probe numbers' "dead" looks back over. */
  readonly statsWindow: number;
  /** Problems the probes met (they switch themselves off rather than fail the run). */
  readonly warnings: string[];
  /** The histograms the request asked for; null when not asked for, or not taken (a diverged step, statistics off). */
  readonly histograms: StepHistograms | null;
}

/** One batch of an inspection pass: inference only, nothing updated (inspection/inspection-session.ts). */
export interface InspectRequest {
  readonly batch: BatchData;
  /** The 1-based batch of the pass (labels the probe numbers, as a step does in training). */
  readonly step: number;
  /** Also take the weight and activation histograms (and the first layer's filters) on this batch. */
  readonly histograms?: HistogramRequest;
}

/** What one batch of an inspection pass measured; the numbers that need a gradient are null in `layers`. */
export interface InspectReply {
  readonly count: number;
  /** Milliseconds the batch took in the core. */
  readonly stepMs: number;
  /** Every activation layer's dead counts (over the batches so far, with the window the pass set) and health on this batch. */
  readonly layers: LayerStats[];
  readonly statsWindow: number;
  readonly histograms: StepHistograms | null;
}

/** Held-out numbers of one batch (inference mode): summed loss, correct predictions, images. */
export interface EvalReply {
  readonly lossSum: number;
  readonly hits: number;
  readonly count: number;
}

export interface ProbeSettings {
  /** Milliseconds between activation-map captures while training. */
  readonly intervalMs: number;
  readonly statsWindow: number;
  readonly saturationThreshold: number;
  /** Per-step probe numbers on or off (the bench compares; the protocol does not offer it). */
  readonly statsEnabled: boolean;
}

export interface FramesReply {
  /** Binary activation-map frames (protocol/frames.ts). */
  readonly frames: ArrayBuffer[];
  readonly warnings: string[];
}

/** What a checkpoint keeps of a core and a resume gives back. */
export interface CoreState {
  /** Weights (`weights/…`), optimizer slots (`optimizer/…`), probe tracker state (`probes/…`), in that order. */
  readonly arrays: NamedArray[];
  readonly optimizerUpdates: number;
  /** The probe tracker's meta (layer-stats.ts stateMeta). */
  readonly probes: unknown;
  /** Only the weights are put back (`arrays` holds no others): the optimizer and probe state stay as they are (an inspection pass, an imported run's checkpoint). */
  readonly weightsOnly?: boolean;
}

export interface ComputeCore {
  /** The model it trains, as plain data. */
  readonly model: ModelInfo;
  /** One training step on a batch (forward, loss, gradients, clipping, update, probe numbers). */
  step(request: StepRequest): Promise<StepReply>;
  /** Held-out loss sum, hits and count on one batch, in inference mode. */
  evaluate(batch: BatchData): Promise<EvalReply>;
  /** One batch of an inspection pass: inference mode, every activation layer measured, no weight or optimizer state touched. */
  inspect(request: InspectRequest): Promise<InspectReply>;
  /** Sets the probe faces: their centre crops and dataset indices. */
  setProbeFaces(batch: BatchData): Promise<void>;
  /** Changes some probe settings (a RangeError when out of range); answers them all as they now are. */
  configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings>;
  /** What the viewers watch (a RangeError when the model has no such layer, filter or probe). */
  subscribe(subscription: MapSubscription): Promise<void>;
  /** Asks for maps after the next step, or at the next `frames(step, { now: true })`. */
  requestCapture(): Promise<void>;
  /** The watched maps when due by the interval; `now`: the capture asked for, if one is pending, at once. */
  frames(step: number, options?: { now?: boolean }): Promise<FramesReply>;
  /** Every activation layer's frame for the first MAX_SNAPSHOT_PROBES probe faces, for a snapshot. */
  snapshot(step: number): Promise<ArrayBuffer[]>;
  /** Weights, optimizer and probe tracker state, as arrays. */
  getState(): Promise<CoreState>;
  /** Puts back what `getState` gave (a TrainingError when it belongs to another model). */
  setState(state: CoreState): Promise<void>;
  /** Frees every tensor. */
  dispose(): Promise<void>;
}

/** Makes a core for a run (InProcessCore.create, or one that talks to a core elsewhere). */
export type CoreFactory = (spec: CoreSpec) => Promise<ComputeCore>;

/**
 * A failed call as plain data. Structured cloning (postMessage) keeps an Error's message but
 * not its class or `name` when it is a subclass, and the session acts on the class
 * (WasmHeapFullError) and the lab reports `name` as the error's code. A remote transport
 * sends `coreErrorReply(error)` in place of the error and throws `errorFromCoreReply(reply)`
 * on the other side.
 */
export interface CoreErrorReply {
  readonly kind: 'gpu-device' | 'wasm-heap-full' | 'training' | 'error';
  readonly message: string;
  /** The error's `name` ('RangeError', 'TypeError', ...): what an 'error' is rebuilt as. */
  readonly name: string;
  /** Where it was thrown, in the core's own context (for logs). */
  readonly stack?: string;
}

export function coreErrorReply(error: unknown): CoreErrorReply {
  if (!(error instanceof Error)) return { kind: 'error', message: String(error), name: 'Error' };
  const kind = error instanceof GpuDeviceError ? 'gpu-device' : error instanceof WasmHeapFullError ? 'wasm-heap-full' : error instanceof TrainingError ? 'training' : 'error';
  return { kind, message: error.message, name: error.name, ...(error.stack !== undefined ? { stack: error.stack } : {}) };
}

/** The error a CoreErrorReply stands for, of the class it was thrown as (the built-in one of its name for 'error'). */
export function errorFromCoreReply(reply: CoreErrorReply): Error {
  const error = new (ERROR_CLASSES[reply.kind] ?? BUILT_IN_ERRORS.get(reply.name) ?? Error)(reply.message);
  if (reply.kind === 'error' && error.name !== reply.name) error.name = reply.name;
  if (reply.stack !== undefined) error.stack = reply.stack;
  return error;
}

const ERROR_CLASSES: Partial<Record<CoreErrorReply['kind'], new (message: string) => Error>> = { 'gpu-device': GpuDeviceError, 'wasm-heap-full': WasmHeapFullError, training: TrainingError };
const BUILT_IN_ERRORS = new Map<string, new (message: string) => Error>([RangeError, TypeError, SyntaxError, ReferenceError, EvalError, URIError].map((type) => [type.name, type]));

/**
 * The core in the caller's own thread: it makes tensors from the data it gets and frees them.
 * Its calls run one at a time, in the order they were made: the lab calls `subscribe`,
 * `setProbeFaces` and the like while a step is in flight, and a step or a capture keeps the
 * layer taps armed across its awaits.
 */
export class InProcessCore implements ComputeCore {
  readonly model: ModelInfo;
  private readonly numClasses: number;
  /** Settles when every call made so far has; never rejects. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    /** For in-process use only (tests, the bench): the tensors behind this core. */
    readonly built: BuiltModel,
    private readonly params: readonly NamedVariable[],
    private readonly optimizer: Optimizer,
    /** For in-process use only: dead-neuron counts, layer health and activation maps. */
    readonly probes: RunProbes,
    private readonly snapshots: SnapshotCapture | null,
  ) {
    this.numClasses = built.config.numClasses;
    this.model = { activationLayers: [...built.activationLayers], layers: probes.layerInfo(), summary: built.summary, config: built.config };
  }

  static async create(spec: CoreSpec): Promise<InProcessCore> {
    const { config } = spec;
    const built = buildFromConfig(config, spec.numClasses);
    let optimizer: Optimizer | undefined;
    try {
      await prepareMaxDerivatives(built.units.map((unit) => unit.spec)); // the saturation probes' scale, read before a step needs it
      const params = namedParams(built.model);
      optimizer = new Optimizer({ kind: config.optimizer, momentum: config.momentum, weightDecay: config.weightDecay }, params);
      const probes = new RunProbes(built, spec.probes);
      return new InProcessCore(built, params, optimizer, probes, spec.probes?.snapshots === false ? null : new SnapshotCapture(built));
    } catch (error) {
      optimizer?.dispose();
      built.model.dispose();
      throw error;
    }
  }

  /** Runs `work` after every call made before it (each public method's body goes through here). */
  private serial<T>(work: () => Promise<T>, whenDisposed: () => Promise<T> = refuseDisposed): Promise<T> {
    const result = this.queue.then(() => (this.disposed ? whenDisposed() : work()));
    this.queue = result.catch(() => undefined);
    return result;
  }

  step(request: StepRequest): Promise<StepReply> {
    return this.serial(() => guardGpu(() => this.runStep(request)));
  }

  private async runStep(request: StepRequest): Promise<StepReply> {
    const { xs, ys } = tensorsOf(request.batch);
    try {
      setTrainingStep(request.seed, request.step - 1);
      const started = performance.now();
      const observer = this.probes.observeStep(request.step, request.histograms);
      let result;
      try {
        result = await trainStep(this.built.model, this.params, this.optimizer, { xs, ys, numClasses: this.numClasses, lr: request.lr, clipNorm: request.clipNorm }, observer);
      } finally {
        this.probes.endStep();
      }
      const stepMs = performance.now() - started;
      // Read even when the step diverged: it frees what the step queued. Both reads start at once (on a GPU they overlap).
      const [layers, histograms] = await Promise.all([observer?.stats() ?? [], observer?.histograms() ?? null]);
      return { ...result, stepMs, layers, histograms, statsWindow: this.probes.tracker.window, warnings: this.probes.takeWarnings() };
    } finally {
      xs.dispose();
      ys.dispose();
    }
  }

  evaluate(batch: BatchData): Promise<EvalReply> {
    return this.serial(() => guardGpu(() => this.runEvaluate(batch)));
  }

  private async runEvaluate(batch: BatchData): Promise<EvalReply> {
    const { xs, ys } = tensorsOf(batch);
    try {
      const stats = tf.tidy(() => {
        const logits = this.built.model.apply(xs, { training: false }) as tf.Tensor;
        const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(ys, this.numClasses), logits, undefined, 0, tf.Reduction.SUM);
        const hits = logits.argMax(-1).equal(ys).sum().cast('float32');
        return tf.stack([loss, hits]);
      });
      let values: Float32Array;
      try {
        values = (await stats.data()) as Float32Array;
      } finally {
        stats.dispose();
      }
      // A GPU error yields zeros, not an exception: guardGpu checks once the work is done.
      return { lossSum: values[0] as number, hits: values[1] as number, count: batch.count };
    } finally {
      xs.dispose();
      ys.dispose();
    }
  }

  inspect(request: InspectRequest): Promise<InspectReply> {
    return this.serial(() => guardGpu(() => this.runInspect(request)));
  }

  private async runInspect({ batch, step, histograms }: InspectRequest): Promise<InspectReply> {
    const { xs, ys } = tensorsOf(batch);
    ys.dispose(); // no loss: the classifier's identities are not the inspected dataset's
    try {
      const started = performance.now();
      const measured = await this.probes.inspectBatch(xs, step, histograms);
      return { count: batch.count, stepMs: performance.now() - started, ...measured, statsWindow: this.probes.tracker.window };
    } finally {
      xs.dispose();
    }
  }

  setProbeFaces(batch: BatchData): Promise<void> {
    return this.serial(async () => {
      const { xs, ys } = tensorsOf(batch);
      ys.dispose();
      try {
        this.probes.setProbeFaces(xs, Array.from(batch.indices));
      } catch (error) {
        xs.dispose();
        throw error;
      }
    });
  }

  configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings> {
    return this.serial(async () => {
      const { probes } = this;
      if (changes.intervalMs !== undefined) probes.intervalMs = changes.intervalMs;
      if (changes.statsWindow !== undefined) probes.tracker.window = changes.statsWindow;
      if (changes.saturationThreshold !== undefined) probes.tracker.saturationThreshold = changes.saturationThreshold;
      if (changes.statsEnabled !== undefined) probes.statsEnabled = changes.statsEnabled;
      return { intervalMs: probes.intervalMs, statsWindow: probes.tracker.window, saturationThreshold: probes.tracker.saturationThreshold, statsEnabled: probes.statsEnabled };
    });
  }

  subscribe(subscription: MapSubscription): Promise<void> {
    return this.serial(async () => this.probes.subscribe(subscription));
  }

  requestCapture(): Promise<void> {
    return this.serial(async () => this.probes.requestCapture());
  }

  frames(step: number, options: { now?: boolean } = {}): Promise<FramesReply> {
    return this.serial(async () => {
      const frames = options.now ? await this.probes.pendingFrames(step) : await this.probes.framesIfDue(step);
      return { frames, warnings: this.probes.takeWarnings() };
    });
  }

  snapshot(step: number): Promise<ArrayBuffer[]> {
    return this.serial(async () => {
      const crops = this.probes.probeCrops;
      if (this.snapshots === null) throw new Error('this core was made without snapshots');
      if (crops === null) throw new RangeError('a snapshot needs at least one probe face');
      const count = Math.min(MAX_SNAPSHOT_PROBES, this.probes.probes.length);
      const xs = tf.tidy(() => crops.slice(0, count));
      try {
        return await this.snapshots.capture(xs, this.probes.probes.slice(0, count), step);
      } finally {
        xs.dispose();
      }
    });
  }

  getState(): Promise<CoreState> {
    return this.serial(() => guardGpu(() => this.readState()));
  }

  private async readState(): Promise<CoreState> {
    const named = [
      ...this.built.model.weights.map((weight) => ({ name: `weights/${weight.originalName}`, tensor: weight.read() })),
      ...this.optimizer.stateTensors(),
      // So "never fired since the run started" survives a resume.
      ...this.probes.tracker.stateTensors(),
    ];
    const arrays: NamedArray[] = [];
    for (const { name, tensor } of named) {
      if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') throw new TypeError(`state tensor "${name}" is ${tensor.dtype}; only float32 and int32 are kept`);
      // A copy: on cpu, data() hands out the backend's own buffer, which the next step overwrites.
      arrays.push({ name, dtype: tensor.dtype, shape: [...tensor.shape], values: ((await tensor.data()) as Float32Array | Int32Array).slice() });
    }
    // guardGpu checks again after the reads: weights a GPU error touched are never saved as a checkpoint.
    return { arrays, optimizerUpdates: this.optimizer.updateCount, probes: this.probes.tracker.stateMeta() };
  }

  setState(state: CoreState): Promise<void> {
    return this.serial(async () => {
      const byName = new Map(state.arrays.map((a) => [a.name, a]));
      restoreWeights(this.built.model, byName);
      if (state.weightsOnly === true) return;
      const tensors = new Map(state.arrays.filter((a) => !a.name.startsWith('weights/')).map((a) => [a.name, tf.tensor(a.values, a.shape, a.dtype)]));
      try {
        this.optimizer.loadState(tensors, state.optimizerUpdates);
        this.probes.tracker.loadState(tensors, state.probes);
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
    });
  }

  /** Frees every tensor once the calls made before it have ended; later calls are refused (a second dispose does nothing). */
  dispose(): Promise<void> {
    return this.serial(async () => {
      this.disposed = true;
      this.probes.dispose();
      this.optimizer.dispose();
      this.built.model.dispose();
    }, async () => {});
  }
}

async function refuseDisposed(): Promise<never> {
  throw new Error('this compute core has been disposed');
}

function tensorsOf(batch: BatchData): { xs: tf.Tensor4D; ys: tf.Tensor1D } {
  const { pixels, labels, count, inputSize } = batch;
  const xs = tf.tensor4d(pixels, [count, inputSize, inputSize, 1], 'float32');
  return { xs, ys: tf.tensor1d(labels, 'int32') };
}
