// Session ownership on its own, with stand-in sessions: one run at a time (a start racing another is refused), a
// start that follows a run's end waits for it, and the ended run is kept for its maps until the next start.
import { describe, expect, test } from 'vitest';
import { GpuDeviceError } from '../../../../models/webgpu-device';
import type { RunOutcome } from '../../training/session';
import { SessionOwner, type OwnedSession } from '../session-owner';

/** A session whose training ends when the test says. */
class FakeSession implements OwnedSession {
  hasEnded = false;
  disposed = 0;
  private finish!: (outcome: RunOutcome) => void;
  private fail!: (error: unknown) => void;
  private readonly done = new Promise<RunOutcome>((resolve, reject) => {
    this.finish = resolve;
    this.fail = reject;
  });
  constructor(readonly run: { id: string }) {}
  train(): Promise<RunOutcome> {
    return this.done;
  }
  dispose(): void {
    this.disposed++;
  }
  end(): void {
    this.hasEnded = true;
    this.finish({ runId: this.run.id, state: 'finished', step: 10 });
  }
  crash(error: unknown, reachedEnd = false): void {
    this.hasEnded = reachedEnd;
    this.fail(error);
  }
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const noPrepare = async () => {};

describe('SessionOwner', () => {
  test('nothing owned: no run to stop, nothing to view, not busy', async () => {
    const owner = new SessionOwner<FakeSession>();
    expect(owner.current).toBeNull();
    expect(owner.viewable).toBeNull();
    expect(owner.busy).toBe(false);
    expect(owner.training).toBeNull();
    expect(() => owner.need('pause')).toThrow(expect.objectContaining({ code: 'no-run', message: expect.stringContaining('nothing to pause') }));
  });

  test('a start while another is still opening is refused; once it trains, a start names the run training', async () => {
    const owner = new SessionOwner<FakeSession>();
    const opening = deferred<FakeSession>();
    const first = owner.start(() => opening.promise, noPrepare);
    expect(owner.busy).toBe(true);
    expect(owner.current).toBeNull();
    await expect(owner.start(async () => new FakeSession({ id: 'b' }), noPrepare)).rejects.toMatchObject({ code: 'busy', message: expect.stringContaining('a run is starting') });
    const a = new FakeSession({ id: 'a' });
    opening.resolve(a);
    expect(await first).toBe(a);
    expect(owner.current).toBe(a);
    expect(owner.need('stop')).toBe(a);
    await expect(owner.start(async () => new FakeSession({ id: 'c' }), noPrepare)).rejects.toMatchObject({ code: 'busy', message: expect.stringContaining('run a is training') });
  });

  test('prepare sees the new session as the current one, before it trains', async () => {
    const owner = new SessionOwner<FakeSession>();
    const a = new FakeSession({ id: 'a' });
    let seen: FakeSession | null = null;
    await owner.start(
      async () => a,
      async (session) => {
        seen = owner.current;
        expect(owner.training).toBeNull();
        expect(session).toBe(a);
      },
    );
    expect(seen).toBe(a);
    expect(owner.training).not.toBeNull();
  });

  test('a failed open leaves nothing owned, and the next start goes ahead', async () => {
    const owner = new SessionOwner<FakeSession>();
    await expect(owner.start(() => Promise.reject(new Error('no such run')), noPrepare)).rejects.toThrow('no such run');
    expect(owner.busy).toBe(false);
    const b = new FakeSession({ id: 'b' });
    expect(await owner.start(async () => b, noPrepare)).toBe(b);
  });

  test('an ended run stays viewable, undisposed, until the next start frees it', async () => {
    const owner = new SessionOwner<FakeSession>();
    const a = new FakeSession({ id: 'a' });
    await owner.start(async () => a, noPrepare);
    a.end();
    expect(await owner.training).toMatchObject({ runId: 'a', state: 'finished' });
    expect(owner.current).toBeNull();
    expect(owner.viewable).toBe(a);
    expect(a.disposed).toBe(0);
    const b = new FakeSession({ id: 'b' });
    await owner.start(async () => b, noPrepare);
    expect(a.disposed).toBe(1);
    expect(owner.viewable).toBe(b);
    owner.releaseEnded(); // nothing ended: b is untouched
    expect(b.disposed).toBe(0);
  });

  test('a start right after a run sent its end state waits for it to finish instead of being refused', async () => {
    const owner = new SessionOwner<FakeSession>();
    const a = new FakeSession({ id: 'a' });
    await owner.start(async () => a, noPrepare);
    a.hasEnded = true; // its end state is out; train() has not settled yet
    const b = new FakeSession({ id: 'b' });
    const next = owner.start(async () => b, noPrepare);
    a.end();
    expect(await next).toBe(b);
    expect(owner.current).toBe(b);
    expect(a.disposed).toBe(1); // kept as ended, then freed by b's start
  });

  test('a run that failed is disposed, not kept, and logged; a lost GPU likewise even if it had reached its end', async () => {
    const lines: string[] = [];
    const owner = new SessionOwner<FakeSession>((line) => lines.push(line));
    const a = new FakeSession({ id: 'a' });
    await owner.start(async () => a, noPrepare);
    a.crash(new Error('disk full'));
    expect(await owner.training).toBeUndefined();
    expect(owner.viewable).toBeNull();
    expect(a.disposed).toBe(1);
    const b = new FakeSession({ id: 'b' });
    await owner.start(async () => b, noPrepare);
    b.crash(new GpuDeviceError('device lost'), true);
    await owner.training;
    expect(owner.viewable).toBeNull();
    expect(b.disposed).toBe(1);
    expect(lines).toEqual(['run a failed: disk full', 'run b failed: device lost']);
  });
});
