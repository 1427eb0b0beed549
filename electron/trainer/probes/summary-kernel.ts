// One activation layer's batch summary as a backend kernel, 'LabActivationSummary', for the
// CPU-side backends (cpu and wasm): a single pass over the layer's input x and output y
// computes what the op composition in dead-rules.ts and layer-stats.ts computes in a dozen
// passes (each a full read of the batch's activations, and on wasm most of them slow). GPU
// and native backends keep the composition (`activationSummary` falls back to it).
//
// Outputs: aliveAny, the unit shape (x's for maxout/MFM pieces, y's otherwise) without the
// batch axis, 1 where the unit was alive for at least one input (NaN counts as not alive);
// and a vector [mean(y), var(y), zero fraction of y, negative fraction of x, saturated
// fraction (NaN unless the saturation rule), dead and never-fired units, win rate of each
// piece...]. Sums run in float64. Two or three passes over the batch, against a dozen ops.
import * as tf from '@tensorflow/tfjs';
import { piecesKept, type ActivationSpec } from '../../../models/activations/registry';
import { alloc, free, view, type WasmBackend } from '../../../models/kernels/wasm-heap';
import { deadRule, maxDerivative, pieceCount, DEFAULT_SATURATION_THRESHOLD } from './dead-rules';

export const SUMMARY_KERNEL = 'LabActivationSummary';

/** What the kernel knows how to summarise; anything else uses the op composition. */
export type SummaryMode =
  | { kind: 'zero' }
  | { kind: 'cannot-die' }
  | { kind: 'pieces'; k: number; byMin: boolean }
  | { kind: 'saturation'; derivative: 'sigmoid' | 'tanh' | 'elu' | 'selu'; limit: number };

const SELU_SCALE = 1.0507009873554805;
const SELU_ALPHA = 1.6732632423543772;

export function summaryMode(spec: ActivationSpec, threshold = DEFAULT_SATURATION_THRESHOLD): SummaryMode | null {
  switch (deadRule(spec)) {
    case 'zero':
      return { kind: 'zero' };
    case 'cannot-die':
      return { kind: 'cannot-die' };
    case 'pieces':
      return { kind: 'pieces', k: pieceCount(spec), byMin: piecesKept(spec) > 1 };
    case 'saturation':
      // gelu, swish and mish need erf and friends exactly as tfjs computes them: the composition does those.
      if (spec.name === 'sigmoid' || spec.name === 'tanh' || spec.name === 'elu' || spec.name === 'selu') return { kind: 'saturation', derivative: spec.name, limit: threshold * maxDerivative(spec) };
      return null;
  }
}

/** [mean, var, zero fraction, negative fraction, saturated fraction, dead units, never-fired units, win rate of each piece...]. */
export function statsLength(mode: SummaryMode): number {
  return 7 + (mode.kind === 'pieces' ? mode.k : 0);
}

/** Where the step's alive flags go: each unit's last alive step, and what follows from it. */
export interface AliveUpdate {
  /** Last alive step per unit before this step (null: none yet, all -1). */
  readonly previous: Float32Array | null;
  readonly step: number;
  /** A unit whose last alive step is at or before this is dead. */
  readonly cutoff: number;
  /** Out: last alive step per unit after this step. */
  readonly next: Float32Array;
  /** Out: per filter (the last axis), the max over its units. */
  readonly filterLast: Float32Array;
}

/**
 * The summary. `x` is [B, ..., Cx] and `y` is [B, ..., Cy], channels-last and contiguous;
 * `alive` has one entry per unit of one input; `out` has statsLength(mode) entries.
 * The loops are branch-free where the data decides (comparisons become 0/1 and are added):
 * with a data-dependent branch per element, mispredictions cost more than the memory.
 */
