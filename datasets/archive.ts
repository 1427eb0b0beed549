// Reading face datasets straight out of .zip, .tar and .tar.gz/.tgz archives,
// without unpacking them anywhere: entries come out as bytes in memory, one at
// a time, in archive order. This module is the public API: what kind of archive
// a file is (detectArchive), and its entries (readArchive), read by
// archive-zip.ts (yauzl) or archive-tar.ts (node-tar); entry-path safety and the
// errors they share live in archive-shared.ts and are re-exported here.
//
// Safety. An archive with any entry whose path is absolute, starts with a drive
// letter, or climbs out with a `..` segment (either separator) is refused as a
// whole, before a single entry is yielded, so a caller cannot have written
// anything for it. Both formats are checked in a first pass over the entry
// names only:
//   - zip: the central directory (cheap: no entry data is read);
//   - tar, tar.gz: a pass of node-tar's Parser in which every entry is ignored,
//     so bodies are skipped without being buffered (they still go through the
//     disk, and through gunzip for .tar.gz: the archive is decompressed twice).
//     The same pass also finds truncation and damage, so a broken tar yields
//     nothing at all.
// The second, reading, pass checks every path again, in case the file changed
// in between. Links are never followed: symlink and hard-link entries are
// skipped and reported. Zip entry data is checked against its CRC-32 (yauzl
// does not), so a corrupt entry is an error rather than wrong pixels.

import { open as openFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import zlib from 'node:zlib';
import { damaged, readError } from './archive-shared';
import type { ResolvedOptions } from './archive-shared';
import { readTar } from './archive-tar';
import { readZip } from './archive-zip';
import { DatasetError } from './errors';
import { errorCode } from '../files/file-error';

export { normaliseEntryPath, tooLarge, UNPACKED_LIMIT_REASON, UNSAFE_ARCHIVE_REASON, unsafeEntryPath } from './archive-shared';

export type ArchiveKind = 'zip' | 'tar' | 'tar.gz';

export interface ArchiveEntry {
  /** Normalised posix path relative to the archive's root: `/` separators, no leading `./`, NFC. */
  readonly path: string;
  /** Bytes in `data`. */
  readonly size: number;
  readonly data: Buffer;
}

export interface ReadArchiveOptions {
  /**
   * Which entries (by normalised path) the caller wants. Rejected entries are
   * dropped silently; in a zip they are not even read.
   */
  filter?: (path: string) => boolean;
  /** Larger entries are reported through `onSkip` and not read. Default 256 MiB. */
  maxEntryBytes?: number;
  /**
   * The most bytes the entries that would be read (regular files within
   * `maxEntryBytes`) may hold in all, once unpacked. An archive holding more is
   * refused with a DatasetError before any entry is yielded (zip: from the
   * central directory; tar: from the headers, in the first pass), and again while
   * reading should the file have changed. Default: defaultMaxUnpackedBytes of the
   * archive's size.
   */
  maxTotalBytes?: number;
  /** Entries left out for a reason the user should see (links, oversized, unreadable). */
  onSkip?: (path: string, reason: string) => void;
}

export const DEFAULT_MAX_ENTRY_BYTES = 256 * 1024 * 1024;

/** Unpacked bytes an archive may always hold, whatever its size. */
export const MIN_UNPACKED_LIMIT_BYTES = 1024 * 1024 * 1024;
/** Past the floor, an archive may unpack to this many times its own size. */
export const MAX_UNPACK_RATIO = 100;

/**
 * The default bound on what an archive of `archiveBytes` may unpack to: 100 times
 * its size, and at least 1 GiB. Face images (JPEG, PNG) hardly compress, PGM a few
 * times; an archive that unpacks to far more than it holds is a decompression bomb
 * (a 2 MB tar.gz unpacking to 2 GB stays under node-tar's own 1000:1 guard, and
 * zip entries that overlap unpack to terabytes).
 */
export function defaultMaxUnpackedBytes(archiveBytes: number): number {
  return Math.max(MIN_UNPACKED_LIMIT_BYTES, MAX_UNPACK_RATIO * archiveBytes);
}

const HEAD_BYTES = 512;

// ---------------------------------------------------------------------------
// Detection

/**
 * What kind of archive `path` is, by its content (magic bytes), not its name:
 * zip `PK\x03\x04` (or `PK\x05\x06`, an empty zip), gzip `1f 8b` whose first
 * decompressed block is a ustar header, tar with `ustar` at offset 257.
 * `null` if it is none of these (or is a folder). A gzip file that does not hold
 * a tar archive is an error, not `null`: the user most likely meant it.
 */
export async function detectArchive(path: string): Promise<ArchiveKind | null> {
  let fh: FileHandle;
  try {
    fh = await openFile(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'EISDIR') return null;
    throw readError(path, err);
  }
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    let bytes: number;
    try {
      ({ bytesRead: bytes } = await fh.read(head, 0, HEAD_BYTES, 0));
    } catch (err) {
      if (errorCode(err) === 'EISDIR') return null;
      throw readError(path, err);
    }
    const b = head.subarray(0, bytes);
    if (isZipMagic(b)) return 'zip';
    if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
      const compressed = Buffer.alloc(64 * 1024);
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(compressed, 0, compressed.length, 0));
      } catch (err) {
        throw readError(path, err);
      }
      let block: Buffer;
      try {
        block = await gunzipPrefix(compressed.subarray(0, bytesRead), HEAD_BYTES);
      } catch (err) {
        throw damaged('tar.gz', path, err);
      }
      if (isUstar(block)) return 'tar.gz';
      throw new DatasetError(
        'a gzip file that is not a tar archive',
        'Only gzip-compressed tar archives (.tar.gz, .tgz) can be imported; decompress it (gunzip) and import what it holds',
        path,
      );
    }
    if (isUstar(b)) return 'tar';
    return null;
  } finally {
    await fh.close();
  }
}

