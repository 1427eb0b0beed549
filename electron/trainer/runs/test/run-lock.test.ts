// The single-writer lock of a run (run.lock), and what listRuns makes of it.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, listRuns, openRun, RunError, type RunHandle, type RunInit } from '../run-store';

let scratch: string;
let counter = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'fcl-lock-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const init = (overrides: Partial<RunInit> = {}): RunInit => ({
  config: { model: 'tiny', activation: 'relu' },
  dataset: { name: 'orl_faces', source: '/data/orl_faces', hash: 'abc123', identities: 40, images: 400, synthetic: false },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  ...overrides,
});

async function newRun(overrides: Partial<RunInit> = {}): Promise<{ dataDir: string; run: RunHandle }> {
  const dataDir = join(scratch, `d${counter++}`);
  return { dataDir, run: await createRun(dataDir, init(overrides)) };
}

/** The pid of a process that has exited (and been reaped): nobody has it now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

async function lockJson(run: RunHandle): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(run.lockFile, 'utf8')) as Record<string, unknown>;
}

async function rejection(promise: Promise<unknown>): Promise<RunError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RunError)) throw new Error(`expected a RunError, got ${String(error)}`);
  return error;
}

describe('run lock', () => {
  it('acquire creates run.lock naming this process; release removes it', async () => {
    const { run } = await newRun();
    expect(await run.lockHolder()).toBeNull();
    const before = Date.now();
    const release = await run.acquireLock();
    expect(release.warnings).toEqual([]);
    const json = await lockJson(run);
    expect(json).toMatchObject({ pid: process.pid, host: hostname() });
    expect(Date.parse(json['startedAt'] as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(await run.lockHolder()).toEqual({ pid: process.pid, host: hostname(), startedAt: json['startedAt'], alive: true });
    await release();
    expect(await readdir(run.dir)).not.toContain('run.lock');
    expect(await run.lockHolder()).toBeNull();
    await release(); // twice is harmless
    // and it can be taken again
    const again = await run.acquireLock();
    expect(await run.lockHolder()).toMatchObject({ pid: process.pid });
    await again();
  });

  it('a second acquire while held (here: this same, live process) is refused, naming the holder', async () => {
    const { dataDir, run } = await newRun();
    const release = await run.acquireLock();
    const startedAt = (await lockJson(run))['startedAt'] as string;
    const other = await openRun(dataDir, run.id); // another handle, as a second trainer would have
    for (const handle of [other, run]) {
      const error = await rejection(handle.acquireLock());
      expect(error.kind).toBe('locked');
      expect(error.message).toMatch(
        new RegExp(`^Run ${run.id} is being trained by process ${process.pid} on ${hostname()} since ${startedAt.replace(/[.]/g, '\\.')}: stop it first \\(or wait for it to finish\\)`),
      );
    }
    expect((await lockJson(run))['startedAt']).toBe(startedAt); // untouched
    await release();
    const released = await other.acquireLock();
    await released();
  });

  it('a lock naming a dead process of this host is taken over, with a warning', async () => {
    const { run } = await newRun();
    const pid = deadPid();
    await writeFile(run.lockFile, JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-02T03:04:05.000Z' }));
    expect(await run.lockHolder()).toEqual({ pid, host: hostname(), startedAt: '2026-01-02T03:04:05.000Z', alive: false });
    const release = await run.acquireLock();
    expect(release.warnings).toHaveLength(1);
    expect(release.warnings[0]).toBe(`Run ${run.id} was locked by process ${pid} on ${hostname()} since 2026-01-02T03:04:05.000Z, which is no longer running: its lock was taken over`);
    expect(await run.lockHolder()).toMatchObject({ pid: process.pid, alive: true });
    expect((await readdir(run.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    await release();
    expect(await run.lockHolder()).toBeNull();
  });

  it.each([
    ['empty', ''],
    ['not JSON', '{"pid": 12'],
    ['JSON naming no process', '{"hello": "world"}'],
    ['binary garbage', '\u0000\u0001\u00ff'],
  ])('a garbage lock file (%s) is taken over, with a warning', async (_what, content) => {
    const { run } = await newRun();
    await writeFile(run.lockFile, content);
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(run.lockFile, minuteAgo, minuteAgo); // an old empty file is no lock being written
    expect(await run.lockHolder()).toBeNull();
    const release = await run.acquireLock();
    expect(release.warnings).toEqual([expect.stringMatching(new RegExp(`^The lock file of run ${run.id} could not be used \\(.+\\): it was replaced$`))]);
    expect(await lockJson(run)).toMatchObject({ pid: process.pid, host: hostname() });
    await release();
  });

  it('an empty lock file just created is given time to be filled (another trainer writing it)', async () => {
    const { run } = await newRun();
    await writeFile(run.lockFile, '');
    const startedAt = new Date().toISOString();
    const filled = new Promise<void>((resolve, reject) => {
      setTimeout(() => writeFile(run.lockFile, JSON.stringify({ pid: process.pid, host: hostname(), startedAt })).then(resolve, reject), 150);
    });
    const error = await rejection(run.acquireLock());
    await filled;
    expect(error.kind).toBe('locked');
    expect(error.message).toContain(`since ${startedAt}`);
  });

  it('a lock from another host is respected unless forced', async () => {
    const { run } = await newRun();
    const foreign = { pid: 4242, host: 'gpu-box.example', startedAt: '2026-02-03T04:05:06.000Z' };
    await writeFile(run.lockFile, JSON.stringify(foreign));
    expect(await run.lockHolder()).toEqual({ ...foreign, alive: null });
    const error = await rejection(run.acquireLock());
    expect(error.kind).toBe('locked');
    expect(error.message).toMatch(/^Run .* is being trained by process 4242 on gpu-box\.example since 2026-02-03T04:05:06\.000Z: stop it first \(or wait for it to finish\)\. .*force/);
    expect(await lockJson(run)).toEqual(foreign);
    const release = await run.acquireLock({ force: true });
    expect(release.warnings).toEqual([expect.stringMatching(/process 4242 on gpu-box\.example .*another host: its lock was taken over by force/)]);
    expect(await lockJson(run)).toMatchObject({ pid: process.pid, host: hostname() });
    await release();
  });

  it('force does not take a lock from a live process of this host', async () => {
    const { run } = await newRun();
    const release = await run.acquireLock();
    expect((await rejection(run.acquireLock({ force: true }))).kind).toBe('locked');
    await release();
  });

  it("release does not delete someone else's lock", async () => {
    const { run } = await newRun();
    const release = await run.acquireLock();
    // Meanwhile (our lock was judged stale, say) another process took it over.
    const theirs = JSON.stringify({ pid: 4242, host: 'gpu-box.example', startedAt: '2026-02-03T04:05:06.000Z' });
    await writeFile(run.lockFile, theirs);
    await release();
    expect(await readFile(run.lockFile, 'utf8')).toBe(theirs);
    // Nor a lock of this same process taken by another acquisition.
    await rm(run.lockFile);
    const first = await run.acquireLock();
    await rm(run.lockFile);
    const second = await run.acquireLock();
    const secondLock = await readFile(run.lockFile, 'utf8');
    await first();
    expect(await readFile(run.lockFile, 'utf8')).toBe(secondLock);
    await second();
    expect(await run.lockHolder()).toBeNull();
  });

  /** The claim file of slot n for the lock file as it is now (same naming as run-lock.ts). */
  async function claimFile(run: RunHandle, n: number): Promise<string> {
    const info = await stat(run.lockFile, { bigint: true });
    const id = createHash('sha256').update(`${info.dev}:${info.ino}:`).update(await readFile(run.lockFile, 'utf8')).digest('hex').slice(0, 16);
    return join(run.dir, `.run.lock.${id}.${n}.claim`);
  }

  it('a take-over left half-way by a dead process does not block the next one, and its claim is removed', async () => {
    const { run } = await newRun();
    await writeFile(run.lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: '2026-01-02T03:04:05.000Z' }));
    await writeFile(await claimFile(run, 0), JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: '2026-01-02T03:04:06.000Z' }));
    await writeFile(await claimFile(run, 1), '{"pid": 1'); // and one that died while writing it
    const old = new Date(Date.now() - 60_000);
    await utimes(await claimFile(run, 1), old, old);
    const release = await run.acquireLock();
    expect(release.warnings).toEqual([expect.stringMatching(/which is no longer running: its lock was taken over$/)]);
    expect(await lockJson(run)).toMatchObject({ pid: process.pid, host: hostname() });
    expect((await readdir(run.dir)).filter((n) => n.includes('run.lock'))).toEqual(['run.lock']);
    await release();
  });

  it('while a live process is taking over an abandoned lock, others are refused, naming it', async () => {
    const { run } = await newRun();
    const stale = JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: '2026-01-02T03:04:05.000Z' });
    await writeFile(run.lockFile, stale);
    const startedAt = new Date().toISOString();
    await writeFile(await claimFile(run, 0), JSON.stringify({ pid: process.pid, host: hostname(), startedAt }));
    const error = await rejection(run.acquireLock());
    expect(error.kind).toBe('locked');
    expect(error.message).toContain(`is being trained by process ${process.pid} on ${hostname()} since ${startedAt}`);
    expect(await readFile(run.lockFile, 'utf8')).toBe(stale); // left to that process
  });

  it('two acquisitions racing in one process: exactly one wins', async () => {
    const { dataDir, run } = await newRun();
    const other = await openRun(dataDir, run.id);
    const results = await Promise.allSettled([run.acquireLock(), other.acquireLock(), run.acquireLock()]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'RunError', kind: 'locked' });
    await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value();
  });
});

