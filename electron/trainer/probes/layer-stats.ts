// Dead neurons and layer health, per training step, for every activation layer.
//
// Each step's training batch says which units were alive (dead-rules.ts). Rather than a
// ring of the last N steps' masks, each layer keeps one tensor: the last step at which each
// unit was alive (-1: never). Then "dead over the last W steps" is `lastAlive <= step - W`,
// "never fired since the run started" is `lastAlive < 0`, and changing W needs no history.
// A filter (a channel; for maxout/MFM a piece channel) is dead when all its units are, so
// its last-alive step is the max over its units. All reductions run in the backend; one
// asynchronous read-back per step brings the numbers to JS: `pack` queues the step's
// reductions, packed into one tensor, while its tensors are alive; `read` awaits that one
// tensor after the update, before the step's reply. The next step does not start until it
// has come back: the read does not overlap the next step's work.
import * as tf from '@tensorflow/tfjs';
import type { ActivationUnit } from '../../../models/lightcnn';
import { formatActivation } from '../../../models/activations/spec';
import type { LayerStats } from '#protocol/messages';
import { batchAlive, deadRule, DEFAULT_SATURATION_THRESHOLD, type DeadRule } from './dead-rules';
import { runSummaryKernel, runWeightKernel, summaryMode } from './summary-kernel';
import type { Captured } from './layer-taps';

export const DEFAULT_STATS_WINDOW = 50;

export interface StatsOptions {
  /** Steps a unit must stay without gradient to count as dead. */
  readonly window?: number;
  /** A sigmoid/tanh/smooth unit is saturated when |f'| < threshold x max |f'|. */
  readonly saturationThreshold?: number;
}

/** What the training step hands over besides the captured activations. */
export interface StepTensors {
  /** Mean |d loss / d output| of each layer (from the taps), when a backward pass ran. */
  readonly gradientOf: (layer: string) => tf.Scalar | undefined;
  /** The gradient of a variable by its stable name ('conv1/kernel'), before clipping. */
  readonly gradientOfWeight: (name: string) => tf.Tensor | undefined;
  /** A weight's value before this step's update, when it was kept. */
  readonly weightBefore: (name: string) => tf.Tensor | undefined;
}

interface Plan {
  readonly state: LayerState;
  readonly parts: number;
  readonly filters: number;
  readonly pieces: number;
  readonly slopes: number;
}

/** One step's numbers, queued on the backend by `pack` and not yet read. */
export interface PackedStats {
  readonly step: number;
  readonly plans: readonly Plan[];
  readonly packed: tf.Tensor;
}

interface LayerState {
  readonly unit: ActivationUnit;
  readonly rule: DeadRule;
  readonly activation: string;
  /**
   * Last step each unit was alive, the unit shape without the batch axis. For 'cannot-die'
   * layers, "alive" is "in the positive regime": the units that would be dead under ReLU's
   * rule (reported as negative-regime filters, so the two can be compared).
   */
  lastAlive: tf.Tensor | null;
  /** Per filter, dead over the window at the previous step (for died/revived counts). */
  previousDead: Uint8Array | null;
  died: number;
  revived: number;
}

export class LayerStatsTracker {
  private readonly layers = new Map<string, LayerState>();
  private windowSteps: number;
  private threshold: number;
  /** The first step whose batch these counts include: before the window fills, "dead" means dead since then. */
  private firstStep: number | null = null;

  /**
   * `weightOf` reads a weight by its stable name ('conv1/kernel', 'conv1.act/alpha'); see
   * `modelWeights`.
   */
  constructor(
    units: readonly ActivationUnit[],
    private readonly weightOf: (originalName: string) => tf.Tensor | undefined,
    options: StatsOptions = {},
  ) {
    this.windowSteps = checkWindow(options.window ?? DEFAULT_STATS_WINDOW);
    this.threshold = options.saturationThreshold ?? DEFAULT_SATURATION_THRESHOLD;
    for (const unit of units) {
      this.layers.set(unit.layer, { unit, rule: deadRule(unit.spec), activation: formatActivation(unit.spec), lastAlive: null, previousDead: null, died: 0, revived: 0 });
    }
  }

  get window(): number {
    return this.windowSteps;
  }

  set window(steps: number) {
    this.windowSteps = checkWindow(steps);
    // A new window changes who counts as dead at once; that is not filters dying or reviving.
    for (const state of this.layers.values()) state.previousDead = null;
  }

  get saturationThreshold(): number {
    return this.threshold;
  }

  set saturationThreshold(fraction: number) {
    if (!(fraction > 0 && fraction < 1)) throw new RangeError(`the saturation threshold is a fraction of the largest derivative, in (0, 1); got ${fraction}`);
    this.threshold = fraction;
    for (const state of this.layers.values()) state.previousDead = null;
  }

