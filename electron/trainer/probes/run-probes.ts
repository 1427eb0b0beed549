// Everything a run measures about its activation layers, in one place per session:
//   - per training step, on the training batch: dead units and filters and layer health
//     (layer-stats.ts), read from taps on the activation layers (layer-taps.ts);
//   - every `intervalMs` of training (or on demand): the probe faces' activation maps for
//     the layers someone watches, as binary frames (activation-frames.ts).
// The compute core (training/compute-core.ts) calls `observeStep` around each step and
// `framesIfDue` after it.
import * as tf from '@tensorflow/tfjs';
import type { BuiltModel } from '../../../models/lightcnn';
import { frameChannel } from '#protocol/frames';
import type { LayerInfo, LayerStats } from '#protocol/messages';
import type { StepObserver } from '../training/train-step';
import { deadRule } from './dead-rules';
import { DEFAULT_TRANSPORT_SIDE, encodeActivationFrame } from './activation-frames';
import { LayerStatsTracker, modelWeights, type PackedStats, type StatsOptions, type StepTensors } from './layer-stats';
import { LayerTaps } from './layer-taps';
import { packHistograms, readHistograms, type PackedHistograms } from './histograms';
import type { FirstFilters, LayerHistograms } from '#protocol/messages';
import { formatActivation } from '../../../models/activations/spec';

export const DEFAULT_PROBE_INTERVAL_MS = 250;
export const DEFAULT_PROBE_COUNT = 4;

export interface ProbeOptions extends StatsOptions {
  /** Compute dead-neuron and health numbers every step (the bench turns this off to compare). */
  readonly stats?: boolean;
  readonly intervalMs?: number;
  /** Largest side of a map in the grid frames. */
  readonly maxSide?: number;
}

/** One filter of one probe face at full resolution; `filter` counts the pre-activation's channels (maxout/MFM pieces) when `kind` is 'preactivation'. */
export interface FullMapRequest {
  readonly layer: string;
  readonly filter: number;
  /** Position in the probe list. */
  readonly probe: number;
  readonly kind?: 'activation' | 'preactivation';
}

/** Whether a step also takes the histograms (and the first layer's filters). */
export interface HistogramRequest {
  readonly histograms?: boolean;
  readonly filters?: boolean;
}

/** One step's histograms, read back: every activation layer's, and the first convolution's filters when asked for. */
export interface StepHistograms {
  readonly layers: LayerHistograms[];
  readonly filters: FirstFilters | null;
}

/** What `observeStep` hands the training step, and reads its numbers afterwards (call both reads, even after a failed step: they free what the step queued). */
export type StepProbe = StepObserver & {
  stats(): Promise<LayerStats[]>;
  histograms(): Promise<StepHistograms | null>;
};

/** What the viewers (all of them together) want to see. */
export interface MapSubscription {
  readonly layers: ReadonlySet<string>;
  readonly preActivation: ReadonlySet<string>;
  readonly fullMaps: readonly FullMapRequest[];
}

export const NO_SUBSCRIPTION: MapSubscription = { layers: new Set(), preActivation: new Set(), fullMaps: [] };

/** The flow-control channel of a full-size map request (each viewer's request is its own channel). */
export function fullChannel(request: FullMapRequest | null | undefined): string {
  if (!request) return '';
  return `full:${request.layer}:${request.kind ?? 'activation'}:${request.filter}:${request.probe}`;
}

/** Captures take at most about this share of the time (the interval stretches when a capture is slow). */
export const MAX_CAPTURE_SHARE = 0.03;

/** What an inference pass hands the tracker: no backward pass ran and no weight was updated. */
const NO_GRADIENTS: StepTensors = { gradientOf: () => undefined, gradientOfWeight: () => undefined, weightBefore: () => undefined };

export class RunProbes {
  private readonly taps: LayerTaps;
  readonly tracker: LayerStatsTracker;
  private statsOn: boolean;
  private interval: number;
  readonly maxSide: number;
  private subscription: MapSubscription = NO_SUBSCRIPTION;
  private probeIndices: number[] = [];
  private probeXs: tf.Tensor4D | null = null;
  private lastCaptureAt = -Infinity;
  private lastCaptureMs = 0;
  private captureRequested = false;
  private readonly pendingWarnings: string[] = [];
  private statsFailed = false;
  private mapsFailed = false;
  private histogramsFailed = false;

  constructor(
    private readonly built: BuiltModel,
    options: ProbeOptions = {},
  ) {
    this.taps = new LayerTaps(built.model, built.activationLayers);
    this.weightOf = modelWeights(built.model);
    this.kernelNames = built.units.map((u) => `${u.linear}/kernel`);
    this.tracker = new LayerStatsTracker(built.units, this.weightOf, options);
    this.statsOn = options.stats ?? true;
    this.interval = checkInterval(options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS);
    this.maxSide = options.maxSide ?? DEFAULT_TRANSPORT_SIDE;
  }

