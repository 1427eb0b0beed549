// main's wiring (index.ts) with Electron faked: a relaunch while no window is open opens one,
// a relaunch while quitting starts the app again after the quit, a second instance says why it
// quits, and quitting never waits forever on a trainer that will not stop (it would keep the
// single-instance lock, and every later launch would be handed to a process with no window).
// The GPU host: the trainer's requests open the hidden window and reach its page, the window
// is none of the app's, a quit keeps it until the trainer has stopped (the trainer reads a
// run's weights from it to checkpoint), and the last app window closing quits although the
// hidden one is open.
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { CHANNELS } from '../../preload/channels';

class FakeContents extends EventEmitter {
  destroyed = false;
  isDestroyed = () => this.destroyed;
  send = vi.fn();
  postMessage = vi.fn();
}

class FakeWindow extends EventEmitter {
  readonly webContents = new FakeContents();
  focused = 0;
  destroyed = false;
  constructor(readonly options: { show?: boolean; webPreferences?: Record<string, unknown> }) {
    super();
  }
  isDestroyed = () => this.destroyed;
  isMinimized = () => false;
  restore = vi.fn();
  show = vi.fn();
  hide = vi.fn();
  loadURL = vi.fn(async () => undefined);
  loadFile = vi.fn(async () => undefined);
  focus(): void {
    this.focused++;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.webContents.destroyed = true;
    this.emit('closed');
  }
}

class FakePort {
  closed = false;
  close(): void {
    this.closed = true;
  }
}

// Above any pid_max (Linux allows at most 2^22): no fake pid can name a live process.
let nextPid = 5_000_000;
class FakeChild extends EventEmitter {
  readonly stderr = new PassThrough();
  pid: number | undefined = nextPid++;
  /** What the fake trainer does with main's shutdown message and kill (SIGTERM). */
  obeys = true;
  /** Whether it exits by itself soon after the shutdown message (else a test ends it). */
  exitsOnShutdown = true;
  readonly posted: Array<{ message: unknown; transfer: unknown[] }> = [];
  postMessage(message: unknown, transfer: unknown[] = []): void {
    this.posted.push({ message, transfer });
    if ((message as { type?: unknown }).type === 'shutdown' && this.obeys && this.exitsOnShutdown) setTimeout(() => this.exit(0), 5);
  }
  kill(): boolean {
    if (this.obeys) this.exit(143);
    return true;
  }
  exit(code: number): void {
    this.pid = undefined;
    this.emit('exit', code);
    this.stderr.removeAllListeners();
  }
}

/** The app's windows, and the hidden GPU host windows (told apart by their preload). */
const windows: FakeWindow[] = [];
const hostWindows: FakeWindow[] = [];
const forked: FakeChild[] = [];
const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  enableSandbox: vi.fn(),
  commandLine: { appendSwitch: vi.fn(), getSwitchValue: vi.fn(() => '') },
  requestSingleInstanceLock: vi.fn(() => true),
  whenReady: () => Promise.resolve(),
  getPath: () => '/home/user/Documents',
  quit: vi.fn(),
  exit: vi.fn(),
  relaunch: vi.fn(),
});
let labDeps: { trainer: { restart(): void; running: boolean }; windowOf(contents: unknown): unknown } | null = null;
/** What main registered with ipcMain.on, by channel. */
const ipcOn = new Map<string, (event: unknown, ...args: unknown[]) => void>();

vi.mock('electron', () => ({
  app,
  BrowserWindow: vi.fn(function (options: FakeWindow['options']) {
    const win = new FakeWindow(options);
    if (String(options.webPreferences?.['preload']).endsWith('gpu-host.cjs')) hostWindows.push(win);
    else windows.push(win);
    return win;
  }),
  dialog: {},
  ipcMain: { on: vi.fn((channel: string, listener: (event: unknown, ...args: unknown[]) => void) => ipcOn.set(channel, listener)), handle: vi.fn() },
  session: { defaultSession: {} },
  utilityProcess: {
    fork: vi.fn(() => {
      const child = new FakeChild();
      forked.push(child);
      return child;
    }),
  },
  MessageChannelMain: class {
    port1 = new FakePort();
    port2 = new FakePort();
  },
}));
vi.mock('../harden', () => ({ guardWebContents: vi.fn(), hardenSession: vi.fn() }));
vi.mock('../lab-ipc', () => ({
  createLabIpc: (deps: typeof labDeps) => {
    labDeps = deps;
    return {};
  },
}));

