// Weight and activation histograms per activation layer, and the first convolution's
// filters: what TensorBoard's histogram dashboard shows, for the layers the lab watches.
//
// Like layer-stats.ts, `pack` queues the work on the backend while the step's tensors are
// alive (each layer's kernel after the update, each activation's output on the training
// batch) and packs every number into one tensor; `read` brings it back in one asynchronous
// read. Binning runs on the backend (bincount), so a GPU sends back counts, not tensors.
//
// A tensor larger than HISTOGRAM_SAMPLE values is counted on every stride-th value of the
// flattened tensor, which bounds the extra memory a histogram takes to about a MB whatever the
// batch. The stride shares no factor with one example's size (H x W x C), so the sample walks
// through every channel and position evenly: a stride of 24 over 48 channels would only ever
// see channels 0 and 24. Min and max are still the whole tensor's, so the bins span every value.
import * as tf from '@tensorflow/tfjs';
import type { ActivationUnit } from '../../../models/lightcnn';
import { HISTOGRAM_BINS, HISTOGRAM_SAMPLE } from '#protocol/histogram-bins';
import type { FirstFilters, Histogram, LayerHistograms } from '#protocol/messages';
import type { Captured } from './layer-taps';

/** What one step's histograms were taken from. */
export interface HistogramSources {
  /** The activation layer's captured tensors in this step (undefined when not captured). */
  readonly captured: (layer: string) => Captured | undefined;
  /** A weight by its original name (`conv1/kernel`), after the update. */
  readonly weightOf: (originalName: string) => tf.Tensor | undefined;
}

/** Per histogram: min, max, then the bins. */
const HISTOGRAM_LENGTH = 2 + HISTOGRAM_BINS;

/** What one tensor's histogram counted: its size and the sample's stride. */
interface Counted {
  readonly total: number;
  readonly stride: number;
}

interface Plan {
  readonly layer: string;
  /** The weights and activations histogrammed (null: not there). */
  readonly weights: Counted | null;
  readonly activations: Counted | null;
}

/** One step's histograms, queued on the backend by `packHistograms` and not yet read. */
export interface PackedHistograms {
  readonly plans: readonly Plan[];
  readonly filters: { readonly layer: string; readonly shape: readonly number[] } | null;
  readonly packed: tf.Tensor1D;
}

/**
 * Queues the histograms of every unit's kernel and activation output, and (with
 * `withFilters`) the first unit's convolution kernel. Call while the step's captured
 * tensors are alive; the caller owns the returned tensor until `readHistograms`.
 */
export function packHistograms(units: readonly ActivationUnit[], sources: HistogramSources, withFilters: boolean): PackedHistograms {
  const plans: Plan[] = [];
  let filters: PackedHistograms['filters'] = null;
  const packed = tf.tidy(() => {
    const pieces: tf.Tensor[] = [];
    for (const unit of units) {
      const weights = sources.weightOf(`${unit.linear}/kernel`);
      const activations = sources.captured(unit.layer)?.y;
      const counted = (t: tf.Tensor | undefined): Counted | null => (t ? { total: t.size, stride: sampleStride(t.shape) } : null);
      const plan = { layer: unit.layer, weights: counted(weights), activations: counted(activations) };
      if (weights && plan.weights) pieces.push(histogramTensor(weights, plan.weights.stride));
      if (activations && plan.activations) pieces.push(histogramTensor(activations, plan.activations.stride));
      plans.push(plan);
    }
    const first = units[0];
    const kernel = first ? sources.weightOf(`${first.linear}/kernel`) : undefined;
    if (withFilters && first && kernel && kernel.rank === 4) {
      filters = { layer: first.linear, shape: kernel.shape };
      pieces.push(kernel.flatten());
    }
    return (pieces.length > 0 ? tf.concat(pieces.map((p) => p.flatten().toFloat())) : tf.zeros([0])) as tf.Tensor1D;
  });
  return { plans, filters, packed };
}

