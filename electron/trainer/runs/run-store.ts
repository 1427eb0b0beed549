// Runs on disk. A run is a folder <dataDir>/runs/<runId>/ holding
//   run.json        what the run is (config, dataset, backend, versions) and where it stands
//   metrics.jsonl   one JSON object per line per step, appended; fsync'd by flushMetrics()
//   checkpoints/    step-000123.ckpt files (see checkpoint.ts), the newest K kept
//   run.lock        while a trainer writes the run: its pid, host and start (see run-lock.ts)
// The trainer is the only writer of a run (it holds run.lock); the app and `lab runs` only read.
// This file reads and writes the run record (run.json, its schema in protocol/run-record.ts) and
// is the RunHandle that writes a run; metrics.jsonl is handled by metrics-file.ts (its rows'
// schemas in protocol/metrics-rows.ts) and checkpoints/ by run-checkpoints.ts.
import * as tf from '@tensorflow/tfjs';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../../files/atomic-file';
import { RUN_FORMAT_VERSION, runRecordSchema, type RunDataset, type RunOrigin, type RunRecord, type RunState } from '#protocol/run-record';
import { RUN_NAME_MAX, RUN_NOTES_MAX } from '#protocol/workbench';
import { type CheckpointData } from './checkpoint';
import { RunError, writeFailed } from './errors';
import { METRICS_FILE, MetricsFile, metricsLines, type MetricsGap, type MetricsReadResult, type MetricsRowInput, type MetricsTruncation } from './metrics-file';
import {
  CHECKPOINTS_DIR,
  DEFAULT_KEEP_CHECKPOINTS,
  findResumePoint,
  listCheckpointFiles,
  loadNewestGoodCheckpoint,
  pruneCheckpoints,
  writeCheckpoint,
  type CheckpointFileInfo,
  type LatestCheckpoint,
  type ResumePoint,
  type SavedCheckpoint,
} from './run-checkpoints';
import { acquireRunLock, LOCK_FILE, processAlive, runLockHolder, type AcquireLockOptions, type ReleaseLock, type RunLockHolder } from './run-lock';

export { RunError, type RunErrorKind } from './errors';
export { type MetricsGap, type MetricsReadResult, type MetricsRow, type MetricsRowInput, type MetricsTruncation } from './metrics-file';
export { DEFAULT_KEEP_CHECKPOINTS, type CheckpointFileInfo, type LatestCheckpoint, type ResumePoint, type SavedCheckpoint, type UnusableCheckpoint } from './run-checkpoints';
export { LOCK_FILE, type AcquireLockOptions, type ReleaseLock, type RunLockHolder } from './run-lock';

export { RUN_FORMAT_VERSION, RUN_STATES, runDatasetSchema, runRecordSchema, type RunDataset, type RunRecord, type RunState } from '#protocol/run-record';

const RUN_FILE = 'run.json';

export { RUN_NAME_MAX, RUN_NOTES_MAX };
/** Where deleteRun moves run folders: <dataDir>/trash/. Nothing there is ever deleted by the lab. */
export const TRASH_DIR = 'trash';

/** What updateRun may change; a key set to undefined is removed (e.g. `failure` on resume). */
export type RunPatch = Partial<Omit<RunRecord, 'format' | 'id' | 'createdAt' | 'updatedAt' | 'pid' | 'host'>>;

export interface RunInit {
  readonly config: Record<string, unknown>;
  readonly dataset: RunDataset;
  readonly backend: string;
  /** node and tfjs default to the running ones. */
  readonly versions: { readonly lab: string; readonly node?: string; readonly tfjs?: string };
  /** Readable middle part of the id, e.g. "lightcnn9_relu"; defaults to config.model + config.activation. */
  readonly label?: string;
  readonly state?: RunState;
  /** Where the weights came from, for a run the lab did not train (lab import). */
  readonly origin?: RunOrigin;
  /** A name the user gave the run. */
  readonly displayName?: string;
  /** The creation time (tests). */
  readonly now?: Date;
}

