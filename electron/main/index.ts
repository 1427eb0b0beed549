// The desktop shell's main process: one window, Electron's security checklist, native
// dialogs, the trainer's lifecycle, and the hidden GPU host window the trainer computes in. No
// tensor work here (a busy main freezes the app); the logic worth testing lives in plain
// modules (policy, ipc-validation, lab-ipc, grants, dialogs, gpu-host, webgpu-switches).
import { app, BrowserWindow, dialog, ipcMain, MessageChannelMain, session, type MessagePortMain, type WebContents } from 'electron';
import { join } from 'node:path';
import { CHANNELS } from '../preload/channels';
import { createGpuHostBroker } from './gpu-host';
import { openGpuHostWindow } from './gpu-host-window';
import { guardWebContents, hardenSession } from './harden';
import { createLabIpc } from './lab-ipc';
import type { AppLocation } from './policy';
import { TrainerProcess } from './trainer-process';
import { webGpuSwitches } from './webgpu-switches';

// Every renderer sandboxed, whatever a later BrowserWindow says (must precede 'ready').
app.enableSandbox();
// WebGPU for the GPU host page (Linux has it behind switches); like the sandbox, before 'ready'.
for (const { name, value } of webGpuSwitches(process.platform, process.env, (switchName) => app.commandLine.getSwitchValue(switchName))) {
  if (value === undefined) app.commandLine.appendSwitch(name);
  else app.commandLine.appendSwitch(name, value);
}

const devServerUrl = process.env['ELECTRON_RENDERER_URL'];
const location: AppLocation = {
  rendererDir: join(import.meta.dirname, '../renderer'),
  // The dev server only while developing: a packaged app loads nothing but its own files.
  devServerUrl: !app.isPackaged && devServerUrl ? devServerUrl : null,
};

// The app's own windows. The GPU host window is not one of them: lab-ipc answers only these
// (windowOf), and the last of these closing quits the app although the host's is still open.
const windows = new Set<BrowserWindow>();

// The hidden window the trainer computes in on Chromium's WebGPU (gpu-host.ts), opened when the trainer first asks.
const gpuHost = createGpuHostBroker<WebContents, MessagePortMain>({
  location,
  openWindow: (events) => openGpuHostWindow(location, events),
  newChannel: () => new MessageChannelMain(),
  log: (line) => console.warn(`Face CNN Lab GPU host: ${line}`),
});

const trainer = new TrainerProcess(
  (exit) => {
    for (const win of windows) if (!win.webContents.isDestroyed()) win.webContents.send(CHANNELS.trainerExit, exit);
  },
  undefined,
  {
    // The trainer's GPU requests go to the broker; answers go back to the very process that asked.
    onMessage: (message, from) => gpuHost.trainerMessage(message, from),
    onProcessExit: (gone) => gpuHost.trainerGone(gone),
  },
);

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    // Until the page sets document.title (run and backend): main never overrides it.
    title: 'Face CNN Lab',
    show: false,
    // Written out here, not built by a helper: the security lint (npm run lint:security) reads these literals.
    // gpu-host-window.ts repeats them; main-index.test.ts checks that both windows get them.
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      // Middle-click (auxclick) would be another way to open links; window opening is denied anyway.
      disableBlinkFeatures: 'Auxclick',
      // Chromium's spellchecker downloads dictionaries: no network for a lab.
      spellcheck: false,
    },
  });
  windows.add(win);
  win.on('closed', () => {
    windows.delete(win);
    // The hidden GPU host window keeps 'window-all-closed' from firing: the last app window
    // closing is what quits (as 'window-all-closed' does below where no host is open).
    if (windows.size === 0 && process.platform !== 'darwin') app.quit();
  });
  win.once('ready-to-show', () => win.show());
  if (location.devServerUrl) void win.loadURL(location.devServerUrl);
  else void win.loadFile(join(location.rendererDir, 'index.html'));
  return win;
}

function windowOf(contents: WebContents): BrowserWindow | null {
  for (const win of windows) if (!win.isDestroyed() && win.webContents === contents) return win;
  return null;
}

// Two instances would run two trainers over the same runs folder: the second one focuses the
// first and quits before it starts anything, saying so (from a terminal it would otherwise end
// with no word and no window of its own).
const firstInstance = app.requestSingleInstanceLock();
if (!firstInstance) {
  console.error('Face CNN Lab is already running (or still closing): its window was brought to the front, or the app opens again once it has closed.');
  app.quit();
}
// Set once a quit has begun: a relaunch then must not open a window the quit would close.
let quitting = false;
// Whether a relaunch during the quit already asked Electron to start the app again once it exits.
let relaunching = false;
// The trainer's stop a quit waits on, while it runs.
let stoppingToQuit: Promise<void> | null = null;

