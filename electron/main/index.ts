// The desktop shell's main process: one window, Electron's security checklist, native
// dialogs, the trainer's lifecycle. No tensor work here (a busy main freezes the app); the
// logic worth testing lives in plain modules (policy, ipc-validation, lab-ipc, grants, dialogs).
import { app, BrowserWindow, dialog, ipcMain, session, type WebContents } from 'electron';
import { join } from 'node:path';
import { CHANNELS } from '../preload/channels';
import { guardWebContents, hardenSession } from './harden';
import { createLabIpc } from './lab-ipc';
import type { AppLocation } from './policy';
import { TrainerProcess } from './trainer-process';

// Every renderer sandboxed, whatever a later BrowserWindow says (must precede 'ready').
app.enableSandbox();

const devServerUrl = process.env['ELECTRON_RENDERER_URL'];
const location: AppLocation = {
  rendererDir: join(import.meta.dirname, '../renderer'),
  // The dev server only while developing: a packaged app loads nothing but its own files.
  devServerUrl: !app.isPackaged && devServerUrl ? devServerUrl : null,
};

const windows = new Set<BrowserWindow>();

const trainer = new TrainerProcess((exit) => {
  for (const win of windows) if (!win.webContents.isDestroyed()) win.webContents.send(CHANNELS.trainerExit, exit);
});

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    // Until the page sets document.title (run and backend): main never overrides it.
    title: 'Face CNN Lab',
    show: false,
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
  win.on('closed', () => windows.delete(win));
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
app.on('before-quit', () => {
  quitting = true;
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
  ipcMain.handle(CHANNELS.restartTrainer, (event, ...args: unknown[]) => handlers.restartTrainer(event, ...args));

  trainer.start();
  createWindow();
  app.on('activate', () => {
    if (windows.size === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

// Quitting waits for the trainer to checkpoint its run (the run stays resumable), then quits.
// A trainer that has not exited even after Electron's kill (SIGTERM, then SIGKILL) must not keep
// main (and its single-instance lock) alive: main exits without it.
app.on('will-quit', (event) => {
  if (!trainer.running) return;
  event.preventDefault();
  void trainer.stop().then(
    (stopped) => {
      if (stopped) return app.quit();
      console.error('Face CNN Lab: the trainer did not exit after its shutdown message and a kill; quitting without it.');
      app.exit(1);
    },
    (error: unknown) => {
      console.error(`Face CNN Lab: stopping the trainer failed (${String(error)}); quitting without it.`);
      app.exit(1);
    },
  );
});
