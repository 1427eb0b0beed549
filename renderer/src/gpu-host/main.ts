// The GPU host page (renderer/gpu-host.html, in a hidden window main opens: electron/main/
// gpu-host-window.ts): starts the compute core on Chromium's WebGPU, tells main what it found
// through `window.gpuHost` (its preload), and serves one compute core on each port main hands
// it. It shows nothing and talks to nothing else.
//
// Type-checked with the compute core it bundles (tsconfig.node.json: the core's modules name
// Node's types, which tsconfig.web.json leaves out), so, like page.ts, without the DOM library:
// the page's globals are typed here, narrowly.
// First: zod's configuration, before any module makes a schema (see zod-jitless.ts).
import '../zod-jitless';
import type { GpuHostBridge } from '../../../electron/preload/gpu-host-api';
import { CHANNELS } from '../../../electron/preload/channels';
import { serveGpuCore, startWebGpu } from '../../../electron/trainer/gpu-host/page';
import type { PortLike } from '../../../electron/trainer/training/core-port';

interface PageWindow {
  readonly gpuHost?: GpuHostBridge;
  addEventListener(type: 'message', listener: (event: { source: unknown; data: unknown; ports: readonly PortLike[] }) => void): void;
}

const page = globalThis as unknown as PageWindow;
const bridge = page.gpuHost;
if (!bridge) throw new Error('gpu-host.html has no window.gpuHost: it runs only in the GPU host window, with its preload');
const host: GpuHostBridge = bridge;

// Ports first: main hands one over only after the report, and by then this listens.
page.addEventListener('message', (event) => {
  // Only what this page's preload posted (it posts on the page's own window).
  if (event.source !== page || (event.data as { type?: unknown } | null)?.type !== CHANNELS.gpuHostCore) return;
  const [port] = event.ports;
  if (port) serveGpuCore(port);
});

/** The first line of an error, as words for the user. */
function why(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.slice(0, 1000) || 'WebGPU did not start (it gave no reason)';
}

/** The way out where WebGPU did not start, for this platform (only Linux has switches the app sets). */
function noWebGpuHint(): string {
  const agent = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? '';
  const driver = /Windows/.test(agent)
    ? 'a GPU driver with Direct3D 12 (update it from the GPU maker)'
    : /Mac OS X|Macintosh/.test(agent)
      ? 'macOS 10.15 or later with Metal'
      : 'a Vulkan driver for the GPU (Mesa or the GPU maker\'s), and FACE_CNN_LAB_WEBGPU not set to off';
  return `the app trains on the CPU backends meanwhile; a GPU needs ${driver}`;
}

startWebGpu().then(
  (started) => {
    host.report({ ok: true, adapter: started.adapter });
    void started.lost.then((reason) => host.lost(reason));
  },
  (error: unknown) =>
    host.report({
      ok: false,
      reason: why(error),
      hint: noWebGpuHint(),
    }),
);