type RacerMessage =
  | { readonly type: 'ready' | 'released'; readonly pid: number }
  | { readonly type: 'result'; readonly pid: number; readonly won: boolean; readonly kind?: string | null; readonly message?: string };

describe('run lock: processes taking over an abandoned lock together', () => {
  const RACERS = 8;
  const ROUNDS = 10;
  const racers: ChildProcess[] = [];
  const next = (child: ChildProcess, type: RacerMessage['type']): Promise<RacerMessage> =>
    new Promise((done, fail) => {
      const onMessage = (message: RacerMessage): void => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        done(message);
      };
      const onExit = (code: number | null): void => fail(new Error(`racer ${child.pid} exited (${code}) before '${type}'`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });

  beforeAll(async () => {
    // Real processes, started once (tsx start-up is slow on a loaded machine) and raced every round.
    const root = resolve(import.meta.dirname, '../../../..');
    for (let i = 0; i < RACERS; i++) {
      const child = fork(join(import.meta.dirname, 'lock-racer.ts'), [], { cwd: root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      racers.push(child);
    }
    await Promise.all(racers.map((child) => next(child, 'ready')));
  });

  afterAll(() => {
    for (const child of racers) if (child.connected) child.disconnect();
  });

  it(`exactly one of ${RACERS} wins, every round; the others are told which live process holds it`, async () => {
    const winners: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dir = await mkdtemp(join(scratch, 'race-'));
      const lockFile = join(dir, 'run.lock');
      // Half the rounds: a lock naming a dead process; half: an old garbage lock file.
      if (round % 2 === 0) await writeFile(lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: '2026-01-02T03:04:05.000Z' }));
      else {
        await writeFile(lockFile, '{"pid": 12');
        const minuteAgo = new Date(Date.now() - 60_000);
        await utimes(lockFile, minuteAgo, minuteAgo);
      }
      const results = racers.map((child) => next(child, 'result'));
      const at = Date.now() + 100;
      for (const child of racers) child.send({ type: 'race', dir, runId: `r${round}`, at });
      const outcome = (await Promise.all(results)) as Extract<RacerMessage, { type: 'result' }>[];
      const won = outcome.filter((r) => r.won);
      winners.push(won.length);
      const pids = racers.map((child) => child.pid);
      for (const lost of outcome.filter((r) => !r.won)) {
        expect(lost.kind).toBe('locked');
        const named = /^Run r\d+ is being trained by process (\d+) on /.exec(lost.message ?? '');
        expect(named, lost.message).not.toBeNull();
        expect(pids).toContain(Number(named?.[1]));
      }
      if (won.length === 1) {
        // The lock names the winner, and no claim or temp file is left beside it.
        expect(JSON.parse(await readFile(lockFile, 'utf8'))).toMatchObject({ pid: won[0]?.pid, host: hostname() });
        expect(await readdir(dir)).toEqual(['run.lock']);
      }
      const released = racers.map((child) => next(child, 'released'));
      for (const child of racers) child.send({ type: 'release' });
      await Promise.all(released);
      if (won.length === 1) expect(await readdir(dir)).toEqual([]);
    }
    expect(winners).toEqual(Array.from({ length: ROUNDS }, () => 1));
  });
});