await import('../index');
await vi.waitFor(() => expect(windows).toHaveLength(1));

beforeEach(() => {
  // The GPU host broker's lines (refused messages, lost hosts) are main's log, not the test's.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  // main never signals a process itself (Electron's kill() does, and reaps it): a call here is a bug.
  vi.spyOn(process, 'kill').mockImplementation(() => {
    throw new Error('process.kill called by main');
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** The trainer process running now (one is started if none runs). */
function runningTrainer(): FakeChild {
  labDeps!.trainer.restart();
  const child = forked.at(-1)!;
  expect(child.pid).toBeDefined();
  return child;
}

/** The GPU host page's URL as main loads it (index.ts: the renderer folder beside main's bundle). */
const hostPageUrl = pathToFileURL(resolve(import.meta.dirname, '../../renderer/gpu-host.html')).href;
const fromHostPage = (host: FakeWindow) => ({ sender: host.webContents, senderFrame: { url: hostPageUrl, parent: null } });
const ADAPTER = { vendor: 'nvidia', architecture: 'ampere', device: 'RTX 3060', description: '', api: 'Chromium', featureLevel: 'core', software: null, maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };

/** The trainer probes the GPU host; its page reports a usable adapter. The host window. */
function openHost(child: FakeChild, id = 1): FakeWindow {
  const before = hostWindows.length;
  child.emit('message', { type: 'gpu-host-probe', id });
  expect(hostWindows).toHaveLength(before + 1);
  const host = hostWindows.at(-1)!;
  ipcOn.get(CHANNELS.gpuHostReport)!(fromHostPage(host), { ok: true, adapter: ADAPTER });
  expect(child.posted.at(-1)?.message).toEqual({ type: 'gpu-host-probe', id, report: { ok: true, adapter: ADAPTER } });
  return host;
}

test('a second launch focuses the open window, or opens one when there is none', () => {
  app.emit('second-instance', {}, [], '/');
  expect(windows).toHaveLength(1);
  expect(windows[0]!.focused).toBe(1);
  windows[0]!.emit('closed');
  // All windows closed (macOS keeps the app running; or a window that failed to open).
  app.emit('second-instance', {}, [], '/');
  expect(windows).toHaveLength(2);
});

test("on Linux, Chromium's WebGPU switches are appended before 'ready'", () => {
  const linux = process.platform === 'linux' && process.env['FACE_CNN_LAB_WEBGPU'] !== 'off';
  expect(app.commandLine.appendSwitch.mock.calls).toEqual(linux ? [['enable-unsafe-webgpu'], ['enable-features', 'Vulkan']] : []);
});

test("the trainer's GPU requests open the hidden, hardened host window and reach its page; the host is none of the app's windows", () => {
  const child = runningTrainer();
  const host = openHost(child);
  expect(host.options.show).toBe(false);
  expect(host.options.webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true, spellcheck: false, backgroundThrottling: false });
  expect(host.options.webPreferences?.['preload']).toMatch(/[\\/]preload[\\/]gpu-host\.cjs$/);
  // The same hardening as the app's window, written out twice for the security lint: they must not drift apart.
  const { preload: _hostPreload, backgroundThrottling: _throttling, ...hostHardening } = host.options.webPreferences ?? {};
  const { preload: _mainPreload, ...mainHardening } = windows[0]?.options.webPreferences ?? {};
  expect(windows[0]).toBeDefined();
  expect(hostHardening).toEqual(mainHardening);
  expect(host.loadFile).toHaveBeenCalledWith(expect.stringMatching(/[\\/]renderer[\\/]gpu-host\.html$/));
  // A compute core: one end to the page, the other to the trainer that asked.
  child.emit('message', { type: 'gpu-core', id: 2 });
  expect(host.webContents.postMessage).toHaveBeenCalledTimes(1);
  const [channel, message, ports] = host.webContents.postMessage.mock.calls[0] as [string, unknown, FakePort[]];
  expect([channel, message]).toEqual([CHANNELS.gpuHostCore, null]);
  const answer = child.posted.at(-1)!;
  expect(answer.message).toEqual({ type: 'gpu-core', id: 2 });
  expect(answer.transfer).toHaveLength(1);
  expect(answer.transfer[0]).toBeInstanceOf(FakePort);
  expect(answer.transfer[0]).not.toBe(ports[0]);
  // lab-ipc never answers the host, and a relaunch focuses the app's window, not the hidden one.
  const appWindow = windows.at(-1)!;
  expect(labDeps!.windowOf(host.webContents)).toBeNull();
  expect(labDeps!.windowOf(appWindow.webContents)).toBe(appWindow);
  const focused = appWindow.focused;
  app.emit('second-instance', {}, [], '/');
  expect(appWindow.focused).toBe(focused + 1);
  expect(host.show).not.toHaveBeenCalled();
  // The app's window cannot speak for the host page.
  const posted = child.posted.length;
  ipcOn.get(CHANNELS.gpuHostLost)!({ sender: appWindow.webContents, senderFrame: { url: hostPageUrl, parent: null } }, 'a lie');
  expect(child.posted).toHaveLength(posted);
  expect(host.destroyed).toBe(false);
});

test("Chromium's GPU process or the host page going tells the trainer, and the next probe opens a fresh window", () => {
  const child = runningTrainer();
  const host = hostWindows.at(-1)!;
  expect(host.destroyed).toBe(false);
  app.emit('child-process-gone', {}, { type: 'Utility', reason: 'crashed', exitCode: 1 });
  expect(host.destroyed).toBe(false);
  app.emit('child-process-gone', {}, { type: 'GPU', reason: 'crashed', exitCode: 139 });
  expect(child.posted.at(-1)?.message).toEqual({ type: 'gpu-host-lost', reason: "Chromium's GPU process ended (reason: crashed, exit code 139)" });
  expect(host.destroyed).toBe(true);
  const fresh = openHost(child, 3);
  expect(fresh).not.toBe(host);
  fresh.webContents.emit('render-process-gone', {}, { reason: 'oom', exitCode: 0 });
  expect(child.posted.at(-1)?.message).toEqual({ type: 'gpu-host-lost', reason: 'the GPU host page crashed (reason: oom, exit code 0)' });
  expect(fresh.destroyed).toBe(true);
  const third = openHost(child, 4);
  ipcOn.get(CHANNELS.gpuHostLost)!(fromHostPage(third), 'the GPU device was lost (unknown: reset)');
  expect(child.posted.at(-1)?.message).toEqual({ type: 'gpu-host-lost', reason: 'the GPU device was lost (unknown: reset)' });
  expect(third.destroyed).toBe(true);
});

test("a trainer that exits takes the GPU host it used with it: a restarted trainer's probe gets a fresh window, and answers reach only the trainer that asked", () => {
  const child = runningTrainer();
  child.emit('message', { type: 'gpu-host-probe', id: 1 });
  const host = hostWindows.at(-1)!;
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const posted = child.posted.length;
  child.exit(1);
  expect(host.destroyed).toBe(true);
  const next = runningTrainer();
  expect(next).not.toBe(child);
  // The dead trainer's page reporting late reaches no one.
  ipcOn.get(CHANNELS.gpuHostReport)!(fromHostPage(host), { ok: true, adapter: ADAPTER });
  expect(next.posted).toEqual([]);
  expect(child.posted).toHaveLength(posted);
  const fresh = openHost(next, 1);
  expect(fresh).not.toBe(host);
});

test('closing the last app window quits, although the hidden host window is still open (no window-all-closed then); not on macOS', () => {
  // The host the trainer uses (the previous test's).
  const host = hostWindows.at(-1)!;
  expect(host.destroyed).toBe(false);
  const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
  app.quit.mockClear();
  try {
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    windows.at(-1)!.emit('closed');
    expect(app.quit).not.toHaveBeenCalled();
    // macOS: the app stays, and a launch opens a window again.
    app.emit('second-instance', {}, [], '/');
    Object.defineProperty(process, 'platform', { ...platform, value: 'linux' });
    app.emit('second-instance', {}, [], '/');
    expect(app.quit).not.toHaveBeenCalled();
    windows.at(-1)!.emit('closed');
    expect(app.quit).toHaveBeenCalledTimes(1);
    // The quit, not the window's closing, closes the host: after the trainer's stop.
    expect(host.destroyed).toBe(false);
  } finally {
    Object.defineProperty(process, 'platform', platform);
  }
  // For the next test: an app window again.
  app.emit('second-instance', {}, [], '/');
  expect(windows.at(-1)!.destroyed).toBe(false);
});

test("quitting keeps the GPU host until the trainer has stopped (it checkpoints a run by reading the weights from it), then quits", async () => {
  const child = runningTrainer();
  const host = hostWindows.at(-1)!;
  expect(host.destroyed).toBe(false);
  child.exitsOnShutdown = false;
  app.quit.mockClear();
  const shutdowns = () => child.posted.filter((p) => (p.message as { type?: unknown }).type === 'shutdown').length;
  const event = { preventDefault: vi.fn() };
  app.emit('before-quit', event);
  // Electron would close every window, the host's too, right after an unprevented 'before-quit'.
  expect(event.preventDefault).toHaveBeenCalled();
  expect(shutdowns()).toBe(1);
  expect(windows.at(-1)!.hide).toHaveBeenCalled();
  // Another quit meanwhile (e.g. the last window closing) waits on the same stop.
  const again = { preventDefault: vi.fn() };
  app.emit('before-quit', again);
  expect(again.preventDefault).toHaveBeenCalled();
  expect(shutdowns()).toBe(1);
  await new Promise((done) => setTimeout(done, 30));
  expect(host.destroyed).toBe(false);
  expect(app.quit).not.toHaveBeenCalled();
  child.exit(0);
  await vi.waitFor(() => expect(app.quit).toHaveBeenCalledTimes(1));
  expect(host.destroyed).toBe(true);
  expect(app.exit).not.toHaveBeenCalled();
  // The quit's own 'before-quit' then has nothing to wait for.
  const last = { preventDefault: vi.fn() };
  app.emit('before-quit', last);
  expect(last.preventDefault).not.toHaveBeenCalled();
  // A trainer's probe during the rest of the quit opens no window.
  const late = runningTrainer();
  const opened = hostWindows.length;
  late.emit('message', { type: 'gpu-host-probe', id: 9 });
  expect(hostWindows).toHaveLength(opened);
  expect(late.posted.at(-1)?.message).toMatchObject({ type: 'gpu-host-probe', id: 9, report: { ok: false, reason: 'the app is quitting' } });
});

test('quitting waits for the trainer to stop, then quits', async () => {
  runningTrainer();
  app.quit.mockClear();
  const event = { preventDefault: vi.fn() };
  app.emit('will-quit', event);
  expect(event.preventDefault).toHaveBeenCalled();
  await vi.waitFor(() => expect(app.quit).toHaveBeenCalled());
  expect(app.exit).not.toHaveBeenCalled();
});

test('a trainer that has not exited 5 s after the kill does not keep the app alive: main exits', async () => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  app.quit.mockClear();
  const trainers = forked.length;
  labDeps!.trainer.restart();
  const child = forked.at(-1)!;
  expect(forked).toHaveLength(trainers + 1);
  child.obeys = false;
  const kill = vi.spyOn(child, 'kill');
  vi.useFakeTimers();
  app.emit('will-quit', { preventDefault: () => undefined });
  await vi.advanceTimersByTimeAsync(15_000 + 4_000);
  expect(kill).toHaveBeenCalledTimes(1);
  expect(app.exit).not.toHaveBeenCalled();
  await vi.advanceTimersByTimeAsync(2_000);
  expect(app.exit).toHaveBeenCalledWith(1);
  expect(app.quit).not.toHaveBeenCalled();
  expect(process.kill).not.toHaveBeenCalled();
  // Electron's SIGKILL lands at last: later tests start with no trainer running.
  child.exit(137);
});

test('a relaunch while quitting opens no window but starts the app again once it has exited, once', () => {
  const before = windows.length;
  expect(app.relaunch).not.toHaveBeenCalled();
  app.emit('before-quit', { preventDefault: () => undefined });
  app.emit('second-instance', {}, [], '/');
  app.emit('second-instance', {}, [], '/');
  expect(windows).toHaveLength(before);
  expect(app.relaunch).toHaveBeenCalledTimes(1);
});

test('a second instance says on stderr that the app is already running, and quits without starting a trainer', async () => {
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  app.quit.mockClear();
  const trainers = forked.length;
  const opened = windows.length;
  app.requestSingleInstanceLock.mockReturnValueOnce(false);
  vi.resetModules();
  await import('../index');
  await new Promise((done) => setTimeout(done, 20));
  expect(error).toHaveBeenCalledWith(expect.stringMatching(/^Face CNN Lab is already running \(or still closing\): its window was brought to the front/));
  expect(app.quit).toHaveBeenCalled();
  expect(forked).toHaveLength(trainers);
  expect(windows).toHaveLength(opened);
});