export type RunInfo =
  | { readonly ok: true; readonly id: string; readonly dir: string; readonly record: RunRecord; /** state says running but its process is gone (killed, crashed) */ readonly interrupted: boolean }
  | { readonly ok: false; readonly id: string; readonly dir: string; /** why run.json could not be used */ readonly reason: string };

/**
 * Where a resume of the run in `dir` would start (the newest checkpoint that verifies),
 * read without loading any weights: what `lab runs` says instead of trusting run.json.
 */
export function runResumePoint(dir: string): Promise<ResumePoint> {
  return findResumePoint(join(dir, CHECKPOINTS_DIR));
}

export function runsDir(dataDir: string): string {
  return join(dataDir, 'runs');
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 48)
    .replace(/[-_]+$/, '');
}

/** e.g. 2026-11-26T08-50-12_lightcnn9_relu_a1b2: sorts by creation time (UTC), readable, unique. */
export function makeRunId(now: Date, label: string): string {
  const time = now.toISOString().slice(0, 19).replace(/:/g, '-');
  const middle = slug(label);
  return `${time}${middle === '' ? '' : `_${middle}`}_${randomBytes(2).toString('hex')}`;
}

function defaultLabel(config: Record<string, unknown>): string {
  return [config['model'], config['activation']].filter((part): part is string => typeof part === 'string').join('_');
}

/** Milliseconds since the epoch from an id's leading timestamp, or NaN. */
function timeFromId(id: string): number {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})/.exec(id);
  return match ? Date.parse(`${match[1]}T${match[2]}:${match[3]}:${match[4]}Z`) : Number.NaN;
}

/**
 * A "running" run whose trainer is gone (killed, crashed). The lock says who trains it;
 * without a lock file (a run of a lab without locks) or with one that names no process,
 * the pid and host run.json recorded when the state became "running" do. A process on
 * another host cannot be checked from here: not interrupted.
 */
async function isInterrupted(dir: string, record: RunRecord): Promise<boolean> {
  if (record.state !== 'running') return false;
  const holder = await runLockHolder(dir).catch(() => null);
  if (holder !== null) return holder.alive === false;
  if (record.host !== undefined && record.host !== hostname()) return false; // cannot tell from here
  return record.pid === undefined || !processAlive(record.pid);
}

