// A run's checkpoints/ folder: step-000123.ckpt files (their format is checkpoint.ts),
// listed newest first, written, pruned to the newest K, and the newest one that verifies
// loaded. RunHandle (run-store.ts) calls these inside its serialised writes.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint as writeCheckpointFile, verifyCheckpoint, type CheckpointData, type LoadedCheckpoint } from './checkpoint';
import { RunError, writeFailed } from './errors';

export const DEFAULT_KEEP_CHECKPOINTS = 3;
export const CHECKPOINTS_DIR = 'checkpoints';
const CHECKPOINT_FILE = /^step-(\d+)\.ckpt$/;

export interface CheckpointFileInfo {
  readonly file: string;
  readonly path: string;
  readonly step: number;
}

export interface SavedCheckpoint extends CheckpointFileInfo {
  readonly bytes: number;
  /** Older (or superseded) checkpoint files deleted by the retention. */
  readonly removed: string[];
}

export interface LatestCheckpoint extends LoadedCheckpoint {
  /** Relative to the run's folder, e.g. "checkpoints/step-000123.ckpt". */
  readonly file: string;
  readonly path: string;
  /** Newer checkpoints that could not be used, and why: show them to the user. */
  readonly warnings: string[];
}

function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(6, '0')}.ckpt`;
}

/** The checkpoint files in `checkpointsDir` (a run's checkpoints/), newest (highest step) first. */
export async function listCheckpointFiles(checkpointsDir: string): Promise<CheckpointFileInfo[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: CheckpointFileInfo[] = [];
  for (const name of names) {
    const match = CHECKPOINT_FILE.exec(name);
    if (match) out.push({ file: `${CHECKPOINTS_DIR}/${name}`, path: join(checkpointsDir, name), step: Number(match[1]) });
  }
  return out.sort((a, b) => b.step - a.step);
}

/** Writes checkpoints/step-N.ckpt atomically (the older files are untouched until it is complete), creating the folder if needed. */
export async function writeCheckpoint(checkpointsDir: string, data: CheckpointData): Promise<{ file: string; path: string; bytes: number }> {
  const name = checkpointFileName(data.step);
  const path = join(checkpointsDir, name);
  await mkdir(checkpointsDir, { recursive: true }).catch((error: unknown) => writeFailed(error, { what: 'The checkpoints folder', path: checkpointsDir, outcome: 'was not created' }));
  const { bytes } = await writeCheckpointFile(path, data);
  const file = `${CHECKPOINTS_DIR}/${name}`;
  return { file, path, bytes };
}

/**
 * Keeps only the newest `keep` checkpoints up to `saved`'s step. Checkpoints of later steps
 * are left from before a resume from an earlier one: they belong to an abandoned timeline
 * and are deleted too. `saved` itself is never deleted. Returns the removed files.
 */
export async function pruneCheckpoints(checkpointsDir: string, saved: { readonly path: string; readonly step: number }, keep: number): Promise<string[]> {
  const { path, step } = saved;
  const removed: string[] = [];
  const all = await listCheckpointFiles(checkpointsDir);
  const older = all.filter((c) => c.step <= step);
  const doomed = [...all.filter((c) => c.step > step), ...older.slice(keep)];
  for (const old of doomed) {
    if (old.path === path) continue;
    await rm(old.path, { force: true });
    removed.push(old.file);
  }
  return removed;
}

/**
 * The newest of `files` (newest first, as listCheckpointFiles gives them) that verifies.
 * When newer ones are damaged, falls back to the previous good one and says so in
 * `warnings`; `last` is run.json's lastCheckpoint, reported when its file is missing.
 * Undefined when there is no checkpoint; a RunError when there are some but none can be read.
 */
export async function loadNewestGoodCheckpoint(
  files: readonly CheckpointFileInfo[],
  last: { readonly file: string; readonly step: number } | undefined,
  checkpointsDir: string,
): Promise<LatestCheckpoint | undefined> {
  const warnings: string[] = [];
  if (last && !files.some((f) => f.file === last.file)) warnings.push(`run.json names ${last.file} (step ${last.step}) as the last checkpoint, but the file is missing`);
  const failures: Array<{ file: CheckpointFileInfo; error: RunError }> = [];
  for (const file of files) {
    try {
      const checkpoint = await loadCheckpoint(file.path);
      for (const { file: bad, error } of failures) {
        warnings.push(`${bad.file} (step ${bad.step}) cannot be used: ${error.reason.charAt(0).toLowerCase()}${error.reason.slice(1)}; resuming from ${file.file} (step ${file.step}) instead`);
      }
      return { ...checkpoint, file: file.file, path: file.path, warnings };
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      failures.push({ file, error });
    }
  }
  if (failures.length === 0) return undefined;
  throw new RunError(
    `None of the ${failures.length} checkpoint(s) of this run can be read (${failures.map(({ file, error }) => `${file.file}: ${error.reason}`).join('; ')})`,
    'Start a new run',
    checkpointsDir,
    { kind: 'damaged' },
  );
}

/** A checkpoint file that cannot be resumed from, and why (a RunError's reason). */
export interface UnusableCheckpoint {
  readonly file: string;
  readonly step: number;
  readonly reason: string;
}

/**
 * Where a resume of this run would start, found as a resume finds it (the newest
 * checkpoint that verifies) but without keeping any weights in memory:
 *   - 'checkpoint': from `step`; `unusable` lists the newer ones that fail;
 *   - 'start': there is no checkpoint file: from step 0;
 *   - 'none': every checkpoint fails (`unusable`): the run cannot be resumed.
 */
export type ResumePoint =
  | { readonly kind: 'checkpoint'; readonly step: number; readonly file: string; readonly unusable: UnusableCheckpoint[] }
  | { readonly kind: 'start' }
  | { readonly kind: 'none'; readonly unusable: UnusableCheckpoint[] };

export async function findResumePoint(checkpointsDir: string): Promise<ResumePoint> {
  const files = await listCheckpointFiles(checkpointsDir);
  if (files.length === 0) return { kind: 'start' };
  const unusable: UnusableCheckpoint[] = [];
  for (const file of files) {
    try {
      await verifyCheckpoint(file.path);
      return { kind: 'checkpoint', step: file.step, file: file.file, unusable };
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      unusable.push({ file: file.file, step: file.step, reason: error.reason });
    }
  }
  return { kind: 'none', unusable };
}
