// The GPU host page's preload: exposes `window.gpuHost` (gpu-host-api.ts) and nothing else, and
// hands the page each compute core's port. Sandboxed: only `electron`'s renderer modules are
// available, and local imports are inlined by the build (electron.vite.config.ts builds each
// preload on its own, so neither needs a shared chunk it could not load).
import { contextBridge, ipcRenderer } from 'electron';
import { readHostReport } from '#protocol/gpu-host';
import { CHANNELS } from './channels';
import type { GpuHostBridge } from './gpu-host-api';

/** Longest lost reason sent (main keeps as much). */
const MAX_REASON = 2000;

ipcRenderer.on(CHANNELS.gpuHostCore, (event) => {
  // As the main window's preload hands over the trainer's port (contextBridge cannot pass ports).
  // (This file is type-checked without the DOM library, hence the narrow view of window.)
  (globalThis as unknown as { postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void }).postMessage({ type: CHANNELS.gpuHostCore }, '*', event.ports);
});

// What goes to main is plain data of the report's exact shape (main checks it again: it trusts no page).
const bridge: GpuHostBridge = {
  report: (report) => {
    const read = readHostReport(report);
    ipcRenderer.send(CHANNELS.gpuHostReport, typeof read === 'string' ? { ok: false, reason: `the GPU host page made a malformed report (${read})`, hint: 'a bug in Face CNN Lab: please report it; the CPU backends still train' } : read);
  },
  lost: (reason) => ipcRenderer.send(CHANNELS.gpuHostLost, typeof reason === 'string' ? reason.slice(0, MAX_REASON) : ''),
};

contextBridge.exposeInMainWorld('gpuHost', bridge);