  get layerNames(): string[] {
    return [...this.layers.keys()];
  }

  /** pack + read: folds one training step into the counts and returns every layer's numbers. */
  async update(step: number, captured: (layer: string) => Captured | undefined, tensors: StepTensors): Promise<LayerStats[]> {
    return this.read(this.pack(step, captured, tensors));
  }

  /**
   * Folds one training step into the counts (the last-alive tensors) and queues its numbers
   * as one packed tensor, read by `read`. `step` is the step just taken (1-based);
   * `captured` gives each layer's x and y. Call it while the step's tensors are alive.
   */
  pack(step: number, captured: (layer: string) => Captured | undefined, tensors: StepTensors): PackedStats {
    this.firstStep ??= step;
    const plans: Plan[] = [];
    const packed = tf.tidy(() => {
      const pieces: tf.Tensor[] = [];
      for (const state of this.layers.values()) {
        const c = captured(state.unit.layer);
        if (!c) continue;
        const before = pieces.length;
        const { filters, pieceRates, slopes } = this.layerTensors(state, step, c, tensors, pieces);
        plans.push({ state, parts: pieces.length - before, filters, pieces: pieceRates, slopes });
      }
      return pieces.length > 0 ? tf.concat(pieces.map((p) => p.flatten())) : tf.zeros([0]);
    });
    return { step, plans, packed };
  }

  /** The numbers `pack` queued, read back (one asynchronous read) and described; frees the packed tensor. */
  async read(pending: PackedStats): Promise<LayerStats[]> {
    let values: Float32Array;
    try {
      if (pending.plans.length === 0) return [];
      values = (await pending.packed.data()) as Float32Array;
    } finally {
      pending.packed.dispose();
    }
    return this.describeStep(pending, values);
  }

  /** Every layer's numbers from the packed values of one step (read by `read`, or synchronously on a CPU backend). */
  describeStep({ step, plans }: PackedStats, values: Float32Array): LayerStats[] {
    let offset = 0;
    const out: LayerStats[] = [];
    for (const plan of plans) {
      const read = (n: number) => values.subarray(offset, (offset += n));
      const [mean, std, zeroFraction, negativeFraction, saturated, gradOut, gradWeight, weightNorm, updateRatio, deadUnits, neverUnits, unitCount] = read(12);
      const pieceWinRates = plan.pieces > 0 ? [...read(plan.pieces)].map(round) : undefined;
      const preluSlopes = plan.slopes > 0 ? [...read(plan.slopes)].map(round) : undefined;
      const filterLast = plan.filters > 0 ? read(plan.filters) : null;
      out.push(this.describe(plan.state, step, filterLast, {
        mean, std, zeroFraction, negativeFraction, saturated, gradOut, gradWeight, weightNorm, updateRatio, deadUnits, neverUnits, unitCount,
        pieceWinRates, preluSlopes,
      } as Numbers));
    }
    return out;
  }