  /**
   * Per-step statistics on or off (off: training runs exactly as without probes). Steps run
   * with statistics off count as steps without activity; the benchmark uses this, the
   * protocol does not offer it.
   */
  get statsEnabled(): boolean {
    return this.statsOn;
  }

  set statsEnabled(on: boolean) {
    this.statsOn = on;
  }

  /** The activation layers a viewer may subscribe to, with their sizes for one input. */
  layerInfo(): LayerInfo[] {
    const shapes = new Map(this.built.model.layers.map((l) => [l.name, l.outputShape as (number | null)[]]));
    return this.built.units.map((u) => {
      const shape = shapes.get(u.layer) ?? [];
      const spatial = shape.length === 4;
      return {
        layer: u.layer,
        unit: u.unit,
        activation: formatActivation(u.spec),
        rule: deadRule(u.spec),
        channels: u.channels,
        preActivationChannels: u.preActivationChannels,
        height: spatial ? (shape[1] as number) : 1,
        width: spatial ? (shape[2] as number) : 1,
      };
    });
  }

  get intervalMs(): number {
    return this.interval;
  }

  set intervalMs(ms: number) {
    this.interval = checkInterval(ms);
  }

  get probes(): readonly number[] {
    return this.probeIndices;
  }

  /** The probe faces' centre crops, in `probes` order (the probes' own: do not dispose). */
  get probeCrops(): tf.Tensor4D | null {
    return this.probeXs;
  }

  /** Sets the probe faces: their centre crops `xs` (owned from now on) and their dataset image indices. */
  setProbeFaces(xs: tf.Tensor4D, indices: readonly number[]): void {
    if (indices.length === 0 || xs.shape[0] !== indices.length) throw new RangeError(`${xs.shape[0]} probe crops for ${indices.length} probe faces`);
    // Faces and their indices change together.
    this.probeXs?.dispose();
    this.probeXs = xs;
    this.probeIndices = [...indices];
    this.captureRequested = true;
  }

  hasLayer(layer: string): boolean {
    return this.built.activationLayers.includes(layer);
  }

  /** Why this subscription cannot be served by this run (an unknown layer, filter or probe), or null. */
  subscriptionProblem(subscription: MapSubscription): string | null {
    return subscriptionProblem(this.layerInfo(), this.probeIndices.length, subscription);
  }

  subscribe(subscription: MapSubscription): void {
    const problem = this.subscriptionProblem(subscription);
    if (problem) throw new RangeError(problem);
    this.subscription = subscription;
    this.captureRequested = true; // a new viewer should not wait a whole interval
  }

  /** Maps are captured after the next step, or at once by `captureFrames` when training is paused. */
  requestCapture(): void {
    this.captureRequested = true;
  }

  /** A capture was asked for (subscription, probe faces, probeNow) and not yet done. */
  get capturePending(): boolean {
    return this.captureRequested && this.watching && this.probeXs !== null;
  }

  get watching(): boolean {
    const s = this.subscription;
    return !this.mapsFailed && (s.layers.size > 0 || s.preActivation.size > 0 || s.fullMaps.length > 0);
  }

  /**
   * Arms the taps for one training step; hand the observer to trainStep and call
   * `endStep` afterwards, whatever happened. `stats()` then reads the step's numbers (one
   * asynchronous read-back of what the update queued on the backend), and `histograms()`
   * the histograms `options` asked for (none while the statistics are off or stopped: they
   * share the step's taps).
   */
  observeStep(step: number, options: HistogramRequest = {}): StepProbe | undefined {
    if (!this.statsOn || this.statsFailed) return undefined;
    this.taps.arm(this.built.activationLayers, { gradients: true });
    const kept = this.keptWeights;
    let packed: PackedStats | undefined;
    let packedHistograms: PackedHistograms | undefined;
    return {
      beforeUpdate: () => {
        for (const name of this.kernelNames) {
          const w = this.weightOf(name);
          if (w) kept.set(name, tf.keep(w.clone()));
        }
      },
      afterUpdate: (gradients) => {
        // The update has been applied: a failure here must not fail the run. The numbers stop, the run goes on.
        try {
          packed = this.tracker.pack(step, (l) => this.taps.get(l), {
            gradientOf: (l) => this.taps.gradientOf(l),
            gradientOfWeight: (n) => gradients.get(n),
            weightBefore: (n) => kept.get(n),
          });
        } catch (error) {
          this.statsFailed = true;
          this.pendingWarnings.push(`dead-neuron statistics${this.histogramsFailed ? '' : ' and the histograms (which use the same taps)'} stopped at step ${step} (${(error as Error).message}); training goes on. Please report this.`);
        }
        if (options.histograms && !this.histogramsFailed) {
          try {
            packedHistograms = this.histogramRecorder.pack(this.built.units, { captured: (l) => this.taps.get(l), weightOf: this.weightOf }, options.filters ?? false);
          } catch (error) {
            this.histogramFailure(step, error);
          }
        }
      },
      histograms: async () => {
        const queued = packedHistograms;
        packedHistograms = undefined;
        if (queued === undefined) return null;
        try {
          return await this.histogramRecorder.read(queued);
        } catch (error) {
          this.histogramFailure(step, error);
          return null;
        }
      },
      stats: async () => {
        const queued = packed;
        packed = undefined;
        if (queued === undefined) return [];
        try {
          return await this.tracker.read(queued);
        } catch (error) {
          this.statsFailed = true;
          this.pendingWarnings.push(`dead-neuron statistics${this.histogramsFailed ? '' : ' and the histograms (which use the same taps)'} stopped at step ${step} (${(error as Error).message}); training goes on. Please report this.`);
          return [];
        }
      },
    };
  }