export function summarize(mode: SummaryMode, x: Float32Array, y: Float32Array, batch: number, xChannels: number, update: AliveUpdate, out: Float32Array): void {
  const flags = new Uint8Array(update.next.length);
  const ys = yPass(y, batch, mode.kind === 'zero' ? flags : null);
  const negatives = mode.kind === 'pieces' ? piecesPass(mode, x, batch, xChannels, flags, out) : xPass(x, batch, mode.kind === 'cannot-die' ? flags : null);
  out[0] = ys.mean;
  out[1] = ys.variance;
  out[2] = ys.zeros / y.length;
  out[3] = negatives / x.length;
  out[4] = mode.kind === 'saturation' ? saturationPass(mode, x, y, batch, flags) / y.length : NaN;
  const { previous, step, cutoff, next, filterLast } = update;
  const filters = filterLast.length;
  filterLast.fill(-Infinity);
  let dead = 0;
  let never = 0;
  for (let u = 0, f = 0; u < next.length; u++, f = f + 1 === filters ? 0 : f + 1) {
    const before = previous ? (previous[u] as number) : -1;
    const last = before + (flags[u] as number) * (step - before);
    next[u] = last;
    dead += +(last <= cutoff);
    never += +(last < 0);
    if (last > (filterLast[f] as number)) filterLast[f] = last;
  }
  out[5] = dead;
  out[6] = never;
}

/**
 * Mean and variance from sums shifted by the first value, K (float64): E[(y-K)^2] - E[y-K]^2
 * does not cancel when the spread is tiny next to the mean (a saturated sigmoid: std ~1e-5
 * around ~1), as E[y^2] - E[y]^2 does even in float64 over millions of values. Also zeros,
 * and ReLU's alive flags.
 */
function yPass(y: Float32Array, batch: number, relu: Uint8Array | null): { mean: number; variance: number; zeros: number } {
  const per = y.length / batch;
  const shift = y.length > 0 ? (y[0] as number) : 0;
  let sum = 0;
  let squares = 0;
  let zeros = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    for (let u = 0; u < per; u++) {
      const v = y[base + u] as number;
      const d = v - shift;
      sum += d;
      squares += d * d;
      zeros += +(v === 0);
    }
    if (relu) for (let u = 0; u < per; u++) relu[u] = (relu[u] as number) | +((y[base + u] as number) > 0);
  }
  const shiftedMean = sum / y.length;
  return { mean: shift + shiftedMean, variance: Math.max(0, squares / y.length - shiftedMean * shiftedMean), zeros };
}

/** Count of x that is not positive (x <= 0: zero is on the negative side, as tfjs' leaky gradient puts it); the leaky family's "alive" (x > 0). */
function xPass(x: Float32Array, batch: number, positive: Uint8Array | null): number {
  const per = x.length / batch;
  let negatives = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    for (let u = 0; u < per; u++) negatives += 1 - +((x[base + u] as number) > 0);
    if (positive) for (let u = 0; u < per; u++) positive[u] = (positive[u] as number) | +((x[base + u] as number) > 0);
  }
  return negatives;
}

/** sigmoid/tanh/elu/selu: alive where |f'(x)| > limit; returns the saturated count (NaN counts as saturated). */
function saturationPass(mode: Extract<SummaryMode, { kind: 'saturation' }>, x: Float32Array, y: Float32Array, batch: number, flags: Uint8Array): number {
  const per = y.length / batch;
  const { derivative, limit } = mode;
  let saturated = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    for (let u = 0; u < per; u++) {
      const v = y[base + u] as number;
      const positive = +((x[base + u] as number) > 0);
      const slope =
        derivative === 'sigmoid' ? v * (1 - v) : derivative === 'tanh' ? 1 - v * v : derivative === 'elu' ? positive + (1 - positive) * (v + 1) : positive * SELU_SCALE + (1 - positive) * (v + SELU_SCALE * SELU_ALPHA);
      const ok = +(Math.abs(slope) > limit);
      flags[u] = (flags[u] as number) | ok;
      saturated += 1 - ok;
    }
  }
  return saturated;
}

/**
 * Maxout and MFM: channel j*C + c of x is piece j of output channel c. A piece is taken
 * where the layer's output takes its gradient from it: the max for maxout and MFM 2/1, the
 * top two for MFM 3/2, with ties resolved as tfjs' max/min gradients resolve them (to the
 * first argument). A position holding a NaN marks no piece. Writes the win rates (they sum
 * to 1 for maxout/MFM 2/1 and to 2 for MFM 3/2); returns x's non-positive count.
 */