/** Quits once the trainer is gone; a trainer that will not go does not keep main (and its single-instance lock) alive. */
function stopTrainerThenQuit(): Promise<void> {
  stoppingToQuit ??= trainer.stop().then(
    (stopped) => {
      stoppingToQuit = null;
      if (!stopped) {
        console.error('Face CNN Lab: the trainer did not exit after its shutdown message and a kill; quitting without it.');
        app.exit(1);
        return;
      }
      gpuHost.close();
      app.quit();
    },
    (error: unknown) => {
      stoppingToQuit = null;
      console.error(`Face CNN Lab: stopping the trainer failed (${String(error)}); quitting without it.`);
      app.exit(1);
    },
  );
  return stoppingToQuit;
}

// Quitting waits for the trainer to checkpoint its run (the run stays resumable), and the
// trainer reads a run's weights from the GPU host page to checkpoint it. Electron closes every
// window, the hidden host's too, right after 'before-quit': so the quit waits here, with the
// app's windows hidden, until the trainer has stopped, then quits again.
app.on('before-quit', (event) => {
  quitting = true;
  if (!trainer.running) {
    gpuHost.close();
    return;
  }
  event.preventDefault();
  for (const win of windows) if (!win.isDestroyed()) win.hide();
  void stopTrainerThenQuit();
});
app.on('second-instance', () => {
  if (quitting) {
    // The launch must not be lost: the app starts again once this instance has exited (and
    // released the single-instance lock). Once: each relaunch() call starts one more instance.
    if (!relaunching) {
      relaunching = true;
      app.relaunch();
    }
    return;
  }
  const win = [...windows][0];
  // No window (all closed on macOS, or one that never opened): the launch must still show one.
  if (!win) {
    createWindow();
    return;
  }
  if (win.isMinimized()) win.restore();
  win.focus();
});

// Every web contents and every session, including any the app did not mean to create, gets
// the same guard (applying it twice to a session is harmless: each handler replaces the last).
app.on('web-contents-created', (_event, contents) => guardWebContents(contents, location));
app.on('session-created', (created) => hardenSession(created, location));

void app.whenReady().then(() => {
  if (!firstInstance) return;
  hardenSession(session.defaultSession, location);

  const handlers = createLabIpc({
    location,
    windowOf,
    showOpenDialog: (win, options) => dialog.showOpenDialog(win, options),
    showSaveDialog: (win, options) => dialog.showSaveDialog(win, options),
    exportFolder: () => app.getPath('documents'),
    trainer,
    refused: (channel, reason) => console.warn(`Face CNN Lab refused ${channel}: ${reason}`),
  });
  // A window asks for its port to the trainer once its page is ready; only our own page is answered.
  ipcMain.on(CHANNELS.connect, (event, ...args: unknown[]) => handlers.connect(event, ...args));
  ipcMain.handle(CHANNELS.chooseDataset, (event, ...args: unknown[]) => handlers.chooseDataset(event, ...args));
  ipcMain.handle(CHANNELS.choosePairsFile, (event, ...args: unknown[]) => handlers.choosePairsFile(event, ...args));
  ipcMain.handle(CHANNELS.chooseExportPath, (event, ...args: unknown[]) => handlers.chooseExportPath(event, ...args));
  ipcMain.handle(CHANNELS.chooseCheckpoint, (event, ...args: unknown[]) => handlers.chooseCheckpoint(event, ...args));
  ipcMain.handle(CHANNELS.chooseExportFolder, (event, ...args: unknown[]) => handlers.chooseExportFolder(event, ...args));
  ipcMain.handle(CHANNELS.restartTrainer, (event, ...args: unknown[]) => handlers.restartTrainer(event, ...args));
  // The GPU host page's report and its device's loss; the broker takes them from the host's own page only.
  ipcMain.on(CHANNELS.gpuHostReport, (event, ...args: unknown[]) => gpuHost.pageReport(event, ...args));
  ipcMain.on(CHANNELS.gpuHostLost, (event, ...args: unknown[]) => gpuHost.pageLost(event, ...args));

  trainer.start();
  createWindow();
  app.on('activate', () => {
    if (windows.size === 0) createWindow();
  });
});

// Chromium's GPU process is gone: the host page's device went with it.
app.on('child-process-gone', (_event, details) => {
  if (details.type === 'GPU') gpuHost.gpuProcessGone(details.reason, details.exitCode);
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

// Where 'before-quit' did not stop the trainer (a quit that skipped it, or a trainer started
// while the windows closed), the quit still waits for it here. A trainer that has not exited
// even after Electron's kill (SIGTERM, then SIGKILL) must not keep main (and its
// single-instance lock) alive: main exits without it.
app.on('will-quit', (event) => {
  if (!trainer.running) return;
  event.preventDefault();
  void stopTrainerThenQuit();
});
