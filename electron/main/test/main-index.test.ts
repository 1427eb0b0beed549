// main's wiring (index.ts) with Electron faked: a relaunch while no window is open opens one,
// a relaunch while quitting starts the app again after the quit, a second instance says why it
// quits, and quitting never waits forever on a trainer that will not stop (it would keep the
// single-instance lock, and every later launch would be handed to a process with no window).
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';

class FakeWindow extends EventEmitter {
  readonly webContents = { isDestroyed: () => false, send: vi.fn() };
  focused = 0;
  isDestroyed = () => false;
  isMinimized = () => false;
  restore = vi.fn();
  show = vi.fn();
  loadURL = vi.fn(async () => undefined);
  loadFile = vi.fn(async () => undefined);
  focus(): void {
    this.focused++;
  }
}

// Above any pid_max (Linux allows at most 2^22): no fake pid can name a live process.
let nextPid = 5_000_000;
class FakeChild extends EventEmitter {
  readonly stderr = new PassThrough();
  pid: number | undefined = nextPid++;
  /** What the fake trainer does with main's shutdown message and kill (SIGTERM). */
  obeys = true;
  postMessage(message: unknown): void {
    if ((message as { type?: unknown }).type === 'shutdown' && this.obeys) setTimeout(() => this.exit(0), 5);
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

const windows: FakeWindow[] = [];
const forked: FakeChild[] = [];
const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  enableSandbox: vi.fn(),
  requestSingleInstanceLock: vi.fn(() => true),
  whenReady: () => Promise.resolve(),
  getPath: () => '/home/user/Documents',
  quit: vi.fn(),
  exit: vi.fn(),
  relaunch: vi.fn(),
});
let labDeps: { trainer: { restart(): void; running: boolean } } | null = null;

vi.mock('electron', () => ({
  app,
  BrowserWindow: vi.fn(function () {
    const win = new FakeWindow();
    windows.push(win);
    return win;
  }),
  dialog: {},
  ipcMain: { on: vi.fn(), handle: vi.fn() },
  session: { defaultSession: {} },
  utilityProcess: {
    fork: vi.fn(() => {
      const child = new FakeChild();
      forked.push(child);
      return child;
    }),
  },
  MessageChannelMain: class {},
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
  // main never signals a process itself (Electron's kill() does, and reaps it): a call here is a bug.
  vi.spyOn(process, 'kill').mockImplementation(() => {
    throw new Error('process.kill called by main');
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

test('a second launch focuses the open window, or opens one when there is none', () => {
  app.emit('second-instance', {}, [], '/');
  expect(windows).toHaveLength(1);
  expect(windows[0]!.focused).toBe(1);
  windows[0]!.emit('closed');
  // All windows closed (macOS keeps the app running; or a window that failed to open).
  app.emit('second-instance', {}, [], '/');
  expect(windows).toHaveLength(2);
});

test('quitting waits for the trainer to stop, then quits', async () => {
  expect(forked).toHaveLength(1);
  const event = { preventDefault: vi.fn() };
  app.emit('will-quit', event);
  expect(event.preventDefault).toHaveBeenCalled();
  await vi.waitFor(() => expect(app.quit).toHaveBeenCalled());
  expect(app.exit).not.toHaveBeenCalled();
});

test('a trainer that has not exited 5 s after the kill does not keep the app alive: main exits', async () => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  app.quit.mockClear();
  labDeps!.trainer.restart();
  const child = forked.at(-1)!;
  expect(forked).toHaveLength(2);
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