function piecesPass(mode: Extract<SummaryMode, { kind: 'pieces' }>, x: Float32Array, batch: number, xChannels: number, flags: Uint8Array, out: Float32Array): number {
  const { k, byMin } = mode;
  const C = xChannels / k;
  const per = x.length / batch;
  const positions = per / xChannels;
  const wins = new Float64Array(k);
  let negatives = 0;
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < positions; p++) {
      const row = b * per + p * xChannels;
      const unitRow = p * xChannels;
      if (k === 2 && !byMin) {
        // MFM 2/1 and maxout 2, the common case (counts in locals: a running sum in memory is a dependency chain).
        let seconds = 0;
        let firsts = 0;
        for (let c = 0; c < C; c++) {
          const a = x[row + c] as number;
          const z = x[row + C + c] as number;
          negatives += 2 - +(a > 0) - +(z > 0);
          const second = +(z > a);
          const valid = +(a === a) & +(z === z);
          const unit = unitRow + second * C + c;
          flags[unit] = (flags[unit] as number) | valid;
          seconds += second & valid;
          firsts += (1 - second) & valid;
        }
        wins[0] = (wins[0] as number) + firsts;
        wins[1] = (wins[1] as number) + seconds;
        continue;
      }
      if (byMin) {
        // MFM 3/2 exactly as the layer selects (models/activations/mfm.ts): hi = max(a, b),
        // lo = min(a, b), top = max(hi, c), median = max(lo, min(hi, c)); tfjs' max and min send
        // a tie's gradient to their first argument. The pieces taken feed top or median.
        for (let c = 0; c < C; c++) {
          const v0 = x[row + c] as number;
          const v1 = x[row + C + c] as number;
          const v2 = x[row + 2 * C + c] as number;
          negatives += 3 - +(v0 > 0) - +(v1 > 0) - +(v2 > 0);
          if (v0 !== v0 || v1 !== v1 || v2 !== v2) continue; // a NaN position marks no piece
          const hi = v0 >= v1 ? 0 : 1;
          const lo = v0 <= v1 ? 0 : 1;
          const hiValue = hi === 0 ? v0 : v1;
          const loValue = lo === 0 ? v0 : v1;
          const top = hiValue >= v2 ? hi : 2;
          const inner = hiValue <= v2 ? hi : 2;
          const innerValue = inner === 2 ? v2 : hiValue;
          const median = loValue >= innerValue ? lo : inner;
          for (let j = 0; j < 3; j++) {
            const taken = +(j === top || j === median);
            const unit = unitRow + j * C + c;
            flags[unit] = (flags[unit] as number) | taken;
            wins[j] = (wins[j] as number) + taken;
          }
        }
        continue;
      }
      // Maxout k > 2: a chain of tf.maximum, ties to the earlier piece.
      for (let c = 0; c < C; c++) {
        let best = 0;
        let bestValue = x[row + c] as number;
        let valid = +(bestValue === bestValue);
        negatives += 1 - +(bestValue > 0);
        for (let j = 1; j < k; j++) {
          const v = x[row + j * C + c] as number;
          negatives += 1 - +(v > 0);
          valid &= +(v === v);
          if (v > bestValue) {
            best = j;
            bestValue = v;
          }
        }
        if (!valid) continue;
        const unit = unitRow + best * C + c;
        flags[unit] = 1;
        wins[best] = (wins[best] as number) + 1;
      }
    }
  }
  const total = batch * positions * C;
  for (let j = 0; j < k; j++) out[7 + j] = (wins[j] as number) / total;
  return negatives;
}

interface SummaryAttrs {
  mode: SummaryMode;
  step: number;
  cutoff: number;
}

function unitShape(mode: SummaryMode, x: tf.TensorInfo, y: tf.TensorInfo): number[] {
  return (mode.kind === 'pieces' || mode.kind === 'cannot-die' ? x.shape : y.shape).slice(1);
}