function isZipMagic(b: Buffer): boolean {
  return (
    b.length >= 4 &&
    b[0] === 0x50 &&
    b[1] === 0x4b &&
    ((b[2] === 0x03 && b[3] === 0x04) || (b[2] === 0x05 && b[3] === 0x06))
  );
}

function isUstar(block: Buffer): boolean {
  return block.length >= 262 && block.toString('latin1', 257, 262) === 'ustar';
}

/** The first `want` bytes of a gzip stream (fewer if it holds fewer), decompressing no more than needed. */
function gunzipPrefix(compressed: Buffer, want: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Z_SYNC_FLUSH: a head cut off mid-stream is not an error here.
    const gunzip = zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      if (err !== undefined && size < want) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= want) settle();
    });
    gunzip.on('error', (err: Error) => settle(err));
    gunzip.on('end', () => settle());
    gunzip.end(compressed);
  });
}

// ---------------------------------------------------------------------------
// Reading

/**
 * The regular files of an archive, in archive order, each with its bytes.
 *
 * Nothing is written to disk. Reading is driven by the consumer: the next entry
 * is read only when asked for (zip: exactly that entry; tar: the rest of one
 * 64 KiB read of the file past it, more once gunzipped, is parsed ahead), and
 * leaving a `for await` early (break, return, throw) closes the file before the
 * loop exits. Directories are dropped
 * silently; links, special files, entries over `maxEntryBytes` and zip entries
 * that cannot be decoded (encrypted, unknown compression) go to `onSkip`.
 *
 * Throws a DatasetError, before yielding anything, for an archive with an
 * unsafe entry path, one that unpacks to more than `maxTotalBytes`, or (tar) any
 * damage; a damaged zip entry is found when it is reached.
 */
export function readArchive(path: string, options: ReadArchiveOptions = {}): AsyncIterable<ArchiveEntry> {
  return readAnyArchive(path, options);
}

async function* readAnyArchive(path: string, given: ReadArchiveOptions): AsyncGenerator<ArchiveEntry> {
  const kind = await detectArchive(path);
  let maxTotalBytes = given.maxTotalBytes;
  if (maxTotalBytes === undefined) {
    const size = await stat(path).then(
      (info) => info.size,
      (err: unknown) => {
        throw readError(path, err);
      },
    );
    maxTotalBytes = defaultMaxUnpackedBytes(size);
  }
  const options: ResolvedOptions = {
    filter: given.filter ?? (() => true),
    maxEntryBytes: given.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES,
    maxTotalBytes,
    onSkip: given.onSkip ?? (() => undefined),
  };
  if (kind === null) {
    throw new DatasetError(
      'the file is not a zip, tar or tar.gz archive',
      'Choose a .zip, .tar or .tar.gz/.tgz archive, or a folder of images',
      path,
    );
  }
  if (kind === 'zip') {
    yield* readZip(path, options);
  } else {
    yield* readTar(path, kind, options);
  }
}
