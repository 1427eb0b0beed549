// main's wiring (index.ts) with Electron faked: a relaunch while no window is open opens one,
// and quitting never waits forever on a trainer that will not stop (it would keep the
// single-instance lock, and every later launch would be handed to a process with no window).
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, expect, test, vi } from 'vitest';

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

let nextPid = 7000;
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

test('a trainer that ignores the shutdown, the kill and SIGKILL does not keep the app alive: main exits', async () => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  app.quit.mockClear();
  labDeps!.trainer.restart();
  const child = forked.at(-1)!;
  expect(forked).toHaveLength(2);
  child.obeys = false;
  const realKill = process.kill.bind(process);
  const sigkilled: Array<number | string | undefined> = [];
  vi.spyOn(process, 'kill').mockImplementation((pid: number, signal?: string | number) => {
    if (pid !== child.pid) return realKill(pid, signal);
    sigkilled.push(signal);
    return true;
  });
  vi.useFakeTimers();
  app.emit('will-quit', { preventDefault: () => undefined });
  await vi.advanceTimersByTimeAsync(60_000);
  expect(sigkilled).toEqual(['SIGKILL']);
  expect(app.exit).toHaveBeenCalledWith(1);
  expect(app.quit).not.toHaveBeenCalled();
});

test('a relaunch while quitting opens no window (the quit goes on)', () => {
  const before = windows.length;
  app.emit('before-quit', { preventDefault: () => undefined });
  app.emit('second-instance', {}, [], '/');
  expect(windows).toHaveLength(before);
});