type Inputs = { x: tf.TensorInfo; y: tf.TensorInfo; previous?: tf.TensorInfo };

/** What the kernels use of the cpu backend, which keeps tensors as JS typed arrays (read without a copy). */
type CpuBackend = { readSync(dataId: object): unknown; makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo };

/** Registers a kernel for cpu and wasm, once per process (a kernel already there is left alone). */
const registeredKernels = new Set<string>();

function registerOnCpuAndWasm(kernelName: string, cpu: tf.KernelFunc, wasm: tf.KernelFunc): void {
  if (registeredKernels.has(kernelName)) return; // called every step: keep it a set lookup
  registeredKernels.add(kernelName);
  for (const [backendName, kernelFunc] of [['cpu', cpu], ['wasm', wasm]] as const) {
    if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
}

/** The cpu backend keeps tensors as JS typed arrays: read them (no copy) and make the outputs. */
const cpuKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, y, previous } = inputs as Inputs;
  const { mode, step, cutoff } = attrs as unknown as SummaryAttrs;
  const cpu = backend as unknown as CpuBackend;
  const shape = unitShape(mode, x, y);
  checkPrevious(previous, shape);
  const next = new Float32Array(tf.util.sizeFromShape(shape));
  const filterLast = new Float32Array(shape.at(-1) ?? 1);
  const out = new Float32Array(statsLength(mode));
  const read = (t: tf.TensorInfo) => cpu.readSync(t.dataId) as Float32Array;
  summarize(mode, read(x), read(y), x.shape[0] as number, x.shape.at(-1) as number, { previous: previous ? read(previous) : null, step, cutoff, next, filterLast }, out);
  return [cpu.makeTensorInfo(shape, 'float32', next), cpu.makeTensorInfo([filterLast.length], 'float32', filterLast), cpu.makeTensorInfo([out.length], 'float32', out)];
};

/** The wasm backend keeps tensors in its heap: allocate the outputs first, then take views (see wasm-heap.ts). */
const wasmKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, y, previous } = inputs as Inputs;
  const { mode, step, cutoff } = attrs as unknown as SummaryAttrs;
  const wasm = backend as unknown as WasmBackend;
  const shape = unitShape(mode, x, y);
  checkPrevious(previous, shape);
  const made: tf.TensorInfo[] = [];
  try {
    made.push(alloc(wasm, shape, 'float32'), alloc(wasm, [shape.at(-1) ?? 1], 'float32'), alloc(wasm, [statsLength(mode)], 'float32'));
  } catch (error) {
    free(wasm, ...made); // the heap is full: give back what was taken
    throw error;
  }
  const [next, filterLast, out] = made as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  const update = { previous: previous ? view(wasm, previous) : null, step, cutoff, next: view(wasm, next), filterLast: view(wasm, filterLast) };
  summarize(mode, view(wasm, x), view(wasm, y), x.shape[0] as number, x.shape.at(-1) as number, update, view(wasm, out));
  return [next, filterLast, out];
};

/** The saved last-alive steps must be this layer's: a wrong size would read past them. */
function checkPrevious(previous: tf.TensorInfo | undefined, shape: number[]): void {
  if (previous && (previous.dtype !== 'float32' || tf.util.sizeFromShape(previous.shape) !== tf.util.sizeFromShape(shape)))
    throw new Error(`the saved last-alive state is ${previous.dtype} [${previous.shape.join(', ')}], the layer's units are [${shape.join(', ')}]`);
}


export interface KernelSummary {
  /** Last alive step per unit after this step. */
  readonly lastAlive: tf.Tensor;
  /** Per filter, its units' latest alive step. */
  readonly filterLast: tf.Tensor1D;
  /** See statsLength. */
  readonly stats: tf.Tensor1D;
}

