// The trainer's lifecycle in main (trainer-process.ts), with Electron's utilityProcess faked:
// a crash reports that process's last words (its own fatal report, then stderr), a restart is
// a fresh process that hears nothing stale, grants go only to a running trainer, and a
// trainer that does not stop is killed by Electron's kill(), never by main signalling a pid.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { parseMainMessage } from '#protocol/parent-port';
import { grantFor } from '../grants';

// Above any pid_max (Linux allows at most 2^22): no fake pid can name a live process.
let nextPid = 5_000_000;

class FakeChild extends EventEmitter {
  readonly stderr = new PassThrough();
  private alivePid: number | undefined = nextPid++;
  readonly posted: unknown[] = [];
  /** The ports transferred with each posted message. */
  readonly transfers: unknown[][] = [];
  /** As Electron's: undefined once the process has exited. */
  get pid(): number | undefined {
    return this.alivePid;
  }
  postMessage(message: unknown, transfer: unknown[] = []): void {
    this.posted.push(message);
    this.transfers.push(transfer);
  }
  /** Electron's kill(): SIGTERM, then SIGKILL; such an exit reports code 0 on POSIX (Electron #44698/#44749). */
  kill(): boolean {
    this.exit(0);
    return true;
  }
  exit(code: number): void {
    // As Electron's ForkUtilityProcess: 'exit', then stderr loses every listener.
    this.alivePid = undefined;
    this.emit('exit', code);
    this.stderr.removeAllListeners();
  }
}

const forked: FakeChild[] = [];
vi.mock('electron', () => ({
  utilityProcess: {
    fork: vi.fn(() => {
      const child = new FakeChild();
      forked.push(child);
      return child;
    }),
  },
  MessageChannelMain: class {
    port1 = { name: 'port1' };
    port2 = { name: 'port2' };
  },
}));

const { TrainerProcess } = await import('../trainer-process');