/** run.json parsed and validated, or the reason it cannot be used. */
async function readRunRecord(dir: string): Promise<{ record: RunRecord } | { reason: string; kind: 'missing' | 'damaged' | 'newer-format' }> {
  let text: string;
  try {
    text = await readFile(join(dir, RUN_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { reason: 'run.json is missing', kind: 'missing' } : { reason: `run.json cannot be read (${code ?? String(error)})`, kind: 'damaged' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { reason: `run.json is not valid JSON (${(error as Error).message})`, kind: 'damaged' };
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'number' && format > RUN_FORMAT_VERSION) {
    return { reason: `run.json was written by a newer version of the lab (format ${format})`, kind: 'newer-format' };
  }
  const parsed = runRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'run.json';
    return { reason: `run.json does not describe a run (${where}: ${issue?.message ?? 'invalid'})`, kind: 'damaged' };
  }
  return { record: parsed.data };
}

async function openRunAt(dir: string): Promise<RunHandle> {
  const result = await readRunRecord(dir);
  if ('reason' in result) {
    throw new RunError(
      `This run cannot be opened: ${result.reason}`,
      result.kind === 'newer-format' ? 'Open it with a newer version of the lab' : 'Start a new run (the files of this one are left as they are)',
      dir,
      { kind: result.kind === 'missing' ? 'not-found' : result.kind },
    );
  }
  return new RunHandle(dir, result.record);
}

/** Creates the run's folder, run.json, an empty metrics.jsonl and checkpoints/. */
export async function createRun(dataDir: string, init: RunInit): Promise<RunHandle> {
  const root = runsDir(dataDir);
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    writeFailed(error, { what: 'The runs folder', path: root, outcome: 'was not created' });
  }
  const now = init.now ?? new Date();
  const label = init.label ?? defaultLabel(init.config);
  let id = '';
  let dir = '';
  for (let attempt = 0; ; attempt++) {
    id = makeRunId(now, label);
    dir = join(root, id);
    try {
      await mkdir(dir);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && attempt < 20) continue;
      writeFailed(error, { what: 'The run folder', path: dir, outcome: 'was not created' });
    }
  }
  const state = init.state ?? 'running';
  const record = runRecordSchema.parse({
    format: RUN_FORMAT_VERSION,
    id,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    config: init.config,
    dataset: init.dataset,
    backend: init.backend,
    versions: { lab: init.versions.lab, node: init.versions.node ?? process.versions.node, tfjs: init.versions.tfjs ?? tf.version.tfjs },
    state,
    ...(state === 'running' ? { pid: process.pid, host: hostname() } : {}),
    ...(init.origin === undefined ? {} : { origin: init.origin }),
    ...(init.displayName === undefined ? {} : { displayName: init.displayName }),
  } satisfies z.input<typeof runRecordSchema>);
  try {
    await mkdir(join(dir, CHECKPOINTS_DIR));
    await writeFileAtomic(join(dir, METRICS_FILE), []);
    await writeFileAtomic(join(dir, RUN_FILE), [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    writeFailed(error, { what: 'The new run', path: dir, outcome: 'was not created', kept: '(its folder was removed again)' });
  }
  return new RunHandle(dir, record);
}

/** Opens an existing run by its exact id. */
export async function openRun(dataDir: string, runId: string): Promise<RunHandle> {
  if (runId === '' || runId === '.' || runId === '..' || runId.includes('/') || runId.includes('\\')) {
    throw new RunError(`"${runId}" is not a run id`, 'List the runs with `lab runs`', undefined, { kind: 'not-found' });
  }
  const dir = join(runsDir(dataDir), runId);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new RunError(`There is no run "${runId}"`, 'List the runs with `lab runs`', runsDir(dataDir), { kind: 'not-found' });
  return openRunAt(dir);
}

async function runFolders(dataDir: string): Promise<string[]> {
  try {
    const entries = await readdir(runsDir(dataDir), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Every run, newest first. A folder whose run.json cannot be used is listed with the reason, not thrown. */
export async function listRuns(dataDir: string): Promise<RunInfo[]> {
  const names = await runFolders(dataDir);
  const infos = await Promise.all(
    names.map(async (id): Promise<RunInfo> => {
      const dir = join(runsDir(dataDir), id);
      const result = await readRunRecord(dir);
      return 'reason' in result ? { ok: false, id, dir, reason: result.reason } : { ok: true, id, dir, record: result.record, interrupted: await isInterrupted(dir, result.record) };
    }),
  );
  const time = (info: RunInfo): number => {
    const t = info.ok ? Date.parse(info.record.createdAt) : timeFromId(info.id);
    return Number.isNaN(t) ? -Infinity : t;
  };
  return infos.sort((a, b) => time(b) - time(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * A run from what a user typed: its id, a unique prefix of it (or, failing that, a
 * unique part of it), "latest", or the path of a run folder.
 */
export async function resolveRun(dataDir: string, ref: string): Promise<RunHandle> {
  const wanted = ref.trim();
  if (wanted === '') throw new RunError('No run was named', 'Give a run id (or its first characters); list them with `lab runs`', undefined, { kind: 'not-found' });
  if (isAbsolute(wanted) || wanted.includes('/') || wanted.includes(sep) || wanted === '.' || wanted === '..') {
    const dir = resolve(wanted);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new RunError('There is no run folder here', 'Give a run folder, or a run id from `lab runs`', dir, { kind: 'not-found' });
    return openRunAt(dir);
  }
  if (wanted === 'latest' || wanted === 'last') {
    const newest = (await listRuns(dataDir)).find((run) => run.ok);
    if (!newest) throw new RunError('There are no runs yet', 'Train one first with `lab train`', runsDir(dataDir), { kind: 'not-found' });
    return openRunAt(newest.dir);
  }
  const names = await runFolders(dataDir);
  if (names.includes(wanted)) return openRunAt(join(runsDir(dataDir), wanted));
  let matches = names.filter((name) => name.startsWith(wanted));
  if (matches.length === 0) matches = names.filter((name) => name.includes(wanted));
  if (matches.length === 1) return openRunAt(join(runsDir(dataDir), matches[0] as string));
  if (matches.length === 0) {
    throw new RunError(`No run matches "${wanted}"`, 'List the runs with `lab runs`', runsDir(dataDir), { kind: 'not-found' });
  }
  matches.sort().reverse();
  const shown = matches.slice(0, 10).join(', ') + (matches.length > 10 ? ` and ${matches.length - 10} more` : '');
  throw new RunError(`"${wanted}" matches ${matches.length} runs: ${shown}`, 'Type more of the run id', undefined, { kind: 'ambiguous' });
}

/** An open run. Its writes are serialised: one at a time, in the order they were asked for. */
export class RunHandle {
  readonly id: string;
  private current: RunRecord;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly metrics: MetricsFile;

  constructor(
    /** The run's folder. */
    readonly dir: string,
    record: RunRecord,
  ) {
    this.id = basename(dir);
    this.current = record;
    this.metrics = new MetricsFile(join(dir, METRICS_FILE));
  }

  get lockFile(): string {
    return join(this.dir, LOCK_FILE);
  }

  /**
   * Takes the run's single-writer lock (run.lock, created with O_EXCL) for this process;
   * call it before writing the run, and the returned function when done. Throws a RunError
   * of kind 'locked' when a live process holds it ("Run <id> is being trained by process
   * <pid> on <host> since <time>: stop it first (or wait for it to finish)"), and also for
   * a process on another host (which cannot be checked) unless `force` is given. A lock
   * whose process is dead, or a lock file that names no process, is taken over, and the
   * returned function's `warnings` say so. Releasing removes the lock only if it is still ours.
   */
  acquireLock(options: AcquireLockOptions = {}): Promise<ReleaseLock> {
    return acquireRunLock(this.dir, this.id, options);
  }

  /** Who holds run.lock: null when nobody does (no lock file, or one that names no process). */
  lockHolder(): Promise<RunLockHolder | null> {
    return runLockHolder(this.dir);
  }

  /** run.json as last read or written by this handle. */
  get record(): RunRecord {
    return this.current;
  }

  get runFile(): string {
    return join(this.dir, RUN_FILE);
  }

  get metricsFile(): string {
    return this.metrics.path;
  }

  get checkpointsDir(): string {
    return join(this.dir, CHECKPOINTS_DIR);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Merges `patch` into run.json and rewrites it atomically. Setting state "running" records this process. */
  updateRun(patch: RunPatch): Promise<RunRecord> {
    return this.serial(() => this.writeRecord(patch));
  }

  private async writeRecord(patch: RunPatch): Promise<RunRecord> {
    const next: Record<string, unknown> = { ...this.current, ...patch, updatedAt: new Date().toISOString() };
    if (patch.state !== undefined) {
      if (patch.state === 'running') {
        next['pid'] = process.pid;
        next['host'] = hostname();
      } else {
        delete next['pid'];
        delete next['host'];
      }
    }
    for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
    const record = runRecordSchema.parse(next);
    try {
      await writeFileAtomic(this.runFile, [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
    } catch (error) {
      writeFailed(error, { what: 'run.json', path: this.runFile, kept: '(the previous run.json is intact)' });
    }
    this.current = record;
    return record;
  }

  /** Appends rows to metrics.jsonl (not fsync'd: see flushMetrics). Any object with an integer step and an epoch. */
  appendMetrics<R extends MetricsRowInput>(rows: readonly R[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    const text = metricsLines(rows);
    return this.serial(() => this.metrics.append(text));
  }

  /** Makes the appended metrics durable (fsync). The trainer calls it per epoch and at checkpoints. */
  flushMetrics(): Promise<void> {
    return this.serial(() => this.metrics.flush());
  }

  /**
   * Reads every row. An incomplete final line (the process was killed while
   * appending) is ignored and reported; an unreadable line elsewhere is skipped
   * and reported.
   */
  async readMetrics(): Promise<MetricsReadResult> {
    await this.queue;
    return this.metrics.read();
  }

  /**
   * On resume: keeps only the rows up to `step` (the checkpoint's), so the curve
   * continues exactly where the checkpoint left. Rewrites metrics.jsonl atomically.
   * Says which unreadable lines the rewrite removed, and which steps up to `step`
   * have no row (gaps): the caller tells the user and records them (recordGaps).
   */
  truncateMetricsAfter(step: number): Promise<MetricsTruncation> {
    return this.serial(() => this.metrics.truncateAfter(step));
  }

  /**
   * Adds `gaps` to run.json's, leaving out any already recorded (the same steps);
   * returns the ones that were new.
   */
  async recordGaps(gaps: readonly MetricsGap[]): Promise<MetricsGap[]> {
    const known = this.current.gaps ?? [];
    const fresh = gaps.filter((gap) => !known.some((k) => k.from === gap.from && k.to === gap.to));
    if (fresh.length > 0) await this.updateRun({ gaps: [...known, ...fresh.map(({ from, to, reason }) => ({ from, to, reason }))].sort((a, b) => a.from - b.from) });
    return fresh;
  }

  /** The checkpoint files present, newest (highest step) first. */
  listCheckpoints(): Promise<CheckpointFileInfo[]> {
    return listCheckpointFiles(this.checkpointsDir);
  }

  /**
   * Flushes the metrics, writes checkpoints/step-N.ckpt (atomically: the older
   * files are untouched until it is complete), records it in run.json, then keeps
   * only the newest `keep` checkpoints up to step N. Checkpoints of later steps
   * are left from before a resume from an earlier one: they belong to an
   * abandoned timeline and are deleted too. The new file is never deleted.
   */
  saveCheckpoint(data: CheckpointData, options: { keep?: number } = {}): Promise<SavedCheckpoint> {
    const keep = options.keep ?? DEFAULT_KEEP_CHECKPOINTS;
    if (!Number.isInteger(keep) || keep < 1) throw new TypeError(`keep must be an integer >= 1, got ${keep}`);
    return this.serial(async () => {
      await this.metrics.flush();
      const { file, path, bytes } = await writeCheckpoint(this.checkpointsDir, data);
      await this.writeRecord({ lastCheckpoint: { file, step: data.step } });
      const removed = await pruneCheckpoints(this.checkpointsDir, { path, step: data.step }, keep);
      return { file, path, step: data.step, bytes, removed };
    });
  }

  /**
   * The newest checkpoint that verifies. When newer ones are damaged, falls back
   * to the previous good one and says so in `warnings`. Undefined when the run has
   * no checkpoint; a RunError when it has some but none can be read.
   */
  async loadLatestCheckpoint(): Promise<LatestCheckpoint | undefined> {
    await this.queue;
    const files = await this.listCheckpoints();
    return loadNewestGoodCheckpoint(files, this.current.lastCheckpoint, this.checkpointsDir);
  }

  /**
   * Deletes temp files a killed process left behind (".name.xxxx.tmp"). Only the
   * run's owner (the trainer, on resume) may call it: a live writer's temp file
   * looks the same.
   */
  async removeStaleTempFiles(): Promise<string[]> {
    const removed: string[] = [];
    for (const folder of [this.dir, this.checkpointsDir]) {
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names) {
        if (name.startsWith('.') && name.endsWith('.tmp')) {
          await rm(join(folder, name), { force: true });
          removed.push(join(folder, name));
        }
      }
    }
    return removed;
  }
}

// ---------------------------------------------------------------------------
// What the user changes about a stored run: its display name, its notes, and moving it to
// the trash. Each takes the run's lock first, so a run that a trainer writes (training,
// paused, or another process's) is refused with the lock's message (stop it first).

/** A display name checked and tidied (trimmed; "" removes the name), or a RunError saying what is wrong. */
export function checkRunName(name: string): string {
  const trimmed = name.trim();
  if (/\p{Cc}/u.test(trimmed)) throw new RunError('A run name cannot hold control characters (tabs, line breaks, escapes)', 'Type the name on one line');
  if (trimmed.length > RUN_NAME_MAX) throw new RunError(`A run name may be at most ${RUN_NAME_MAX} characters (this one has ${trimmed.length})`, 'Shorten it; longer text belongs in the notes');
  return trimmed;
}

/** Notes checked (line breaks and tabs allowed, other control characters not), or a RunError. */
export function checkRunNotes(notes: string): string {
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u.test(notes)) {
    throw new RunError('Run notes cannot hold control characters other than line breaks and tabs', 'Remove them (text pasted from a terminal may carry escapes)');
  }
  if (notes.length > RUN_NOTES_MAX) throw new RunError(`Run notes may be at most ${RUN_NOTES_MAX} characters (these have ${notes.length})`, 'Shorten them');
  return notes;
}

/** Opens the run and holds its lock while `work` runs: refused (RunError 'locked') while a trainer writes it. */
async function withRunLocked<T>(dataDir: string, runId: string, work: (run: RunHandle) => Promise<T>): Promise<T> {
  const first = await openRun(dataDir, runId);
  const release = await first.acquireLock();
  try {
    // Read again under the lock: a trainer may have written run.json since.
    return await work(await openRun(dataDir, runId));
  } finally {
    await release();
  }
}

/** Sets (or, with "", removes) the run's display name in run.json. The folder id does not change. */
export async function renameRun(dataDir: string, runId: string, name: string): Promise<RunRecord> {
  const displayName = checkRunName(name);
  return withRunLocked(dataDir, runId, (run) => run.updateRun({ displayName: displayName === '' ? undefined : displayName }));
}

/** Sets (or, with blank text, removes) the run's notes in run.json. */
export async function setRunNotes(dataDir: string, runId: string, notes: string): Promise<RunRecord> {
  const text = checkRunNotes(notes);
  return withRunLocked(dataDir, runId, (run) => run.updateRun({ notes: text.trim() === '' ? undefined : text }));
}

export interface TrashedRun {
  readonly id: string;
  /** Where the run's folder is now. */
  readonly trashedTo: string;
  /** Where it came from (move it back there to restore the run). */
  readonly restoreTo: string;
  /** One sentence: how to restore it. */
  readonly restore: string;
}

/**
 * Moves the run's folder into <dataDir>/trash/ (as <id>, or <id>.2, <id>.3... when that
 * name is taken). Nothing is deleted. Refused while the run trains or is locked.
 */
export async function trashRun(dataDir: string, runId: string): Promise<TrashedRun> {
  const trash = join(dataDir, TRASH_DIR);
  return withRunLocked(dataDir, runId, async (run) => {
    try {
      await mkdir(trash, { recursive: true });
    } catch (error) {
      writeFailed(error, { what: 'The trash folder', path: trash, outcome: 'was not created' });
    }
    for (let n = 1; ; n++) {
      const target = join(trash, n === 1 ? run.id : `${run.id}.${n}`);
      if (await stat(target).catch(() => undefined)) continue;
      try {
        await rename(run.dir, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === 'EEXIST' || code === 'ENOTEMPTY') && n < 1000) continue;
        throw new RunError(`Run ${run.id} could not be moved to the trash (${code ?? String(error)})`, 'Nothing was moved or deleted; check the data folder\'s permissions', run.dir, { kind: 'io', cause: error });
      }
      // Our lock went with the folder: remove it there, so a restored run opens unlocked.
      await rm(join(target, LOCK_FILE), { force: true });
      return { id: run.id, trashedTo: target, restoreTo: run.dir, restore: `To restore it, move the folder ${target} back to ${run.dir}` };
    }
  });
}