  /**
   * One batch of an inspection pass (inspection/inspection-session.ts): `xs` through the model
   * in inference mode (dropout off, RReLU at its evaluation slope; no update), every activation
   * layer tapped, folded into the tracker's counts as step `step`, with the histograms `options`
   * asks for. Nothing here is a gradient, so the numbers that need one come back null:
   * gradOutputMeanAbs, gradWeightMeanAbs and updateRatio. Everything the dead rules look at is
   * the activation's input and output (dead-rules.ts), so the dead counts are the training
   * step's. Unlike a training step, a failure here is thrown: these numbers are what the pass is for.
   */
  async inspectBatch(xs: tf.Tensor4D, step: number, options: HistogramRequest = {}): Promise<{ layers: LayerStats[]; histograms: StepHistograms | null }> {
    const { stats, histograms } = this.packInference(xs, step, options);
    const [layers, read] = await Promise.all([this.tracker.read(stats), histograms ? this.histogramRecorder.read(histograms) : null]);
    return { layers, histograms: read };
  }

  /** inspectBatch's forward pass and packing (the tensors of one read-back each); frees what it captured. */
  private packInference(xs: tf.Tensor4D, step: number, options: HistogramRequest): { stats: PackedStats; histograms: PackedHistograms | null } {
    let stats: PackedStats | undefined;
    this.taps.arm(this.built.activationLayers, { gradients: false });
    try {
      tf.tidy(() => {
        this.built.model.apply(xs, { training: false });
      });
      stats = this.tracker.pack(step, (l) => this.taps.get(l), NO_GRADIENTS);
      const histograms = options.histograms ? this.histogramRecorder.pack(this.built.units, { captured: (l) => this.taps.get(l), weightOf: this.weightOf }, options.filters ?? false) : null;
      return { stats, histograms };
    } catch (error) {
      stats?.packed.dispose();
      throw error;
    } finally {
      this.taps.disarm();
      this.taps.disposeCaptured();
    }
  }

  /** Histograms are for watching: a failure stops them, never the run. */
  private histogramFailure(step: number, error: unknown): void {
    this.histogramsFailed = true;
    this.pendingWarnings.push(`weight and activation histograms stopped at step ${step} (${(error as Error).message}); training goes on. Please report this.`);
  }

  /** The histograms' two halves, as the tracker's pack and read (tests replace them to inject faults). */
  readonly histogramRecorder = { pack: packHistograms, read: readHistograms };

  private readonly keptWeights = new Map<string, tf.Tensor>();
  /** The weights whose update ratio the statistics report (each activation's conv or dense kernel). */
  private readonly kernelNames: readonly string[];
  private readonly weightOf: (originalName: string) => tf.Tensor | undefined;

  /** Frees what a step's taps captured and the weights kept for it (call after every step, also a failed one). */
  endStep(): void {
    this.taps.disarm();
    this.taps.disposeCaptured();
    for (const t of this.keptWeights.values()) t.dispose();
    this.keptWeights.clear();
  }

  /** Problems the probes met (they switch themselves off rather than fail the run). */
  takeWarnings(): string[] {
    return this.pendingWarnings.splice(0);
  }

  /** The capture asked for (a subscription, probe faces, probeNow) if one is pending, at once; else []. */
  async pendingFrames(step: number): Promise<ArrayBuffer[]> {
    return this.capturePending ? this.captureFrames(step) : [];
  }

  /** The maps the viewers want, when the interval has passed or a capture was asked for; else []. */
  async framesIfDue(step: number, now = performance.now()): Promise<ArrayBuffer[]> {
    if (!this.watching || this.probeXs === null) return [];
    // The interval stretches when captures are slow, so they never take much more than MAX_CAPTURE_SHARE of the time.
    const wait = Math.max(this.interval, this.lastCaptureMs * (1 / MAX_CAPTURE_SHARE - 1));
    if (!this.captureRequested && now - this.lastCaptureAt < wait) return [];
    return this.captureFrames(step);
  }

