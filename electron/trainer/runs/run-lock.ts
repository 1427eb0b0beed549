// One writer per run: <runDir>/run.lock names the process that trains the run.
//
// The lock is created with O_EXCL (open 'wx'), so of two trainers starting together
// exactly one creates it; it holds JSON { pid, host, startedAt, token }. A lock whose
// process is gone (same host: process.kill(pid, 0) fails with ESRCH) or whose file
// cannot be read is taken over; a lock of a live process is never taken. A lock from
// another host cannot be checked from here and is respected unless `force` is given.
//
// Taking over is atomic among any number of processes: each abandoned lock (told apart
// by its file's device, inode and content) has claim files beside it,
// .run.lock.<id>.<n>.claim, created with O_EXCL, so only one process gets slot n. Its
// creator checks that run.lock is still that abandoned lock and renames its claim (which
// already holds its own lock) over it. Only a claimer may replace an abandoned lock, and
// claiming comes before checking, so the check holds until the rename. A claimer that
// died half-way leaves its slot behind: the next slot is used then, and the winner
// removes the ones it skipped. (A forced take-over of another host's lock cannot be made
// safe against that process releasing it meanwhile: force says it no longer runs.)
//
// The token (random, per acquisition) tells this lock apart from another one of the same
// process (two handles of one run in one process), so a release never removes a lock
// that is no longer ours.
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { RunError, writeFailed } from './errors';

export const LOCK_FILE = 'run.lock';

const lockSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string().min(1),
  startedAt: z.iso.datetime(),
  token: z.string().optional(),
});
type LockContent = z.infer<typeof lockSchema>;

/** Who holds a run's lock. */
export interface RunLockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO time the lock was taken. */
  readonly startedAt: string;
  /** Whether the process still runs; null when it is on another host (cannot be checked from here). */
  readonly alive: boolean | null;
}

export interface AcquireLockOptions {
  /** Take over a lock held by a process on another host, whose liveness cannot be checked from here. */
  readonly force?: boolean;
}

/** Releases the lock (only if it is still ours; a second call does nothing). */
export type ReleaseLock = (() => Promise<void>) & {
  /** Set when a stale, unreadable or (with force) foreign lock was taken over: tell the user. */
  readonly warnings: readonly string[];
};

type LockRead =
  | { readonly kind: 'none' }
  /** `id`: this very file (device, inode, content), so a take-over can tell it from a later lock. */
  | { readonly kind: 'held'; readonly lock: LockContent; readonly text: string; readonly id: string }
  /** The file is there but names no process (empty, not JSON, wrong fields). */
  | { readonly kind: 'garbage'; readonly text: string; readonly detail: string; readonly id: string };

/** Is process `pid` of this host alive? EPERM (it exists, but is not ours to signal) counts as alive. */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(lock: LockContent): RunLockHolder {
  return { pid: lock.pid, host: lock.host, startedAt: lock.startedAt, alive: lock.host === hostname() ? processAlive(lock.pid) : null };
}

/** The lock file as it is now; a file that cannot be read at all (no permission...) is a RunError. */
async function readLock(path: string): Promise<LockRead> {
  let text: string;
  let id: string;
  try {
    // Identity and content from one open file, so they belong together.
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat({ bigint: true });
      text = await handle.readFile('utf8');
      id = createHash('sha256').update(`${info.dev}:${info.ino}:`).update(text).digest('hex').slice(0, 16);
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    throw new RunError(`The run's lock file cannot be read (${code ?? String(error)})`, 'Check its permissions, or delete it if no process trains this run', path, { kind: 'io', cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'garbage', text, id, detail: text === '' ? 'it is empty' : 'it is not JSON' };
  }
  const parsed = lockSchema.safeParse(json);
  if (!parsed.success) return { kind: 'garbage', text, id, detail: 'it names no process' };
  return { kind: 'held', lock: parsed.data, text, id };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * readLock, but an empty lock file younger than a second gets up to a second to be
 * filled: most likely another process is creating it right now (open 'wx', then write).
 */
async function readLockSettled(path: string): Promise<LockRead> {
  const deadline = Date.now() + 1000;
  for (;;) {
    const found = await readLock(path);
    if (found.kind !== 'garbage' || found.text !== '' || Date.now() >= deadline) return found;
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > 1000) return found;
    await sleep(20);
  }
}

/** Creates the lock file with O_EXCL; false when it exists already. */
async function createExclusive(path: string, text: string, what: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    writeFailed(error, { what, path, outcome: 'was not created' });
  }
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true }).catch(() => undefined);
    writeFailed(error, { what, path, outcome: 'was not created', kept: '(no lock was left behind)' });
  }
  await handle.close();
  return true;
}

/** Claim slot `n` of the abandoned lock `id`: whoever creates it (O_EXCL) may replace that lock. */
const claimPath = (lockPath: string, id: string, n: number): string => join(dirname(lockPath), `.${LOCK_FILE}.${id}.${n}.claim`);

/** Claim slots tried per abandoned lock (each one skipped was left by a claimer that died). */
const MAX_CLAIMS = 20;

