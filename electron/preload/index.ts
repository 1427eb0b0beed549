import { contextBridge, ipcRenderer } from 'electron';
import type { LabApi } from './api';

// Kept in step with LAB_PORT_MESSAGE in api.ts (a sandboxed preload bundles no shared module at run time; this is the one string).
const PORT_MESSAGE = 'lab:port';

ipcRenderer.on('lab:port', (event) => {
  // The documented way to hand a MessagePort to the page from an isolated preload.
  // (This file is type-checked without the DOM library, hence the narrow view of window.)
  (globalThis as unknown as { postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void }).postMessage({ type: PORT_MESSAGE }, '*', event.ports);
});

const api: LabApi = {
  versions: {
    electron: process.versions['electron'] ?? 'unknown',
    chrome: process.versions['chrome'] ?? 'unknown',
    node: process.versions['node'] ?? 'unknown',
  },
  connectTrainer: () => ipcRenderer.send('lab:connect'),
  onTrainerExit: (listener) => {
    ipcRenderer.on('lab:trainer-exit', (_event, info: { code: number; lastError: string }) => listener({ code: Number(info?.code), lastError: String(info?.lastError ?? '') }));
  },
};

contextBridge.exposeInMainWorld('lab', api);