/** What `packHistograms` queued, read back in one read; frees the packed tensor. */
export async function readHistograms(pending: PackedHistograms): Promise<{ layers: LayerHistograms[]; filters: FirstFilters | null }> {
  let values: Float32Array;
  try {
    values = (await pending.packed.data()) as Float32Array;
  } finally {
    pending.packed.dispose();
  }
  return unpackHistograms(pending, values);
}

/** The histograms and filters from the packed values (exported for tests). */
export function unpackHistograms(pending: Omit<PackedHistograms, 'packed'>, values: Float32Array): { layers: LayerHistograms[]; filters: FirstFilters | null } {
  let offset = 0;
  const take = (n: number) => values.subarray(offset, (offset += n));
  const layers = pending.plans.map((plan) => ({
    layer: plan.layer,
    weights: plan.weights ? describe(take(HISTOGRAM_LENGTH), plan.weights) : null,
    activations: plan.activations ? describe(take(HISTOGRAM_LENGTH), plan.activations) : null,
  }));
  let filters: FirstFilters | null = null;
  if (pending.filters) {
    const [height, width, inChannels, count] = pending.filters.shape as [number, number, number, number];
    filters = { layer: pending.filters.layer, height, width, inChannels, count, values: [...take(height * width * inChannels * count)].map(round) };
  }
  if (offset !== values.length) throw new Error(`histograms: read ${values.length} numbers, expected ${offset}`);
  return { layers, filters };
}

/**
 * Every how many values a tensor of this shape is counted: at least total / HISTOGRAM_SAMPLE,
 * and sharing no factor with one example's size (the shape without its first axis), so the
 * sample covers every channel and position.
 */
export function sampleStride(shape: readonly number[]): number {
  const total = shape.reduce((a, b) => a * b, 1);
  let stride = Math.max(1, Math.ceil(total / HISTOGRAM_SAMPLE));
  if (stride === 1) return 1;
  const example = shape.length > 1 ? total / (shape[0] as number) : total;
  while (gcd(stride, example) !== 1) stride++;
  return stride;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** [min, max, counts...] of one tensor, on its backend. */
function histogramTensor(t: tf.Tensor, stride: number): tf.Tensor1D {
  // Its own tidy: the sample's intermediates go before the next tensor's are made.
  return tf.tidy(() => binned(t, stride));
}

function binned(t: tf.Tensor, stride: number): tf.Tensor1D {
  const flat = t.flatten();
  const min = flat.min();
  const max = flat.max();
  const sample = stride > 1 ? tf.stridedSlice(flat, [0], [flat.size], [stride]) : flat;
  // Bin i holds [min + i*w, min + (i+1)*w); the top edge (max) goes in the last bin. A tensor
  // with NaN or infinity gets junk bins here, and `describe` drops them (min or max not finite).
  const width = max.sub(min).div(HISTOGRAM_BINS);
  // All values equal (a layer of zeros): width 0, and every value in bin 0.
  const scaled = sample.sub(min).div(tf.where(width.greater(0), width, tf.onesLike(width)));
  const index = scaled.floor().clipByValue(0, HISTOGRAM_BINS - 1).toInt();
  const counts = tf.bincount(index as tf.Tensor1D, tf.tensor1d([], 'float32'), HISTOGRAM_BINS);
  return tf.concat([min.reshape([1]), max.reshape([1]), counts.toFloat()]) as tf.Tensor1D;
}

function describe(values: Float32Array, { total, stride }: Counted): Histogram | null {
  const min = values[0] as number;
  const max = values[1] as number;
  if (!Number.isFinite(min) || !Number.isFinite(max)) return null;
  return { min, max, counts: [...values.subarray(2)], counted: Math.ceil(total / stride), total, stride };
}

/** Four significant digits, as layer-stats.ts: enough for a chart, and it keeps the record small. */
function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}
