// The typed surface the GPU host's preload (gpu-host.ts) exposes as `window.gpuHost`, for the
// host page (renderer/src/gpu-host/main.ts). Types only: both ends import it.
import type { GpuHostReport } from '#protocol/gpu-host';

export interface GpuHostBridge {
  /** Tells main what the page found once it has started WebGPU (once). */
  report(report: GpuHostReport): void;
  /** Tells main the page's device was lost, and why: the host can compute nothing more. */
  lost(reason: string): void;
}
