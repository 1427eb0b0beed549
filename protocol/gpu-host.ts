// The GPU host's messages between the app's three parties (issue 13):
//
//   trainer (utility process) ──parentPort── main ──IPC / MessagePort── GPU host page (hidden window)
//
// - The trainer asks main for the host's state ('gpu-host-probe': main opens the hidden window
//   when none is open and answers what the page reported: its adapter, or why it has no WebGPU)
//   and for one port per compute core ('gpu-core': main makes a MessageChannelMain, hands one
//   end to the page and the other to the trainer, which drives a RemoteCore over it).
// - Main tells the trainer when the host is gone ('gpu-host-lost': the page crashed or was
//   closed, Chromium's GPU process died, or the page lost its device), so calls in flight fail
//   at once with the cause rather than waiting on a port that will never answer.
// - The page reports to main once it has started WebGPU (a GpuHostReport) and when its device
//   is lost; main sends it one port per core.
//
// The trainer's requests and main's answers travel on the trainer's parent port beside the
// messages of parent-port.ts. Plain data and checks only (no Node, no Electron): main, the
// trainer, the preload and the page all import it.
import type { GpuApi, WebGpuAdapter } from '../models/webgpu-adapter';

/** What the page found: the adapter Chromium gave it, or why it cannot compute (with the way out). */
export type GpuHostReport =
  | { readonly ok: true; readonly adapter: WebGpuAdapter }
  | { readonly ok: false; readonly reason: string; readonly hint: string };

/** Trainer → main, over the utility process's parent port. */
export type TrainerGpuRequest =
  | { readonly type: 'gpu-host-probe'; readonly id: number }
  | { readonly type: 'gpu-core'; readonly id: number };

/** Main → trainer. A 'gpu-core' answer without `error` carries the port as its first transferred port. */
export type MainGpuMessage =
  | { readonly type: 'gpu-host-probe'; readonly id: number; readonly report: GpuHostReport }
  | { readonly type: 'gpu-core'; readonly id: number; readonly error?: string }
  | { readonly type: 'gpu-host-lost'; readonly reason: string };

export const TRAINER_GPU_REQUESTS: ReadonlySet<string> = new Set<TrainerGpuRequest['type']>(['gpu-host-probe', 'gpu-core']);
export const MAIN_GPU_MESSAGES: ReadonlySet<string> = new Set<MainGpuMessage['type']>(['gpu-host-probe', 'gpu-core', 'gpu-host-lost']);

const API: ReadonlySet<string> = new Set<GpuApi>(['Vulkan', 'Metal', 'D3D12', 'OpenGL', 'OpenGL ES', 'Chromium']);
/** Longest text kept from a report: a page is the app's own, but a driver's message can be long. */
const MAX_TEXT = 2000;

const isId = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_TEXT;
const isSize = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** The adapter in `value`, or what is wrong with it. */
export function readAdapter(value: unknown): WebGpuAdapter | string {
  if (typeof value !== 'object' || value === null) return 'the adapter must be an object';
  const a = value as Record<string, unknown>;
  for (const field of ['vendor', 'architecture', 'device', 'description'] as const) if (!isText(a[field])) return `the adapter's ${field} must be a string`;
  if (typeof a['api'] !== 'string' || !API.has(a['api'])) return `the adapter's api must be one of ${[...API].join(', ')}`;
  if (a['featureLevel'] !== 'core' && a['featureLevel'] !== 'compatibility') return "the adapter's featureLevel must be 'core' or 'compatibility'";
  if (a['software'] !== null && !isText(a['software'])) return "the adapter's software must be a string or null";
  if (!isSize(a['maxBufferSize']) || !isSize(a['maxStorageBufferBindingSize'])) return "the adapter's buffer limits must be non-negative numbers";
  return {
    vendor: a['vendor'] as string,
    architecture: a['architecture'] as string,
    device: a['device'] as string,
    description: a['description'] as string,
    api: a['api'] as GpuApi,
    featureLevel: a['featureLevel'],
    software: a['software'] as string | null,
    maxBufferSize: a['maxBufferSize'] as number,
    maxStorageBufferBindingSize: a['maxStorageBufferBindingSize'] as number,
  };
}

/** A page's report as plain data of exactly this shape, or what is wrong with it. */
export function readHostReport(value: unknown): GpuHostReport | string {
  if (typeof value !== 'object' || value === null) return 'a GPU host report must be an object';
  const r = value as Record<string, unknown>;
  if (r['ok'] === true) {
    const adapter = readAdapter(r['adapter']);
    return typeof adapter === 'string' ? adapter : { ok: true, adapter };
  }
  if (r['ok'] !== false) return "a GPU host report's ok must be true or false";
  if (!isText(r['reason']) || !isText(r['hint'])) return 'a failed GPU host report needs a reason and a hint (strings)';
  return { ok: false, reason: r['reason'], hint: r['hint'] };
}

/** A trainer's GPU request, or what is wrong with it (null when it is not a GPU message at all). */
export function readTrainerGpuRequest(value: unknown): TrainerGpuRequest | string | null {
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !TRAINER_GPU_REQUESTS.has(type)) return null;
  const { id } = value as { id?: unknown };
  if (!isId(id)) return `a ${type} request needs a non-negative integer id`;
  return { type: type as TrainerGpuRequest['type'], id };
}

/** Main's GPU message, or what is wrong with it (null when it is not a GPU message at all). */
export function readMainGpuMessage(value: unknown): MainGpuMessage | string | null {
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !MAIN_GPU_MESSAGES.has(type)) return null;
  const m = value as Record<string, unknown>;
  if (type === 'gpu-host-lost') return isText(m['reason']) ? { type, reason: m['reason'] } : 'gpu-host-lost needs a reason';
  if (!isId(m['id'])) return `a ${type} answer needs a non-negative integer id`;
  const id = m['id'];
  if (type === 'gpu-core') {
    if (m['error'] === undefined) return { type, id };
    return isText(m['error']) ? { type, id, error: m['error'] } : 'a gpu-core error must be a string';
  }
  const report = readHostReport(m['report']);
  return typeof report === 'string' ? report : { type: 'gpu-host-probe', id, report };
}