  /** Pushes one layer's numbers onto `parts` (12 scalars, then piece rates, slopes, per-filter last-alive steps). */
  private layerTensors(state: LayerState, step: number, c: Captured, tensors: StepTensors, parts: tf.Tensor[]): { filters: number; pieceRates: number; slopes: number } {
    const { unit, rule } = state;
    const nan = tf.scalar(NaN);
    const gradOut = tensors.gradientOf(unit.layer) ?? nan;
    const kernelName = `${unit.linear}/kernel`;
    const kernel = this.weight(kernelName);
    const grad = tensors.gradientOfWeight(kernelName);
    const before = tensors.weightBefore(kernelName);
    const fusedWeights = this.useKernel ? runWeightKernel(kernel, before, grad) : null;
    const weightAt = (i: number) => (fusedWeights as tf.Tensor1D).slice(i, 1).reshape([]);
    const gradWeight = fusedWeights ? weightAt(0) : grad ? grad.abs().mean() : nan;
    const weightNorm = fusedWeights ? weightAt(1) : kernel ? norm(kernel) : nan;
    const updateRatio = fusedWeights ? weightAt(2) : kernel && before ? norm(kernel.sub(before)).div(norm(before).add(1e-12)) : nan;
    const cutoff = this.cutoff(step);
    // The fused kernel where the backend has it (cpu, wasm); else the same numbers from tf ops
    // (GPU and native backends, and gelu/swish/mish).
    const mode = this.useKernel ? summaryMode(unit.spec, this.threshold) : null;
    const fused = mode ? runSummaryKernel(mode, c.x, c.y, state.lastAlive, step, cutoff) : null;
    let mean: tf.Tensor, variance: tf.Tensor, zeroFraction: tf.Tensor, negativeFraction: tf.Tensor, saturated: tf.Tensor, deadUnits: tf.Tensor, neverUnits: tf.Tensor;
    let pieceRates: tf.Tensor | null = null;
    let filterLast: tf.Tensor;
    let lastAlive: tf.Tensor;
    if (mode && fused) {
      const at = (i: number) => fused.stats.slice(i, 1).reshape([]);
      [mean, variance, zeroFraction, negativeFraction, saturated, deadUnits, neverUnits] = [0, 1, 2, 3, 4, 5, 6].map(at) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      if (mode.kind === 'pieces') pieceRates = fused.stats.slice(7, mode.k);
      filterLast = fused.filterLast;
      lastAlive = fused.lastAlive;
    } else {
      // Fast ops only (see dead-rules.ts); fractions as means of step(). The variance in two passes:
      // E[y^2] - E[y]^2 cancels to 0 in float32 for a saturated sigmoid (std ~1e-5 around ~1).
      mean = c.y.mean();
      const centred = c.y.sub(mean);
      variance = centred.mul(centred).mean();
      zeroFraction = tf.scalar(1).sub(tf.step(c.y.abs()).mean());
      // x == 0 exactly has measure zero for a conv's output: negative = not positive.
      negativeFraction = tf.scalar(1).sub(tf.step(c.x).mean());
      const { aliveAny, pieceWinRates, saturatedFraction } = batchAlive(unit.spec, c.x, c.y, this.threshold);
      saturated = saturatedFraction ?? nan;
      pieceRates = pieceWinRates ?? null;
      const previous = state.lastAlive ?? tf.fill(aliveAny.shape, -1);
      // aliveAny is 0/1 (a NaN activation, which cpu's step() passes through, counts as not alive:
      // one NaN must not mark a unit alive for ever): lastAlive = alive ? step : previous.
      const alive = tf.where(tf.isNaN(aliveAny), tf.zerosLike(aliveAny), aliveAny);
      lastAlive = previous.add(alive.mul(tf.scalar(step).sub(previous)));
      deadUnits = lastAlive.lessEqual(cutoff).cast('float32').sum();
      neverUnits = lastAlive.less(0).cast('float32').sum();
      // Per filter: the max over its positions (the channel is the last axis).
      filterLast = lastAlive.rank > 1 ? lastAlive.max([...Array(lastAlive.rank - 1).keys()]) : lastAlive;
    }
    tf.keep(lastAlive);
    state.lastAlive?.dispose();
    state.lastAlive = lastAlive;
    parts.push(mean, variance.sqrt(), zeroFraction, negativeFraction, saturated, gradOut, gradWeight, weightNorm, updateRatio, deadUnits, neverUnits, tf.scalar(unitsPerInput(rule, c)));
    if (pieceRates) parts.push(pieceRates);
    const slopes = unit.spec.name === 'prelu' ? this.weight(`${unit.layer}/alpha`) : undefined;
    if (slopes) parts.push(slopes);
    if (filterLast) parts.push(filterLast);
    return { filters: filterLast?.size ?? 0, pieceRates: pieceRates?.size ?? 0, slopes: slopes?.size ?? 0 };
  }

  /** False: always the op composition (tests compare the two). */
  useKernel = true;

  /** A unit is dead when its last alive step is at or before this one. */
  private cutoff(step: number): number {
    return Math.max(step - this.windowSteps, (this.firstStep ?? step) - 1);
  }

  private weight(originalName: string): tf.Tensor | undefined {
    return this.weightOf(originalName);
  }

