// The desktop shell's main process: one window, secure defaults, no tensor work.
import { app, BrowserWindow, ipcMain, session, shell } from 'electron';
import { join } from 'node:path';
import { TrainerProcess } from './trainer-process';

const trainer = new TrainerProcess((code, lastError) => {
  for (const win of BrowserWindow.getAllWindows()) win.webContents.send('lab:trainer-exit', { code, lastError });
});

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    title: 'Face CNN Lab',
    show: false,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  win.once('ready-to-show', () => win.show());
  // No navigation away from the app and no new windows; links open in the browser.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  const devUrl = process.env['ELECTRON_RENDERER_URL'];
  if (!app.isPackaged && devUrl) void win.loadURL(devUrl);
  else void win.loadFile(join(import.meta.dirname, '../renderer/index.html'));
  return win;
}

void app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  // A window asks for its port to the trainer once its page is ready; only our own windows are answered.
  ipcMain.on('lab:connect', (event) => {
    if (!BrowserWindow.getAllWindows().some((win) => win.webContents === event.sender)) return;
    trainer.connect(event.sender);
  });
  trainer.start();
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

// Quitting waits for the trainer to checkpoint its run (the run stays resumable), then quits.
app.on('will-quit', (event) => {
  if (!trainer.running) return;
  event.preventDefault();
  void trainer.stop().finally(() => app.quit());
});
