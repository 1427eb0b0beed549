// The trainer's lifecycle in main (trainer-process.ts), with Electron's utilityProcess faked:
// a crash reports that process's last stderr lines, a restart is a fresh process that hears
// nothing stale, and grants go only to a running trainer.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { beforeEach, expect, test, vi } from 'vitest';

let nextPid = 4000;

class FakeChild extends EventEmitter {
  readonly stderr = new PassThrough();
  readonly pid = nextPid++;
  readonly posted: unknown[] = [];
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  kill(): boolean {
    this.exit(9);
    return true;
  }
  exit(code: number): void {
    this.stderr.end();
    this.emit('exit', code);
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
});

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((done) => setTimeout(done, 5));
};

test('a crash reports its code and its last stderr lines; a restart is a new process with a clean slate', async () => {
  trainer.start();
  trainer.start();
  expect(forked).toHaveLength(1);
  const first = forked[0]!;
  first.stderr.write('loading wasm\n');
  first.stderr.write('Error: tensor shape mismatch\n    at step (trainer.js:1:2)\n');
  first.exit(1);
  await until(() => exits.length === 1);
  // The pid tells a window whose exit this is (a restarted trainer's window must not take an older one's).
  expect(exits[0]).toEqual({ code: 1, lastError: 'loading wasm\nError: tensor shape mismatch\n    at step (trainer.js:1:2)', pid: first.pid });
  expect(trainer.running).toBe(false);

  trainer.restart();
  expect(forked).toHaveLength(2);
  expect(trainer.running).toBe(true);
  // Nothing is replayed to the new process: grants and ports belonged to the old one.
  expect(forked[1]!.posted).toEqual([]);
  forked[1]!.exit(134);
  await until(() => exits.length === 2);
  expect(exits[1]).toEqual({ code: 134, lastError: '', pid: forked[1]!.pid });
  expect(forked[1]!.pid).not.toBe(first.pid);
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

test('stop asks for a checkpointed shutdown, and kills a trainer that does not exit in time', async () => {
  trainer.start();
  const child = forked[0]!;
  child.postMessage = (message: unknown) => {
    child.posted.push(message);
  };
  await trainer.stop(20);
  expect(child.posted).toEqual([{ type: 'shutdown' }]);
  expect(trainer.running).toBe(false);
  await until(() => exits.length === 1);
  expect(exits[0]?.code).toBe(9);
});