let exits: Array<{ code: number; lastError: string; pid: number | null }>;
let trainer: InstanceType<typeof TrainerProcess>;
beforeEach(() => {
  forked.length = 0;
  // Each test's own list: an earlier test's trainer may still report its exit.
  const mine: typeof exits = [];
  exits = mine;
  trainer = new TrainerProcess((exit) => mine.push(exit), '/app/out/main/trainer.js');
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  // main never signals a process itself (Electron's kill() does, and reaps it): a call here is a bug.
  vi.spyOn(process, 'kill').mockImplementation(() => {
    throw new Error('process.kill called by main');
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Lets written stderr reach the listener. */
const settle = () => new Promise((done) => setTimeout(done, 10));

/** Polls until `condition` holds or `ms` have passed (far more than any wait in main: CI may be loaded). */
const until = async (condition: () => boolean, ms = 3_000) => {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((done) => setTimeout(done, 5));
};

test('a crash reports its code and its last stderr lines; a restart is a new process with a clean slate', async () => {
  trainer.start();
  trainer.start();
  expect(forked).toHaveLength(1);
  const first = forked[0]!;
  const firstPid = first.pid;
  first.stderr.write('loading wasm\n');
  first.stderr.write('Error: tensor shape mismatch\n    at step (trainer.js:1:2)\n');
  first.exit(1);
  await until(() => exits.length === 1);
  // The pid tells a window whose exit this is (a restarted trainer's window must not take an older one's).
  expect(exits[0]).toEqual({ code: 1, lastError: 'loading wasm\nError: tensor shape mismatch\n    at step (trainer.js:1:2)', pid: firstPid });
  expect(trainer.running).toBe(false);

  trainer.restart();
  expect(forked).toHaveLength(2);
  expect(trainer.running).toBe(true);
  // Nothing is replayed to the new process: grants and ports belonged to the old one.
  expect(forked[1]!.posted).toEqual([]);
  const secondPid = forked[1]!.pid;
  forked[1]!.exit(134);
  await until(() => exits.length === 2);
  expect(exits[1]).toEqual({ code: 134, lastError: '', pid: secondPid });
  expect(secondPid).not.toBe(firstPid);
});

test('restart leaves a running trainer alone', () => {
  trainer.start();
  trainer.restart();
  expect(forked).toHaveLength(1);
});

test('grants go to the running trainer only', () => {
  const grant = { type: 'grant', grant: 'a'.repeat(32), path: '/data/lfw', purpose: 'read' } as const;
  expect(trainer.grant(grant)).toBe(false);
  trainer.start();
  expect(trainer.grant(grant)).toBe(true);
  expect(forked[0]!.posted).toEqual([grant]);
  forked[0]!.exit(1);
  expect(trainer.grant(grant)).toBe(false);
});

test('a window gets one end of a new channel, the trainer the other', () => {
  const sent: unknown[] = [];
  const contents = { isDestroyed: () => false, postMessage: (...args: unknown[]) => sent.push(args) };
  trainer.connect(contents as never);
  expect(forked).toHaveLength(1);
  expect(sent).toEqual([['lab:port', null, [{ name: 'port2' }]]]);
  const destroyed = { isDestroyed: () => true, postMessage: () => sent.push('no') };
  trainer.connect(destroyed as never);
  expect(sent).toHaveLength(1);
});

test("a trainer's messages go first to onMessage, with a link that posts (ports transferred) to that very process only", async () => {
  const seen: unknown[] = [];
  const links: Array<{ post(message: unknown, transfer?: never[]): boolean }> = [];
  const gone: unknown[] = [];
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const withBroker = new TrainerProcess(() => undefined, '/app/out/main/trainer.js', {
    stderrDrainMs: 0,
    onMessage: (message, from) => {
      seen.push(message);
      links.push(from as never);
      if ((message as { type?: unknown }).type === 'boom') throw new Error('a bug in the handler');
      return (message as { taken?: unknown }).taken === true;
    },
    onProcessExit: (link) => gone.push(link),
  });
  withBroker.start();
  const child = forked[0]!;
  // Taken: main's own handling never sees it (were it not, this would be logged as a refusal).
  child.emit('message', { type: 'error', message: 'taken', taken: true });
  // Not taken: main's own handling still sees it (a refusal from the trainer is logged).
  child.emit('message', { type: 'error', message: 'bad grant' });
  expect(seen).toEqual([{ type: 'error', message: 'taken', taken: true }, { type: 'error', message: 'bad grant' }]);
  expect(error).toHaveBeenCalledTimes(1);
  expect(error).toHaveBeenLastCalledWith('Face CNN Lab trainer refused a message from main: bad grant');
  // A throwing handler is logged, not an uncaught exception in main.
  expect(() => child.emit('message', { type: 'boom' })).not.toThrow();
  expect(error).toHaveBeenLastCalledWith(expect.stringMatching(/^Face CNN Lab: handling a message from the trainer failed: Error: a bug in the handler/));
  const port = { name: 'port1' };
  expect(links[0]!.post({ type: 'gpu-core', id: 2 }, [port] as never[])).toBe(true);
  expect(child.posted.at(-1)).toEqual({ type: 'gpu-core', id: 2 });
  expect(child.transfers.at(-1)).toEqual([port]);
  // Once it has exited, its link sends nothing, not even to the process started after it.
  child.exit(1);
  expect(gone).toEqual([links[0]]);
  withBroker.restart();
  expect(forked).toHaveLength(2);
  expect(links[0]!.post({ type: 'gpu-host-probe', id: 3, report: {} })).toBe(false);
  expect(child.posted).toHaveLength(1);
  expect(forked[1]!.posted).toEqual([]);
});

test('stop asks for a checkpointed shutdown, and kills a trainer that does not exit in time', async () => {
  trainer.start();
  const child = forked[0]!;
  const kill = vi.spyOn(child, 'kill');
  expect(await trainer.stop(20)).toBe(true);
  expect(child.posted).toEqual([{ type: 'shutdown' }]);
  expect(kill).toHaveBeenCalledTimes(1);
  expect(trainer.running).toBe(false);
  await until(() => exits.length === 1);
  expect(exits[0]?.code).toBe(0);
  expect(process.kill).not.toHaveBeenCalled();
});

test('a trainer that exits on its shutdown message is not killed', async () => {
  trainer.start();
  const child = forked[0]!;
  const kill = vi.spyOn(child, 'kill');
  child.postMessage = (message: unknown) => {
    child.posted.push(message);
    setTimeout(() => child.exit(0), 5);
  };
  expect(await trainer.stop(10_000)).toBe(true);
  expect(kill).not.toHaveBeenCalled();
});

test("a trainer that outlives the kill's SIGTERM is waited for while Electron SIGKILLs and reaps it; main signals nothing", async () => {
  trainer.start();
  const child = forked[0]!;
  // A trainer stuck in a step swallows the SIGTERM; Electron's SIGKILL ends it a while later.
  child.kill = () => {
    setTimeout(() => child.exit(0), 100);
    return true;
  };
  expect(await trainer.stop(20, 10_000)).toBe(true);
  expect(trainer.running).toBe(false);
  expect(process.kill).not.toHaveBeenCalled();
});

test('stop gives up about 5 s after the kill when the trainer has not exited (main then exits the app itself)', async () => {
  vi.useFakeTimers();
  trainer.start();
  const child = forked[0]!;
  const kill = vi.spyOn(child, 'kill').mockImplementation(() => true);
  let result: boolean | undefined;
  void trainer.stop().then((stopped) => (result = stopped));
  await vi.advanceTimersByTimeAsync(15_000);
  expect(kill).toHaveBeenCalledTimes(1);
  await vi.advanceTimersByTimeAsync(4_900);
  expect(result).toBeUndefined();
  await vi.advanceTimersByTimeAsync(200);
  expect(result).toBe(false);
  expect(trainer.running).toBe(true);
  expect(process.kill).not.toHaveBeenCalled();
  // A second stop is the same stop: no second kill.
  expect(await trainer.stop()).toBe(false);
  expect(kill).toHaveBeenCalledTimes(1);
});

test("a crash's own report over the parent port is shown, even though its stderr arrives after 'exit' (Electron drops it)", async () => {
  trainer.start();
  const child = forked[0]!;
  const pid = child.pid;
  child.stderr.write('loading wasm\n');
  await settle();
  const stack = "TypeError: Cannot read properties of undefined (reading 'shape')\n    at step (trainer.js:10:5)";
  child.emit('message', { type: 'fatal', kind: 'uncaughtException', message: stack });
  child.exit(1);
  // The dying stack trace on stderr comes after 'exit', when Electron has removed the listeners.
  await settle();
  child.stderr.write(`${stack}\n`);
  child.stderr.end();
  await until(() => exits.length === 1);
  expect(exits[0]?.code).toBe(1);
  expect(exits[0]?.pid).toBe(pid);
  const text = exits[0]!.lastError;
  // The cause, the way out, the stack; the stderr lines that came in time stay as an extra.
  expect(text).toMatch(/did not handle/);
  expect(text).toMatch(/Restart the trainer/);
  expect(text).toContain(stack);
  expect(text).toContain('loading wasm');
});

test("a malformed report from the trainer is not shown as one (stderr's lines are)", async () => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  trainer.start();
  const child = forked[0]!;
  child.stderr.write('Error: real cause\n');
  await settle();
  child.emit('message', { type: 'fatal', message: 42 });
  child.exit(1);
  await until(() => exits.length === 1);
  expect(exits[0]?.lastError).toBe('Error: real cause');
});

test("a V8 fatal error ('error' event) is reported like a crash, with its cause and the way out, instead of throwing in main", async () => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  trainer.start();
  const child = forked[0]!;
  const report = JSON.stringify({ header: { event: 'Allocation failed - JavaScript heap out of memory' }, javascriptStack: { message: 'No stack.', stack: ['Unavailable.'] } });
  // Electron emits 'error' and then, whatever happened to it, 'exit'.
  expect(() => child.emit('error', 'FatalError', 'Reached heap limit', report)).not.toThrow();
  child.exit(133);
  await until(() => exits.length === 1);
  const text = exits[0]!.lastError;
  expect(exits[0]?.code).toBe(133);
  expect(text).toMatch(/fatal error/i);
  expect(text).toContain('Reached heap limit');
  expect(text).toContain('Allocation failed - JavaScript heap out of memory');
  expect(text).toMatch(/out of memory/);
  expect(text).toMatch(/Restart the trainer/);
});

test("stderr written after 'exit' is still caught, though Electron removed every listener by then (best effort)", async () => {
  trainer.start();
  const child = forked[0]!;
  child.exit(1);
  // The pipe's chunks come as later events, as from Electron's socket.
  await settle();
  child.stderr.write('RangeError: Invalid array length\n    at grow (trainer.js:3:4)\n');
  child.stderr.end();
  await until(() => exits.length === 1);
  expect(exits[0]?.lastError).toBe('RangeError: Invalid array length\n    at grow (trainer.js:3:4)');
});

test('a crash whose stderr ended before its exit is reported at once, not after the drain wait', async () => {
  // A drain far longer than until's wait: only a report that skips it can arrive in time.
  const mine: typeof exits = [];
  const slowDrain = new TrainerProcess((exit) => mine.push(exit), '/app/out/main/trainer.js', { stderrDrainMs: 60_000 });
  slowDrain.start();
  const child = forked[0]!;
  child.stderr.end('Error: early\n');
  await settle();
  child.exit(1);
  await until(() => mine.length === 1);
  expect(mine).toHaveLength(1);
  expect(mine[0]?.lastError).toBe('Error: early');
});

test('the drain wait ends a report whose stderr never ends', async () => {
  const mine: typeof exits = [];
  const quickDrain = new TrainerProcess((exit) => mine.push(exit), '/app/out/main/trainer.js', { stderrDrainMs: 20 });
  quickDrain.start();
  const child = forked[0]!;
  child.stderr.write('Error: open-ended\n');
  await settle();
  child.exit(1);
  await until(() => mine.length === 1);
  expect(mine[0]?.lastError).toBe('Error: open-ended');
});

test("what main posts to the trainer (connect, grant, shutdown) is what the trainer's parent port accepts", async () => {
  const contents = { isDestroyed: () => false, postMessage: () => undefined };
  trainer.connect(contents as never);
  const child = forked[0]!;
  expect(trainer.grant(grantFor('/data/lfw', 'read').message)).toBe(true);
  expect(trainer.grant(grantFor('/exports', 'write').message)).toBe(true);
  expect(await trainer.stop(20)).toBe(true);
  expect(child.posted.map((message) => (message as { type: string }).type)).toEqual(['connect', 'grant', 'grant', 'shutdown']);
  child.posted.forEach((message, i) => {
    expect(parseMainMessage(message, child.transfers[i]!.length > 0), JSON.stringify(message)).toEqual({ ok: true, message });
  });
});