/** The kernel's outputs on a backend that has it; null elsewhere (use the op composition). */
export function runSummaryKernel(mode: SummaryMode, x: tf.Tensor, y: tf.Tensor, previous: tf.Tensor | null, step: number, cutoff: number): KernelSummary | null {
  registerOnCpuAndWasm(SUMMARY_KERNEL, cpuKernel, wasmKernel);
  if (tf.getKernel(SUMMARY_KERNEL, tf.getBackend()) === undefined) return null;
  if (x.dtype !== 'float32' || y.dtype !== 'float32') return null;
  const inputs: tf.NamedTensorMap = previous ? { x, y, previous } : { x, y };
  const [lastAlive, filterLast, stats] = tf.engine().runKernel(SUMMARY_KERNEL, inputs, { mode, step, cutoff } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { lastAlive: lastAlive as tf.Tensor, filterLast: filterLast as tf.Tensor1D, stats: stats as tf.Tensor1D };
}

// ------------------------------------------------------------------ weights

export const WEIGHT_KERNEL = 'LabWeightSummary';

/**
 * [mean |gradient|, ||w||, ||w - w_before|| / ||w_before||] in one pass over a layer's kernel
 * (the fc's is millions of values, and three tf-op chains over it cost a noticeable share of a
 * step on wasm: figures in bench/NOTES.md, "Figures behind design choices").
 * Any input may be absent: its numbers are NaN.
 */
export function weightSummary(weights: Float32Array | null, before: Float32Array | null, gradient: Float32Array | null, out: Float32Array): void {
  let gradSum = 0;
  if (gradient) for (let i = 0; i < gradient.length; i++) gradSum += Math.abs(gradient[i] as number);
  let norm = 0;
  let moved = 0;
  let was = 0;
  if (weights && before && before.length === weights.length) {
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      const b = before[i] as number;
      norm += w * w;
      moved += (w - b) * (w - b);
      was += b * b;
    }
  } else if (weights) {
    for (let i = 0; i < weights.length; i++) norm += (weights[i] as number) ** 2;
  }
  out[0] = gradient && gradient.length > 0 ? gradSum / gradient.length : NaN;
  out[1] = weights ? Math.sqrt(norm) : NaN;
  out[2] = weights && before && before.length === weights.length ? Math.sqrt(moved) / (Math.sqrt(was) + 1e-12) : NaN;
}

type WeightInputs = { weights?: tf.TensorInfo; before?: tf.TensorInfo; gradient?: tf.TensorInfo };

const cpuWeightKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { weights, before, gradient } = inputs as WeightInputs;
  const cpu = backend as unknown as CpuBackend;
  const read = (t: tf.TensorInfo | undefined) => (t ? (cpu.readSync(t.dataId) as Float32Array) : null);
  const out = new Float32Array(3);
  weightSummary(read(weights), read(before), read(gradient), out);
  return cpu.makeTensorInfo([3], 'float32', out);
};

const wasmWeightKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { weights, before, gradient } = inputs as WeightInputs;
  const wasm = backend as unknown as WasmBackend;
  const out = alloc(wasm, [3], 'float32');
  const read = (t: tf.TensorInfo | undefined) => (t ? view(wasm, t) : null);
  weightSummary(read(weights), read(before), read(gradient), view(wasm, out));
  return out;
};

/** [mean |gradient|, weight norm, update ratio] by the fused kernel, or null where the backend has none. */
export function runWeightKernel(weights: tf.Tensor | undefined, before: tf.Tensor | undefined, gradient: tf.Tensor | undefined): tf.Tensor1D | null {
  registerOnCpuAndWasm(WEIGHT_KERNEL, cpuWeightKernel, wasmWeightKernel);
  if (tf.getKernel(WEIGHT_KERNEL, tf.getBackend()) === undefined) return null;
  const present = [weights, before, gradient].filter((t): t is tf.Tensor => t !== undefined);
  if (present.length === 0 || present.some((t) => t.dtype !== 'float32')) return null;
  const inputs: tf.NamedTensorMap = {};
  if (weights) inputs['weights'] = weights;
  if (before) inputs['before'] = before;
  if (gradient) inputs['gradient'] = gradient;
  return tf.engine().runKernel(WEIGHT_KERNEL, inputs, {}) as tf.Tensor1D;
}