  /** Runs the probe faces through the current weights (inference mode) and encodes the watched layers. */
  async captureFrames(step: number): Promise<ArrayBuffer[]> {
    const started = performance.now();
    this.captureRequested = false;
    const xs = this.probeXs;
    const { layers, preActivation, fullMaps } = this.subscription;
    if (xs === null || !this.watching) return [];
    const wanted = new Set([...layers, ...preActivation, ...fullMaps.map((f) => f.layer)]);
    this.taps.arm(wanted, { gradients: false });
    try {
      tf.tidy(() => {
        this.built.model.apply(xs, { training: false });
      });
      // Every layer's read starts at once (on a GPU they overlap, not one round trip after another); the frames keep this order.
      const frames: Array<Promise<ArrayBuffer>> = [];
      const common = { step, probes: this.probeIndices, maxSide: this.maxSide };
      for (const layer of layers) {
        const c = this.taps.get(layer);
        if (c) frames.push(encodeActivationFrame(c.y, { ...common, layer, kind: 'activation', channel: frameChannel(layer, 'activation') }));
      }
      for (const layer of preActivation) {
        const c = this.taps.get(layer);
        if (c) frames.push(encodeActivationFrame(c.x, { ...common, layer, kind: 'preactivation', channel: frameChannel(layer, 'preactivation') }));
      }
      for (const full of fullMaps) {
        const c = this.taps.get(full.layer);
        const kind = full.kind ?? 'activation';
        const maps = kind === 'preactivation' ? c?.x : c?.y;
        if (maps && full.probe < this.probeIndices.length && full.filter < (maps.shape.at(-1) ?? 0))
          frames.push(encodeActivationFrame(maps, { ...common, maxSide: 0, layer: full.layer, kind, channel: fullChannel(full), filter: full.filter, probe: full.probe }));
      }
      return await Promise.all(frames);
    } catch (error) {
      // Maps are for watching; a failure to make them must not fail the run.
      this.mapsFailed = true;
      this.pendingWarnings.push(`activation maps stopped at step ${step} (${(error as Error).message}); training goes on. Please report this.`);
      return [];
    } finally {
      this.taps.disarm();
      this.taps.disposeCaptured();
      this.lastCaptureAt = performance.now();
      this.lastCaptureMs = this.lastCaptureAt - started;
    }
  }

  dispose(): void {
    this.taps.remove();
    this.tracker.dispose();
    this.probeXs?.dispose();
    this.probeXs = null;
  }
}

/** Refuses probe faces that are not images of a dataset of `count` images. */
export function checkProbeImages(indices: readonly number[], count: number): void {
  if (indices.length === 0) throw new RangeError('at least one probe face is needed');
  for (const i of indices) if (!Number.isInteger(i) || i < 0 || i >= count) throw new RangeError(`probe image ${i} is not in the dataset (it has images 0..${count - 1})`);
}

/** Why a subscription cannot be served by a model with these activation layers and `probeCount` probe faces, or null. */
export function subscriptionProblem(layers: readonly LayerInfo[], probeCount: number, subscription: MapSubscription): string | null {
  const names = layers.map((l) => l.layer);
  for (const layer of [...subscription.layers, ...subscription.preActivation, ...subscription.fullMaps.map((f) => f.layer)]) {
    if (!names.includes(layer)) return `no activation layer "${layer}"; this model's are ${names.join(', ')}`;
  }
  for (const full of subscription.fullMaps) {
    const info = layers.find((l) => l.layer === full.layer);
    const pre = full.kind === 'preactivation';
    const count = info ? (pre ? info.preActivationChannels : info.channels) : 0;
    if (full.filter >= count) return `${full.layer} has ${count} ${pre ? 'pre-activation channels' : 'filters'}; there is no ${full.filter}`;
    if (full.probe >= probeCount) return `there are ${probeCount} probe faces; there is no probe ${full.probe}`;
  }
  return null;
}

/** The default probe faces: the first held-out image of each of the first `count` identities that have one. */
export function defaultProbeImages(labels: Int32Array, heldOut: Int32Array, count = DEFAULT_PROBE_COUNT): number[] {
  const firstOf = new Map<number, number>();
  for (const index of heldOut) {
    const id = labels[index] as number;
    if (!firstOf.has(id)) firstOf.set(id, index);
  }
  return [...firstOf.entries()].sort((a, b) => a[0] - b[0]).slice(0, count).map(([, index]) => index);
}

function checkInterval(ms: number): number {
  if (!Number.isFinite(ms) || ms < 50 || ms > 60000) throw new RangeError(`the probe interval must be 50..60000 ms, got ${ms}`);
  return ms;
}
