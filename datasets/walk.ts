// Lists the files of a dataset folder, following symbolic links safely, and says
// why anything it cannot use was left out.
import type { Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type SkippedFile } from './errors';
import { errorCode } from '../files/file-error';
import { isHiddenOrSystem } from './layout';

export interface WalkedFile {
  /**
   * Path below the root, '/'-separated, Unicode-normalised to NFC as archive
   * entry paths are, so that a folder and its zip give the same paths (macOS
   * writes names decomposed, NFD; most other systems composed, NFC).
   */
  readonly relPath: string;
  /** The path to open, with the names exactly as the file system gave them. */
  readonly absPath: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface WalkResult {
  readonly files: WalkedFile[];
  readonly skipped: SkippedFile[];
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

export function describeFsError(error: unknown): string {
  switch (errorCode(error)) {
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read: permission denied (check its permissions)';
    case 'ELOOP':
      return 'symbolic link loop (the link points back to itself)';
    case 'ENOENT':
      return 'broken symbolic link or the file vanished during the import';
    case 'EIO':
      return 'input/output error while reading (a failing disk or a disconnected drive?)';
    default:
      return `cannot be read (${(error as Error).message})`;
  }
}

export async function walkFolder(root: string): Promise<WalkResult> {
  const files: WalkedFile[] = [];
  const skipped: SkippedFile[] = [];
  // NFC paths already taken: two names that differ only in their Unicode form would be one face twice over.
  const seen = new Set<string>();
  // Real paths of the folders on the way down: a link into one of them is a loop.
  const ancestors = new Set<string>([await realpath(root)]);
  // Every real folder and file met so far, by identity, with the path it was first met by: links
  // without a loop can still reach one folder many times over (a chain of two links per level
  // turns one image into 2^levels faces), so each is walked or imported once.
  const met = new Map<string, string>([[await identity(root, await stat(root)), '.']]);
  const duplicates: SkippedFile[] = [];
  let duplicateCount = 0;
  const duplicate = (path: string, what: 'file' | 'folder', first: string): void => {
    if (++duplicateCount <= DUPLICATE_EXAMPLES) {
      duplicates.push({ path, reason: `the same ${what} as ${JSON.stringify(first)}, reached again through a link; imported once` });
    }
  };

  async function visit(dir: string, relDir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (error) {
      skipped.push({ path: relDir === '' ? '.' : `${relDir}/`, reason: `folder ${describeFsError(error)}` });
      return;
    }
    const named: Array<{ relPath: string; absPath: string }> = [];
    for (const entry of entries) {
      const rawName = entry.name as unknown as Buffer;
      let name: string;
      try {
        name = strictUtf8.decode(rawName);
      } catch {
        const shown = lossyUtf8.decode(rawName);
        skipped.push({
          path: relDir === '' ? shown : `${relDir}/${shown}`,
          reason: `the file name is not valid UTF-8 (bytes ${rawName.toString('hex')}); rename it to import it`,
        });
        continue;
      }
      const relPath = relDir === '' ? name.normalize('NFC') : `${relDir}/${name.normalize('NFC')}`;
      if (isHiddenOrSystem(name)) skipped.push({ path: relPath, reason: 'hidden or system file' });
      else named.push({ relPath, absPath: join(dir, name) });
    }
    // In name order, so that which of two names that normalise alike is kept does not depend on the file system.
    named.sort((a, b) => (a.absPath < b.absPath ? -1 : a.absPath > b.absPath ? 1 : 0));
    // One folder's stats at once: one at a time, a 5,000-file folder costs 5,000 thread-pool round trips.
    const infos = await Promise.allSettled(named.map(({ absPath }) => stat(absPath))); // follows links
    for (const [i, { relPath, absPath }] of named.entries()) {
      const outcome = infos[i] as PromiseSettledResult<Stats>;
      if (outcome.status === 'rejected') {
        skipped.push({ path: relPath, reason: describeFsError(outcome.reason) });
        continue;
      }
      const info = outcome.value;
      if (info.isDirectory()) {
        const real = await realpath(absPath);
        if (ancestors.has(real)) {
          skipped.push({ path: `${relPath}/`, reason: 'symbolic link loop (it leads back to a folder above it); not followed' });
          continue;
        }
        const key = await identity(absPath, info);
        const first = met.get(key);
        if (first !== undefined) {
          duplicate(`${relPath}/`, 'folder', first === '.' ? first : `${first}/`);
          continue;
        }
        met.set(key, relPath);
        ancestors.add(real);
        await visit(absPath, relPath);
        ancestors.delete(real);
      } else if (info.isFile()) {
        if (seen.has(relPath)) {
          skipped.push({ path: relPath, reason: 'another file has the same name once Unicode-normalised (NFC); rename one of them to import both' });
          continue;
        }
        seen.add(relPath);
        const key = await identity(absPath, info);
        const first = met.get(key);
        if (first !== undefined) {
          duplicate(relPath, 'file', first);
          continue;
        }
        met.set(key, relPath);
        files.push({ relPath, absPath, size: info.size, mtimeMs: info.mtimeMs });
      } else {
        skipped.push({ path: relPath, reason: 'not a regular file (a device, socket or pipe)' });
      }
    }
  }

  await visit(root, '');
  skipped.push(...duplicates);
  // A count, not thousands of lines: the examples above show what happened.
  if (duplicateCount > DUPLICATE_EXAMPLES) {
    skipped.push({
      path: '.',
      reason: `${duplicateCount} files or folders in all were reached again through links and imported once; ${duplicateCount - DUPLICATE_EXAMPLES} more are not listed`,
    });
  }
  return { files, skipped };
}

/** Duplicates listed one by one in the report; past this, only their count. */
const DUPLICATE_EXAMPLES = 5;

/**
 * What makes two paths one file or folder: device and inode, as `stat` gives
 * them (links followed). Where the inode is not known (0 on some Windows file
 * systems) or does not fit a double exactly, the real path stands in for it.
 */
async function identity(path: string, info: Stats): Promise<string> {
  if (info.ino !== 0 && Number.isSafeInteger(info.ino)) return `${info.dev}:${info.ino}`;
  return `real:${await realpath(path).catch(() => path)}`;
}
