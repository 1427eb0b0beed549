// What archive.ts and its zip and tar readers share: the resolved read options,
// the safety of entry paths (unsafeEntryPath, normaliseEntryPath, the refusal of
// an unsafe archive) and the errors for unreadable or damaged archives.
// archive.ts re-exports the public names; import them from there.

import type { ArchiveKind } from './archive';
import { DatasetError } from './errors';
import { errorCode, formatBytes } from '../files/file-error';

/** ReadArchiveOptions with every default filled in. */
export interface ResolvedOptions {
  readonly filter: (path: string) => boolean;
  readonly maxEntryBytes: number;
  /** The most bytes the entries that are read may hold in all (see ReadArchiveOptions.maxTotalBytes). */
  readonly maxTotalBytes: number;
  readonly onSkip: (path: string, reason: string) => void;
}

/** The sentence every refusal of an unsafe archive carries. */
export const UNSAFE_ARCHIVE_REASON = 'the archive tries to write outside its folder; it was not imported';

export const LINK_REASON = 'links inside archives are not followed';

// ---------------------------------------------------------------------------
// Entry paths

type Unsafe = 'absolute' | 'drive' | 'parent';

/** Why `raw` would land outside the archive's folder, or null if it stays inside. Both separators count. */
export function unsafeEntryPath(raw: string): Unsafe | null {
  if (raw.startsWith('/') || raw.startsWith('\\')) return 'absolute';
  if (/^[A-Za-z]:/.test(raw)) return 'drive';
  if (raw.split(/[\\/]/).includes('..')) return 'parent';
  return null;
}

/** `./a//b\c/` → `a/b/c`, NFC. Only for paths that passed `unsafeEntryPath`. */
export function normaliseEntryPath(raw: string): string {
  return raw
    .split(/[\\/]/)
    .filter((segment) => segment !== '' && segment !== '.')
    .join('/')
    .normalize('NFC');
}

export function refusal(archive: string, entry: string, why: Unsafe): DatasetError {
  const detail =
    why === 'absolute'
      ? 'is an absolute path'
      : why === 'drive'
        ? 'starts with a drive letter'
        : 'climbs out of the folder with ".."';
  return new DatasetError(
    `${UNSAFE_ARCHIVE_REASON} (its entry ${JSON.stringify(entry)} ${detail})`,
    'Nothing was extracted or written. Import it only if you trust its source, after unpacking it with a tool that strips unsafe paths',
    archive,
  );
}

export function tooLarge(size: number, max: number): string {
  return `larger than the ${formatBytes(max)} limit for one file (${formatBytes(size)}); not read`;
}

/**
 * The refusal of an archive whose entries hold more than `max` bytes in all
 * (`total` counted so far): a decompression bomb, most likely.
 */
export function tooMuchUnpacked(archive: string, total: number, max: number, whole: boolean): DatasetError {
  return new DatasetError(
    `${UNPACKED_LIMIT_REASON}: its files hold ${whole ? '' : 'more than '}${formatBytes(total)} once unpacked, over the ${formatBytes(max)} limit for one archive (a decompression bomb?); it was not imported`,
    'If it really holds that much, unpack it with a tool you trust and import the folder (each file there may hold up to the same per-file limit)',
    archive,
  );
}

/** The start of the sentence of tooMuchUnpacked, for tests and callers that recognise it. */
export const UNPACKED_LIMIT_REASON = 'the archive unpacks to too much data';

// ---------------------------------------------------------------------------
// Errors

function isFsError(err: unknown): boolean {
  return typeof (err as { syscall?: unknown } | null)?.syscall === 'string';
}

export function readError(path: string, err: unknown): DatasetError {
  if (err instanceof DatasetError) return err;
  const code = errorCode(err);
  if (code === 'ENOENT') return new DatasetError('the archive does not exist', 'Check the path', path);
  if (code === 'EACCES' || code === 'EPERM') {
    return new DatasetError('the archive cannot be read (permission denied)', "Check the file's permissions", path);
  }
  const cause = err instanceof Error ? err.message : String(err);
  return new DatasetError(
    `the archive cannot be read (${cause})`,
    'Check that the disk or network share is available, then try again',
    path,
  );
}

export function damaged(kind: ArchiveKind, path: string, err: unknown): DatasetError {
  if (err instanceof DatasetError) return err;
  if (isFsError(err)) return readError(path, err);
  const message = err instanceof Error ? err.message : String(err);
  // node-tar prefixes its own messages with their code ("TAR_BAD_ARCHIVE: ...").
  const cause = message.replace(/^TAR_[A-Z_]+: /, '').replace(/\.$/, '');
  return new DatasetError(
    `the ${kind} archive is damaged or truncated (${cause})`,
    'Download it again (compare its size or checksum with the source), or re-create it',
    path,
  );
}
