// Whether a training step fits the backend's memory, before the first step tries.
//
// Only the wasm backend has a hard limit the lab knows: WebAssembly's 32-bit memory addresses
// 4 GiB, and every tensor of a step lives in it. A step holds every layer's output for the
// backward pass, their gradients, and the kernels' scratch (im2col columns, MFM masks), so
// its peak grows with the batch times the activations of one image (the model summary's
// output shapes), plus the weights, their gradients and the optimizer's state.
//
// The factors are measured: the wasm heap's size after 3 steps of a real session with its
// probes on ORL (figures and command in bench/NOTES.md, "Training memory on wasm"): LightCNN-9 at 128 px takes
// 1,079 MiB at batch 16 and 1,875 MiB at batch 32 (49.8 MiB an image for 22.3 MiB of
// activations: 2.24x), Model A 1,287 MiB at batch 32 (13.5 MiB of activations an image),
// LightCNN-9 with maxout:3 at 64 px 1,266 MiB at batch 64 (7.3 MiB). The estimate below
// is above every measured figure, and a step may use only USABLE_FRACTION of the heap:
// malloc cannot always reuse a freed block for a larger one, so a heap that is nearly
// full at its peak fails a few steps later (batch 64 at 128 px died at step 5).
//
// On webgpu the limit the lab can know is per tensor: each lives in one GPU buffer, bound as
// one storage binding, so no layer output (nor its gradient) may exceed the adapter's
// maxStorageBufferBindingSize (128 MiB on Mesa's llvmpipe, 256 MiB to 4 GiB on GPUs), nor
// maxBufferSize. A larger one is a validation error mid-step, so it is checked here first.
// (WebGPU does not tell how much memory the GPU has; running out of it is reported mid-run.)
import type { ModelSummary } from '../../../models/summary';

const MiB = 2 ** 20;

/** WebAssembly's 32-bit address space: the most the wasm backend's heap can grow to. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;
/** What a step's peak may take of the heap, leaving room for fragmentation. */
export const USABLE_FRACTION = 0.85;
/** The heap before any model: the runtime, XNNPACK's caches, the probe faces. */
const BASE_BYTES = 256 * MiB;
/** Bytes per parameter: weights, gradients, the optimizer's two slots, clipped copies, checkpoint reads. */
const BYTES_PER_PARAM = 8 * 4;
/** Heap bytes per byte of one image's activations in a step (measured 2.2 to 2.9; see above). */
const ACTIVATION_FACTOR = 3.2;

/** Floats of all layer outputs for one image. */
export function activationFloatsPerImage(summary: ModelSummary): number {
  return summary.layers.reduce((sum, layer) => sum + layer.outputShape.reduce((a, b) => a * b, 1), 0);
}

/** Estimated peak heap of one training step at `batch`. */
export function trainingStepBytes(summary: ModelSummary, batch: number): number {
  return BASE_BYTES + BYTES_PER_PARAM * summary.totalParams + ACTIVATION_FACTOR * 4 * activationFloatsPerImage(summary) * batch;
}

/** The largest batch whose step fits `limitBytes` x USABLE_FRACTION (0 when none does). */
export function largestFittingBatch(summary: ModelSummary, limitBytes: number): number {
  const perImage = ACTIVATION_FACTOR * 4 * activationFloatsPerImage(summary);
  const room = limitBytes * USABLE_FRACTION - BASE_BYTES - BYTES_PER_PARAM * summary.totalParams;
  return Math.max(0, Math.floor(room / perImage));
}

/** The memory limit of a backend that has one the lab knows (undefined: no known limit). */
export function backendMemoryLimit(backend: string): number | undefined {
  return backend === 'wasm' ? WASM_HEAP_BYTES : undefined;
}

/** The adapter limits that bound one tensor on webgpu. */
export interface GpuBufferLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

/** Floats of the largest layer output for one image: the largest tensor of a step, per image. */
export function largestOutputFloatsPerImage(summary: ModelSummary): number {
  return summary.layers.reduce((most, layer) => Math.max(most, layer.outputShape.reduce((a, b) => a * b, 1)), 0);
}