describe('listRuns: interrupted from the lock', () => {
  it('a running run whose lock names a dead process is interrupted, even if run.json names a live one', async () => {
    const { dataDir, run } = await newRun();
    expect(run.record).toMatchObject({ state: 'running', pid: process.pid }); // run.json: this live process
    await writeFile(run.lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: new Date().toISOString() }));
    expect((await listRuns(dataDir))[0]).toMatchObject({ ok: true, id: run.id, interrupted: true });
  });

  it('a running run held by a live process is not interrupted, even if run.json names a dead one', async () => {
    const { dataDir, run } = await newRun();
    await writeFile(run.runFile, JSON.stringify({ ...run.record, pid: deadPid() }));
    expect((await listRuns(dataDir))[0]).toMatchObject({ interrupted: true }); // no lock: run.json decides, as before
    const release = await run.acquireLock();
    expect((await listRuns(dataDir))[0]).toMatchObject({ interrupted: false });
    await release();
  });

  it('a lock on another host: cannot tell, not interrupted; a run that is not running is never interrupted', async () => {
    const { dataDir, run } = await newRun();
    await writeFile(run.lockFile, JSON.stringify({ pid: 4242, host: 'gpu-box.example', startedAt: new Date().toISOString() }));
    expect((await listRuns(dataDir))[0]).toMatchObject({ interrupted: false });
    await run.updateRun({ state: 'stopped' });
    await writeFile(run.lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: new Date().toISOString() }));
    expect((await listRuns(dataDir))[0]).toMatchObject({ interrupted: false, record: { state: 'stopped' } });
  });
});
