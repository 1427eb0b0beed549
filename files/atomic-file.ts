// Writes a file so that a crash, a killed process or a full disk never leaves a
// half-written file under the real name: temp file, fsync, rename, fsync folder.
import { open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { errorCode, FileError } from './file-error';

export interface WriteErrorContext {
  /** What became of the file, said after "The disk is full; ". */
  readonly kept: string;
  /** What to do once there is space again, said after "Free some space (…) and ". */
  readonly again: string;
}

const ATOMIC_WRITE: WriteErrorContext = { kept: 'the file was not written and the previous version is intact', again: 'try again' };

/**
 * The error a user can act on for a failed write to `path` (a full disk, no
 * permission, a folder that does not exist, a folder where a file should go), or
 * null when the failure is not one of these and should surface as it is.
 */
export function writeError(error: unknown, path: string, context: WriteErrorContext = ATOMIC_WRITE): FileError | null {
  switch (errorCode(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new FileError(`The disk is full; ${context.kept}`, `Free some space (or choose another data folder with FACE_CNN_LAB_DATA) and ${context.again}`, path);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FileError(
        'The lab cannot write here (permission denied or a read-only disk)',
        'Choose a folder you may write to (for the lab\'s own caches and downloads: another data folder with FACE_CNN_LAB_DATA)',
        path,
      );
    case 'ENOENT':
      return new FileError('The folder to write this file into does not exist', `Create the folder ${dirname(path)} first, or choose a file in an existing folder`, path);
    case 'ENOTDIR':
      return new FileError('Part of this path is a file, not a folder, so nothing can be written there', 'Choose a file in an existing folder', path);
    case 'EISDIR':
      return new FileError('This path is a folder, not a file', `Give the name of a file to write instead (for example one inside this folder: ${join(path, '<name>')})`, path);
    default:
      return null;
  }
}

export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      for (const chunk of chunks) {
        let written = 0;
        while (written < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
          written += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {}); // below a file (ENOTDIR) there is nothing to remove either
    throw writeError(error, path) ?? error;
  }
  // Make the rename itself durable; not every platform can open a folder for this.
  try {
    const folder = await open(dirname(path), 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    /* best effort (Windows cannot fsync a folder) */
  }
}
