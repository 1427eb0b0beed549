// The GPU host's window, the Electron part of it (the logic is gpu-host.ts): hidden, sandboxed,
// never throttled, showing renderer/gpu-host.html with its own preload (window.gpuHost). The
// session's hardening (CSP header, no remote requests) and the guard against navigation and
// new windows reach it as they reach every web contents (index.ts: 'web-contents-created'
// and the default session). It is not one of the app's windows: lab-ipc never answers it.
import { BrowserWindow, type MessagePortMain, type WebContents } from 'electron';
import { join } from 'node:path';
import { CHANNELS } from '../preload/channels';
import type { HostWindow, HostWindowEvents } from './gpu-host';
import type { AppLocation } from './policy';

/** Chromium's code for a load that was superseded (ERR_ABORTED): not a failure of the page. */
const ERR_ABORTED = -3;

export function openGpuHostWindow(location: AppLocation, events: HostWindowEvents): HostWindow<WebContents, MessagePortMain> {
  const win = new BrowserWindow({
    width: 320,
    height: 240,
    title: 'Face CNN Lab GPU host',
    show: false,
    skipTaskbar: true,
    // The main window's settings (index.ts), written out for the security lint, plus no throttling.
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/gpu-host.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      disableBlinkFeatures: 'Auxclick',
      spellcheck: false,
      // Chromium throttles the timers and rendering of a hidden page: this one computes for the trainer.
      backgroundThrottling: false,
    },
  });
  const contents = win.webContents;
  contents.on('render-process-gone', (_event, details) => events.pageGone(details.reason, details.exitCode));
  contents.on('did-fail-load', (_event, errorCode, errorDescription, validatedURL, isMainFrame) => {
    if (isMainFrame && errorCode !== ERR_ABORTED) events.loadFailed(`${errorDescription}, error ${errorCode}, loading ${validatedURL}`);
  });
  win.on('closed', () => events.closed());
  // A failed load rejects here and is reported by 'did-fail-load' above.
  const loaded = location.devServerUrl ? win.loadURL(`${location.devServerUrl.replace(/\/$/, '')}/gpu-host.html`) : win.loadFile(join(location.rendererDir, 'gpu-host.html'));
  loaded.catch(() => undefined);
  return {
    contents,
    givePort(port) {
      if (contents.isDestroyed()) {
        port.close();
        return;
      }
      contents.postMessage(CHANNELS.gpuHostCore, null, [port]);
    },
    destroy() {
      if (!win.isDestroyed()) win.destroy();
    },
  };
}
