// What `npm run bench` and bench/gpu-check.ts run on webgpu: the adapter a forced
// `--backend webgpu` would use (probeWebGpu, in a child process: this process never loads
// Dawn) and the cases for it. A software adapter (Mesa's llvmpipe on a machine with no GPU)
// takes seconds for what a GPU does in milliseconds, so there the cases are small and few and
// their figures only say that the step runs and computes what wasm computes.
import { adapterLimits, describeAdapter, probeWebGpu, type WebGpuAdapter } from '../models/backend-webgpu';
import type { ModelSummary } from '../models/summary';
import { largestBindableBatch, largestOutputFloatsPerImage } from '../electron/trainer/training/memory-fit';
import type { TrainCase } from './train-runs';

export const SOFTWARE_LABEL = 'software adapter: correctness only, not a speed figure';

export interface WebGpuPlan {
  /** The adapter a forced webgpu backend computes on, or null (then `why` says why not). */
  readonly adapter: WebGpuAdapter | null;
  readonly why: string;
}

/** The adapter selectBackend({ force: 'webgpu' }) would take: the first GPU, else the first software adapter. */
export async function webGpuPlan(): Promise<WebGpuPlan> {
  const probe = await probeWebGpu();
  const adapter = probe.adapters.find((a) => a.software === null) ?? probe.adapters[0] ?? null;
  if (adapter === null) return { adapter: null, why: `${probe.reason}${probe.hint ? ` (${probe.hint})` : ''}` };
  return { adapter, why: `${describeAdapter(adapter)}; ${adapterLimits(adapter)}${adapter.software === null ? '' : `; ${adapter.software}`}` };
}

/** The training rows' cases on webgpu: the sizes of the other backends' rows on a GPU, small ones on a software adapter. */
export function webGpuTrainCases(adapter: WebGpuAdapter): TrainCase[] {
  if (adapter.software !== null) {
    return [
      { model: 'tiny', input: 32, batch: 8, steps: 2 },
      { model: 'lightcnn9', input: 32, batch: 4, steps: 2 },
    ];
  }
  const cases: TrainCase[] = [];
  for (const model of ['tiny', 'lightcnn9'] as const) for (const [input, batch] of [[64, 16], [128, 64]] as const) cases.push({ model, input, batch, steps: 10, warmup: 3 });
  return cases;
}

/**
 * The batch a case can run with on this adapter: every tensor of a webgpu step lives in one
 * storage binding, so the largest layer output (LightCNN-9 at 128 px: conv1's 128x128x96 floats,
 * 6 MiB an image, 384 MiB at batch 64) must fit maxStorageBufferBindingSize (and maxBufferSize).
 * `fits`: the case as asked. `reduced`: the largest batch that fits, a multiple of 8 where it can
 * be, with the reason. `none`: not even batch 1 fits.
 */
export type CaseFit = { readonly kind: 'fits' } | { readonly kind: 'reduced'; readonly batch: number; readonly why: string } | { readonly kind: 'none'; readonly why: string };
export function fitCaseToAdapter(c: TrainCase, summary: ModelSummary, adapter: Pick<WebGpuAdapter, 'maxStorageBufferBindingSize' | 'maxBufferSize'>): CaseFit {
  const largest = largestBindableBatch(summary, adapter);
  if (c.batch <= largest) return { kind: 'fits' };
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  const perImage = 4 * largestOutputFloatsPerImage(summary);
  const limit = Math.min(adapter.maxStorageBufferBindingSize, adapter.maxBufferSize);
  const why = `${c.model} at ${c.input} px, batch ${c.batch} does not fit this adapter: its largest layer output is ${mib(perImage * c.batch)} (${mib(perImage)} an image) and the adapter binds at most ${mib(limit)} as one storage buffer`;
  if (largest < 1) return { kind: 'none', why: `${why}, not even at batch 1` };
  const batch = largest >= 8 ? largest - (largest % 8) : largest;
  return { kind: 'reduced', batch, why: `${why}; the largest batch that fits is ${largest}, so batch ${batch} runs instead` };
}

/** Largest relative difference between two runs' losses, step by step (the same seed gives the same steps). */
export function lossDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n === 0) return NaN;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    const d = Math.abs(x - y) / Math.max(Math.abs(y), 1e-6);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** Losses within this relative difference of wasm's count as the same computation (float32, a few Adam steps). */
export const LOSS_TOLERANCE = 1e-3;