/**
 * Replaces the abandoned lock `stale` (as read from `path`) by `text`; true when done,
 * false when the lock changed meanwhile (look again). Throws lockedError when a live
 * process is taking over this same lock right now: it is the holder then.
 */
async function takeOver(path: string, stale: { readonly id: string }, text: string, runId: string, what: string, force: boolean): Promise<boolean> {
  const stillStale = async (): Promise<boolean> => {
    const now = await readLock(path);
    return now.kind !== 'none' && now.id === stale.id;
  };
  let n = 0;
  for (let tries = 0; tries < 3 * MAX_CLAIMS && n < MAX_CLAIMS; tries++) {
    const claim = claimPath(path, stale.id, n);
    if (await createExclusive(claim, text, what)) {
      // Slot n is ours and nobody else may replace the abandoned lock: if it is still
      // there now, it stays there until our rename.
      if (!(await stillStale())) {
        await rm(claim, { force: true });
        return false;
      }
      try {
        await rename(claim, path);
      } catch (error) {
        await rm(claim, { force: true }).catch(() => undefined);
        writeFailed(error, { what, path, kept: '(the old lock is left as it was)' });
      }
      // The slots skipped were left by dead claimers; later ones that come find run.lock changed and remove their own.
      for (let k = 0; k < n; k++) await rm(claimPath(path, stale.id, k), { force: true }).catch(() => undefined);
      return true;
    }
    const claimer = await readLockSettled(claim);
    if (claimer.kind === 'none') continue; // its claimer gave up (the lock had changed): try the slot again
    if (claimer.kind === 'held') {
      const holder = holderOf(claimer.lock);
      if (holder.alive === true || (holder.alive === null && !force)) {
        // A live process holds this slot: it takes the lock over unless the lock has changed already.
        if (await stillStale()) throw lockedError(runId, holder, path);
        return false;
      }
    }
    n++; // left by a claimer that died half-way (or unreadable): the next slot
  }
  return false;
}

function describeHolder(holder: RunLockHolder): string {
  return `process ${holder.pid} on ${holder.host} since ${holder.startedAt}`;
}

function lockedError(runId: string, holder: RunLockHolder, path: string): RunError {
  const remedy =
    holder.alive === null
      ? `The lab cannot tell from ${hostname()} whether that process still runs; if it does not, take the run over with force, or delete ${path}`
      : `If process ${holder.pid} is not the lab (its number was reused after a restart), delete ${path}`;
  return new RunError(`Run ${runId} is being trained by ${describeHolder(holder)}: stop it first (or wait for it to finish)`, remedy, undefined, { kind: 'locked' });
}

/** Who holds the lock of the run in `dir`; null when there is no lock, or when its file names no process. */
export async function runLockHolder(dir: string): Promise<RunLockHolder | null> {
  const found = await readLock(join(dir, LOCK_FILE));
  return found.kind === 'held' ? holderOf(found.lock) : null;
}

/**
 * Takes the run's single-writer lock, or throws a RunError (kind 'locked') naming the live
 * process that holds it. See the header for what is taken over.
 */
export async function acquireRunLock(dir: string, runId: string, options: AcquireLockOptions = {}): Promise<ReleaseLock> {
  const path = join(dir, LOCK_FILE);
  const what = `The lock of run ${runId}`;
  const mine: LockContent = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const text = `${JSON.stringify(mine)}\n`;
  const warnings: string[] = [];
  const release = (): ReleaseLock => {
    let released = false;
    const fn = async (): Promise<void> => {
      if (released) return;
      released = true;
      const found = await readLock(path);
      if (found.kind === 'held' && found.lock.token === mine.token) await rm(path, { force: true });
    };
    return Object.assign(fn, { warnings });
  };

  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, text, what)) return release();
    const found = await readLockSettled(path);
    if (found.kind === 'none') continue; // released in the meantime: try to create it again
    let warning: string;
    if (found.kind === 'held') {
      const holder = holderOf(found.lock);
      if (holder.alive === true || (holder.alive === null && options.force !== true)) throw lockedError(runId, holder, path);
      warning =
        holder.alive === false
          ? `Run ${runId} was locked by ${describeHolder(holder)}, which is no longer running: its lock was taken over`
          : `Run ${runId} was locked by ${describeHolder(holder)}, another host: its lock was taken over by force; make sure that process no longer trains this run`;
    } else {
      warning = `The lock file of run ${runId} could not be used (${found.detail}): it was replaced`;
    }
    if (await takeOver(path, found, text, runId, what, options.force === true)) {
      // Read back, as a last check that the lock is ours (it cannot be otherwise unless a forced take-over raced its holder).
      const now = await readLock(path);
      if (now.kind === 'held' && now.lock.token === mine.token) {
        warnings.push(warning);
        return release();
      }
    }
    // Someone else changed the lock between our reads: look again.
  }
  throw new RunError(`The lock of run ${runId} keeps changing`, 'Another process is taking this run at the same time: stop it, then try again', path, { kind: 'locked' });
}