/** The largest batch whose largest tensor fits one storage binding and one buffer. */
export function largestBindableBatch(summary: ModelSummary, limits: GpuBufferLimits): number {
  const bytes = 4 * largestOutputFloatsPerImage(summary);
  return bytes === 0 ? Number.POSITIVE_INFINITY : Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / bytes);
}

export type BatchFit =
  | { readonly kind: 'fits' }
  /** The batch was the recipe's: use this smaller one, and say why. */
  | { readonly kind: 'reduced'; readonly batch: number; readonly note: string }
  /** The batch was the user's (or no batch fits): refuse before the first step, with this message. */
  | { readonly kind: 'refused'; readonly message: string };

/**
 * Checks a batch against the backend's memory. A batch the user chose is refused with the
 * largest that fits; the recipe's default is lowered (to a multiple of 8 where that is possible).
 */
export function fitBatch(options: { summary: ModelSummary; batch: number; backend: string; userChose: boolean; model: string; inputSize: number; gpuLimits?: GpuBufferLimits }): BatchFit {
  if (options.backend === 'webgpu' && options.gpuLimits !== undefined) return fitBinding(options as Parameters<typeof fitBinding>[0]);
  const limit = backendMemoryLimit(options.backend);
  if (limit === undefined) return { kind: 'fits' };
  const need = trainingStepBytes(options.summary, options.batch);
  if (need <= limit * USABLE_FRACTION) return { kind: 'fits' };
  const largest = largestFittingBatch(options.summary, limit);
  const needText = `about ${(need / 2 ** 30).toFixed(1)} GiB`;
  const what = `${options.model} at ${options.inputSize} px with batch ${options.batch}`;
  if (largest < 1) {
    return { kind: 'refused', message: `${what} needs ${needText} a step, and even batch 1 does not fit the wasm heap (4 GiB, of which a step may use ${Math.round(USABLE_FRACTION * 100)}%): use a smaller input (--input) or width (--width), or a GPU backend` };
  }
  if (options.userChose) {
    return {
      kind: 'refused',
      message: `${what} needs ${needText} a step, more than the wasm heap can give (4 GiB, of which a step may use ${Math.round(USABLE_FRACTION * 100)}%): the largest batch that fits is ${largest}. Use --batch ${largest} (or smaller), or a smaller input`,
    };
  }
  const batch = largest >= 8 ? largest - (largest % 8) : largest;
  return { kind: 'reduced', batch, note: `batch ${batch} instead of ${options.batch}: a step of ${what} needs ${needText}, more than the wasm heap (4 GiB) safely gives` };
}

function fitBinding(options: { summary: ModelSummary; batch: number; userChose: boolean; model: string; inputSize: number; gpuLimits: GpuBufferLimits }): BatchFit {
  const largest = largestBindableBatch(options.summary, options.gpuLimits);
  if (options.batch <= largest) return { kind: 'fits' };
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  const tensor = 4 * largestOutputFloatsPerImage(options.summary) * options.batch;
  const limit = Math.min(options.gpuLimits.maxStorageBufferBindingSize, options.gpuLimits.maxBufferSize);
  const what = `${options.model} at ${options.inputSize} px with batch ${options.batch}`;
  const why = `its largest layer output is ${mib(tensor)}, and this GPU binds at most ${mib(limit)} as one buffer`;
  if (largest < 1) return { kind: 'refused', message: `${what} cannot train on this GPU: ${why} even at batch 1. Use a smaller input (--input) or width (--width)` };
  if (options.userChose) return { kind: 'refused', message: `${what} cannot train on this GPU: ${why}. The largest batch that fits is ${largest}. Use --batch ${largest} (or smaller), or a smaller input` };
  const batch = largest >= 8 ? largest - (largest % 8) : largest;
  return { kind: 'reduced', batch, note: `batch ${batch} instead of ${options.batch}: at batch ${options.batch}, ${why}` };
}
