// A run as one .tar.gz, to keep or to share: its record, metrics, evaluations, activation
// snapshots and its latest checkpoint (the older ones only repeat it). The archive holds
// one folder named after the run, so unpacking it into another lab's runs/ folder gives
// that lab the run:
//
//   <runId>/run.json
//   <runId>/metrics.jsonl
//   <runId>/evaluation.json            (when the run was evaluated; any evaluation*.json)
//   <runId>/snapshots/step-N.fclf      (when it recorded any)
//   <runId>/checkpoints/step-N.ckpt    (the latest only)
//
// The archive is written beside the destination under a temporary name and renamed into
// place when complete, so the destination never holds half an archive.
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import * as tar from 'tar';
import { errorCode } from '../../../../files/file-error';
import type { RunHandle } from '../../runs/run-store';
import { SNAPSHOTS_DIR } from '../../probes/snapshots';
import { CommandError } from './types';

const EVALUATION_FILES = /^evaluation.*\.json$/;
/** Attempts when the run's files change while they are read (it is training: a checkpoint pruned, run.json rewritten). */
const ATTEMPTS = 3;

/** The files of `run` that go into its archive, relative to the runs folder (so each starts with the run's id). */
export async function exportEntries(run: RunHandle): Promise<string[]> {
  const names = await readdir(run.dir);
  const id = basename(run.dir);
  const entries = [`${id}/run.json`];
  if (names.includes('metrics.jsonl')) entries.push(`${id}/metrics.jsonl`);
  for (const name of names.filter((n) => EVALUATION_FILES.test(n)).sort()) entries.push(`${id}/${name}`);
  if (names.includes(SNAPSHOTS_DIR) && (await stat(join(run.dir, SNAPSHOTS_DIR))).isDirectory()) entries.push(`${id}/${SNAPSHOTS_DIR}`);
  const checkpoint = await latestCheckpointFile(run);
  if (checkpoint !== null) entries.push(`${id}/${checkpoint}`);
  return entries;
}

/** The latest checkpoint's path in the run folder: the one run.json names when it is there, else the highest step. */
async function latestCheckpointFile(run: RunHandle): Promise<string | null> {
  const files = await run.listCheckpoints();
  const named = run.record.lastCheckpoint?.file;
  if (named !== undefined && files.some((f) => f.file === named)) {
    const newest = files[0];
    // run.json may be older than the folder (another process trains the run): the highest step wins.
    return newest !== undefined && newest.step > (run.record.lastCheckpoint?.step ?? -1) ? newest.file : named;
  }
  return files[0]?.file ?? null;
}

export interface ExportOptions {
  /** Replace an existing file (a save dialog already asked the user); otherwise refuse. */
  readonly overwrite: boolean;
  /** Add ".tar.gz" to a file name that ends in neither .tar.gz nor .tgz. */
  readonly ensureSuffix: boolean;
}

/**
 * Writes `run` as a .tar.gz at `destination` (a file; given a folder, `<runId>.tar.gz`
 * inside it). Returns the file written and its size.
 */
export async function exportRunArchive(run: RunHandle, destination: string, options: ExportOptions = { overwrite: true, ensureSuffix: false }): Promise<{ file: string; bytes: number }> {
  let file = resolve(destination);
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) file = join(file, `${run.id}.tar.gz`);
  else if (options.ensureSuffix && !/\.(tar\.gz|tgz)$/i.test(file)) file = `${file}.tar.gz`;
  if (!options.overwrite && (await stat(file).catch(() => undefined)) !== undefined) {
    throw new CommandError(`${file} already exists: type another name, or delete that file first`, 'exists');
  }
  const folder = dirname(file);
  const folderInfo = await stat(folder).catch((error: unknown) => {
    throw errorCode(error) === 'ENOENT' ? missingFolderError(file, run.id) : (exportWriteError(error, file, run.id) ?? error);
  });
  if (!folderInfo.isDirectory()) throw exportWriteError(Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }), file, run.id);
  if (file.startsWith(`${run.dir}${sep}`)) {
    throw new CommandError(`The archive cannot be written inside the run's own folder (${file}): choose a file elsewhere`, 'bad-path');
  }

  const temp = join(folder, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  for (let attempt = 1; ; attempt++) {
    try {
      const entries = await exportEntries(run);
      await tar.create(
        {
          gzip: true,
          file: temp,
          cwd: dirname(run.dir),
          portable: true, // no user names, ids or access times
          // Temp files of a writer at work (".step-000010.fclf.a1b2.tmp") are not part of the run.
          filter: (path) => !/(^|\/)\.[^/]*\.tmp$/.test(path),
        },
        entries,
      );
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      break;
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      const written = exportWriteError(error, file, run.id);
      if (written) throw written;
      // A file of the run vanished or changed size while it was read: the run is training. Try again.
      if (attempt < ATTEMPTS && isReadRace(error)) continue;
      if (isReadRace(error)) {
        throw new CommandError(`The files of run ${run.id} kept changing while they were archived (it is training): export it again, or stop it first`, 'busy');
      }
      throw error;
    }
  }
  try {
    const folderHandle = await open(folder, 'r');
    try {
      await folderHandle.sync();
    } finally {
      await folderHandle.close();
    }
  } catch {
    /* best effort (not every platform can fsync a folder) */
  }
  return { file, bytes: (await stat(file)).size };
}

function isReadRace(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'TAR_ENTRY_ERROR' || /unexpected EOF|did not encounter expected EOF/i.test((error as Error)?.message ?? '');
}

/** A failed write of the archive as a message naming the cause and the way out, or null when `error` is not one. */
function exportWriteError(error: unknown, file: string, runId: string): CommandError | null {
  const what = `the archive of run ${runId} was not written (no partial file was left)`;
  switch (errorCode(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new CommandError(`The disk is full: ${what}: ${file}. Free some space on that disk, or export to another disk`, 'disk-full');
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new CommandError(`The lab cannot write here (permission denied or a read-only disk): ${what}: ${file}. Choose a folder you may write to`, 'unwritable');
    case 'ENOTDIR':
      return new CommandError(`Part of this path is a file, not a folder: ${what}: ${file}. Choose a file in an existing folder`, 'bad-path');
    default:
      return null;
  }
}

/** The destination folder is missing: said before anything is written. */
export function missingFolderError(file: string, runId: string): CommandError {
  return new CommandError(`The folder to write the archive of run ${runId} into does not exist: ${dirname(file)}. Create it first, or choose a file in an existing folder`, 'bad-path');
}
