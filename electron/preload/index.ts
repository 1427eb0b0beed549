// The preload: exposes `window.lab` (api.ts) and nothing else. Sandboxed: only `electron`'s
// renderer modules are available, and local imports are inlined by the build.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { LabApi } from './api';
import { CHANNELS } from './channels';

ipcRenderer.on(CHANNELS.port, (event) => {
  // The documented way to hand a MessagePort to the page from an isolated preload.
  // (This file is type-checked without the DOM library, hence the narrow view of window.)
  (globalThis as unknown as { postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void }).postMessage({ type: CHANNELS.port }, '*', event.ports);
});

// Results cross contextBridge as plain data; main already validated them, this only narrows
// the types (and never hands the page an Electron object).
function choice(value: unknown): { grant: string; label: string } | null {
  if (value === null || typeof value !== 'object') return null;
  const { grant, label } = value as { grant?: unknown; label?: unknown };
  return typeof grant === 'string' && typeof label === 'string' ? { grant, label } : null;
}

const api: LabApi = {
  versions: {
    electron: process.versions['electron'] ?? 'unknown',
    chrome: process.versions['chrome'] ?? 'unknown',
    node: process.versions['node'] ?? 'unknown',
  },
  connectTrainer: () => ipcRenderer.send(CHANNELS.connect),
  onTrainerExit: (listener) => {
    // The page gets its own callback, never the IPC event (it carries `sender`).
    const onExit = (_event: IpcRendererEvent, info: { code?: unknown; lastError?: unknown; pid?: unknown } | null) =>
      listener({ code: Number(info?.code), lastError: String(info?.lastError ?? ''), pid: typeof info?.pid === 'number' ? info.pid : null });
    ipcRenderer.on(CHANNELS.trainerExit, onExit);
    return () => void ipcRenderer.removeListener(CHANNELS.trainerExit, onExit);
  },
  chooseDataset: async (kind) => choice(await ipcRenderer.invoke(CHANNELS.chooseDataset, kind)),
  choosePairsFile: async () => choice(await ipcRenderer.invoke(CHANNELS.choosePairsFile)),
  chooseExportPath: async (suggestedName) => choice(await ipcRenderer.invoke(CHANNELS.chooseExportPath, suggestedName)),
  chooseCheckpoint: async () => choice(await ipcRenderer.invoke(CHANNELS.chooseCheckpoint)),
  chooseExportFolder: async (format) => choice(await ipcRenderer.invoke(CHANNELS.chooseExportFolder, format)),
  restartTrainer: async () => {
    await ipcRenderer.invoke(CHANNELS.restartTrainer);
  },
};

contextBridge.exposeInMainWorld('lab', api);
