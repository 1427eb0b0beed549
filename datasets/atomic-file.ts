// Writes a file so that a crash, a killed process or a full disk never leaves a
// half-written file under the real name: temp file, fsync, rename, fsync folder.
import { open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DatasetError } from './errors';

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
    await rm(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new DatasetError('The disk is full; the file was not written and the previous version is intact', 'Free some space (or choose another data folder with FACE_CNN_LAB_DATA) and try again', path);
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new DatasetError('The lab cannot write here (permission denied or a read-only disk)', 'Choose a writable data folder with FACE_CNN_LAB_DATA', path);
    }
    throw error;
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