  private describe(state: LayerState, step: number, filterLast: Float32Array | null, n: Numbers): LayerStats {
    const { unit, rule, activation } = state;
    const canDie = rule !== 'cannot-die';
    const deadIndices: number[] = [];
    let neverFiredFilters = 0;
    if (filterLast) {
      const cutoff = this.cutoff(step);
      const dead = new Uint8Array(filterLast.length);
      for (let f = 0; f < filterLast.length; f++) {
        const last = filterLast[f] as number;
        if (last <= cutoff) {
          dead[f] = 1;
          deadIndices.push(f);
        }
        if (last < 0) neverFiredFilters++;
      }
      // Died and revived count changes of a full window only: before W steps, "dead" means "not
      // fired yet", and a filter firing for the first time is warming up, not coming back.
      const windowFull = step - (this.firstStep ?? step) + 1 >= this.windowSteps;
      const previous = windowFull ? state.previousDead : null;
      if (previous && previous.length === dead.length) {
        for (let f = 0; f < dead.length; f++) {
          if (!previous[f] && dead[f]) state.died++;
          else if (previous[f] && !dead[f]) state.revived++;
        }
      }
      state.previousDead = windowFull ? dead : null;
    }
    const orNull = (v: number) => (Number.isNaN(v) ? null : round(v));
    return {
      layer: unit.layer,
      activation,
      rule,
      filters: filterLast?.length ?? unit.channels,
      filterSpace: rule === 'pieces' ? 'pieces' : 'output',
      units: n.unitCount,
      deadFilters: canDie ? deadIndices.length : null,
      ...(canDie ? {} : { negativeRegimeFilters: deadIndices.length, negativeRegimeFilterIndices: deadIndices }),
      deadUnits: canDie ? n.deadUnits : null,
      deadFilterIndices: canDie ? deadIndices : [],
      neverFiredFilters: canDie ? neverFiredFilters : null,
      neverFiredUnits: canDie ? n.neverUnits : null,
      died: canDie ? state.died : 0,
      revived: canDie ? state.revived : 0,
      mean: round(n.mean),
      std: round(n.std),
      zeroFraction: round(n.zeroFraction),
      saturatedFraction: orNull(n.saturated),
      negativeFraction: round(n.negativeFraction),
      gradOutputMeanAbs: orNull(n.gradOut),
      gradWeightMeanAbs: orNull(n.gradWeight),
      weightNorm: orNull(n.weightNorm),
      updateRatio: orNull(n.updateRatio),
      ...(n.preluSlopes ? { preluSlopes: n.preluSlopes } : {}),
      ...(n.pieceWinRates ? { pieceWinRates: n.pieceWinRates } : {}),
    };
  }

  /** The per-unit state worth saving in a checkpoint, keyed by layer. */
  stateTensors(): { name: string; tensor: tf.Tensor }[] {
    return [...this.layers.values()].flatMap((s) => (s.lastAlive ? [{ name: `probes/${s.unit.layer}/lastAlive`, tensor: s.lastAlive }] : []));
  }

  /** What a checkpoint keeps besides `stateTensors`: the first step counted and the died/revived counts. */
  stateMeta(): { firstStep: number | null; counts: Record<string, { died: number; revived: number }> } {
    const counts: Record<string, { died: number; revived: number }> = {};
    for (const [layer, state] of this.layers) counts[layer] = { died: state.died, revived: state.revived };
    return { firstStep: this.firstStep, counts };
  }

  /** Restores what `stateTensors` and `stateMeta` saved (a resumed run keeps its "ever fired" and died/revived counts). */
  loadState(tensors: ReadonlyMap<string, tf.Tensor>, meta: unknown): void {
    const saved = meta as Partial<ReturnType<LayerStatsTracker['stateMeta']>> | undefined;
    if (typeof saved?.firstStep !== 'number') return; // a checkpoint from before the probes
    this.firstStep = saved.firstStep;
    for (const state of this.layers.values()) {
      const lastAlive = tensors.get(`probes/${state.unit.layer}/lastAlive`);
      if (lastAlive) {
        state.lastAlive?.dispose();
        state.lastAlive = tf.keep(lastAlive.clone());
      }
      const counts = saved.counts?.[state.unit.layer];
      if (counts) {
        state.died = counts.died;
        state.revived = counts.revived;
      }
    }
  }

  dispose(): void {
    for (const state of this.layers.values()) {
      state.lastAlive?.dispose();
      state.lastAlive = null;
    }
  }
}

interface Numbers {
  mean: number;
  std: number;
  zeroFraction: number;
  negativeFraction: number;
  saturated: number;
  gradOut: number;
  gradWeight: number;
  weightNorm: number;
  updateRatio: number;
  deadUnits: number;
  neverUnits: number;
  unitCount: number;
  pieceWinRates?: number[];
  preluSlopes?: number[];
}

/** Units of one input: the output's, or for maxout/MFM the pre-activation's (each piece is a unit). */
function unitsPerInput(rule: DeadRule, c: Captured): number {
  const t = rule === 'pieces' ? c.x : c.y;
  return t.size / (t.shape[0] as number);
}

/** The Euclidean norm with fast ops (tf.norm goes through abs and pow). */
function norm(t: tf.Tensor): tf.Tensor {
  return t.mul(t).sum().sqrt();
}

/** Reads a model's weights by stable name (the variables themselves, not copies). */
export function modelWeights(model: tf.LayersModel): (originalName: string) => tf.Tensor | undefined {
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  return (name) => byName.get(name)?.read();
}

function checkWindow(steps: number): number {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`the dead-neuron window must be a whole number of steps >= 1, got ${steps}`);
  return steps;
}

/** Four significant digits: enough for a chart, and it keeps the stream and the record small. */
function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}
