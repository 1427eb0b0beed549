// Reading face datasets straight out of .zip, .tar and .tar.gz/.tgz archives,
// without unpacking them anywhere: entries come out as bytes in memory, one at
// a time, in archive order.
//
// Zip goes through yauzl, which reads the central directory and then each entry
// by random access, so an entry the caller filters out is never read. Tar and
// tar.gz go through node-tar's streaming Parser over a file handle that we read
// ourselves, a chunk at a time, only when the consumer asks for the next entry.
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

import { open as openFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import yauzl from 'yauzl';
import type { Entry as ZipEntry, ZipFile } from 'yauzl';
import { DatasetError, errorCode, formatBytes } from './errors';

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
  /** Entries left out for a reason the user should see (links, oversized, unreadable). */
  onSkip?: (path: string, reason: string) => void;
}

export const DEFAULT_MAX_ENTRY_BYTES = 256 * 1024 * 1024;

/** The sentence every refusal of an unsafe archive carries. */
export const UNSAFE_ARCHIVE_REASON = 'the archive tries to write outside its folder; it was not imported';

const LINK_REASON = 'links inside archives are not followed';
/** Bytes read from a tar file per step: at most this much is parsed past the entry being yielded. */
const TAR_CHUNK_BYTES = 64 * 1024;
/** Bytes read per step in the name-only first pass, where nothing is kept. */
const TAR_SCAN_CHUNK_BYTES = 1024 * 1024;
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
 * unsafe entry path or (tar) any damage; a damaged zip entry is found when it
 * is reached.
 */
export function readArchive(path: string, options: ReadArchiveOptions = {}): AsyncIterable<ArchiveEntry> {
  const resolved: ResolvedOptions = {
    filter: options.filter ?? (() => true),
    maxEntryBytes: options.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES,
    onSkip: options.onSkip ?? (() => undefined),
  };
  return readAnyArchive(path, resolved);
}

interface ResolvedOptions {
  readonly filter: (path: string) => boolean;
  readonly maxEntryBytes: number;
  readonly onSkip: (path: string, reason: string) => void;
}

async function* readAnyArchive(path: string, options: ResolvedOptions): AsyncGenerator<ArchiveEntry> {
  const kind = await detectArchive(path);
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

function refusal(archive: string, entry: string, why: Unsafe): DatasetError {
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

function tooLarge(size: number, max: number): string {
  return `larger than the ${formatBytes(max)} limit for one file (${formatBytes(size)}); not read`;
}

// ---------------------------------------------------------------------------
// Errors

function isFsError(err: unknown): boolean {
  return typeof (err as { syscall?: unknown } | null)?.syscall === 'string';
}

function readError(path: string, err: unknown): DatasetError {
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

function damaged(kind: ArchiveKind, path: string, err: unknown): DatasetError {
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

// ---------------------------------------------------------------------------
// Zip

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;
const DOS_DIRECTORY = 0x10;

async function* readZip(archive: string, options: ResolvedOptions): AsyncGenerator<ArchiveEntry> {
  await checkZipNames(archive);
  const zip = await openZip(archive);
  try {
    for (;;) {
      const entry = await zip.next().catch((err: unknown) => {
        throw damaged('zip', archive, err);
      });
      if (entry === null) return;
      const raw = zipEntryName(entry);
      const why = unsafeEntryPath(raw);
      if (why !== null) throw refusal(archive, raw, why); // the file changed since the first pass
      const path = normaliseEntryPath(raw);
      const skip = zipSkipReason(entry, raw, path, options);
      if (skip === null) continue;
      if (skip !== undefined) {
        options.onSkip(path, skip);
        continue;
      }
      const data = await readZipEntry(zip.file, entry).catch((err: unknown) => {
        throw damaged('zip', archive, err);
      });
      if (zlib.crc32(data) !== entry.crc32) {
        throw damaged('zip', archive, new Error(`entry ${JSON.stringify(path)} fails its CRC-32 check`));
      }
      yield { path, size: data.length, data };
    }
  } finally {
    await zip.close();
  }
}

/** First pass: every name in the central directory, before anything is read. */
async function checkZipNames(archive: string): Promise<void> {
  const zip = await openZip(archive);
  try {
    for (;;) {
      const entry = await zip.next().catch((err: unknown) => {
        throw damaged('zip', archive, err);
      });
      if (entry === null) return;
      const raw = zipEntryName(entry);
      const why = unsafeEntryPath(raw);
      if (why !== null) throw refusal(archive, raw, why);
    }
  } finally {
    await zip.close();
  }
}

/**
 * The entry's name as stored, decoded (UTF-8 flag, Info-ZIP Unicode path field,
 * else CP437), backslashes kept so that they can be judged and reported.
 * yauzl is opened with decodeStrings: false so that it does not reject unsafe
 * names with its own generic error: we refuse them with ours.
 */
function zipEntryName(entry: ZipEntry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

/** `null`: drop silently; a string: report and drop; `undefined`: read it. */
function zipSkipReason(entry: ZipEntry, raw: string, path: string, options: ResolvedOptions): string | null | undefined {
  const unixType = entry.versionMadeBy >>> 8 === MADE_BY_UNIX ? (entry.externalFileAttributes >>> 16) & S_IFMT : 0;
  if (
    raw.endsWith('/') ||
    raw.endsWith('\\') ||
    path === '' ||
    unixType === S_IFDIR ||
    ((entry.externalFileAttributes & DOS_DIRECTORY) !== 0 && entry.uncompressedSize === 0)
  ) {
    return null;
  }
  if (unixType === S_IFLNK) return LINK_REASON;
  if (unixType !== 0 && unixType !== S_IFREG) return 'not a regular file';
  if (!options.filter(path)) return null;
  if (entry.uncompressedSize > options.maxEntryBytes) return tooLarge(entry.uncompressedSize, options.maxEntryBytes);
  if (entry.isEncrypted()) return 'the entry is encrypted (password-protected zip files cannot be read)';
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    return `the entry uses zip compression method ${entry.compressionMethod}, which cannot be read (only stored and deflated entries can)`;
  }
  return undefined;
}

async function readZipEntry(zip: ZipFile, entry: ZipEntry): Promise<Buffer> {
  const stream: Readable = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let size = 0;
  // for await destroys the stream on error, which releases yauzl's hold on the file.
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
  }
  return Buffer.concat(chunks, size);
}

interface OpenZip {
  readonly file: ZipFile;
  /** The next central-directory entry, or null after the last. */
  next(): Promise<ZipEntry | null>;
  /** Closes the file descriptor and waits until it is closed. */
  close(): Promise<void>;
}

async function openZip(archive: string): Promise<OpenZip> {
  let file: ZipFile;
  try {
    file = await new Promise<ZipFile>((resolve, reject) => {
      yauzl.open(
        archive,
        { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true },
        (err, zip) => (err ? reject(err) : resolve(zip)),
      );
    });
  } catch (err) {
    throw damaged('zip', archive, err);
  }
  // An error yauzl emits between our requests must not go unhandled; the next request reports it.
  let pendingError: unknown = null;
  let waiter: { resolve: (entry: ZipEntry | null) => void; reject: (err: unknown) => void } | null = null;
  file.on('entry', (entry: ZipEntry) => {
    const w = waiter;
    waiter = null;
    w?.resolve(entry);
  });
  file.on('end', () => {
    const w = waiter;
    waiter = null;
    w?.resolve(null);
  });
  file.on('error', (err: unknown) => {
    const w = waiter;
    waiter = null;
    if (w) w.reject(err);
    else pendingError ??= err;
  });
  return {
    file,
    next(): Promise<ZipEntry | null> {
      if (pendingError !== null) return Promise.reject(pendingError);
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
        file.readEntry();
      });
    },
    close(): Promise<void> {
      if (!file.isOpen) return Promise.resolve();
      return new Promise((resolve) => {
        // The reader emits 'close' once the descriptor is closed (no read stream is open here).
        file.once('close', () => resolve());
        file.once('error', () => resolve());
        file.close();
      });
    },
  };
}

// ---------------------------------------------------------------------------
// Tar and tar.gz

type TarEvent =
  | { readonly kind: 'entry'; readonly entry: ArchiveEntry }
  | { readonly kind: 'skip'; readonly path: string; readonly reason: string };

async function* readTar(archive: string, kind: 'tar' | 'tar.gz', options: ResolvedOptions): AsyncGenerator<ArchiveEntry> {
  // First pass: names only (and damage), before anything is yielded.
  for await (const _ of tarEvents(archive, kind, null)) {
    // a pass with no options yields nothing
  }
  for await (const event of tarEvents(archive, kind, options)) {
    if (event.kind === 'skip') options.onSkip(event.path, event.reason);
    else yield event.entry;
  }
}

const TAR_REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);
const TAR_DIRECTORY = new Set(['Directory', 'GNUDumpDir']);
const TAR_LINK = new Set(['SymbolicLink', 'Link']);

/**
 * Runs node-tar's Parser over the file, reading a chunk only when the consumer
 * has taken every event the previous chunks produced. With `options === null`
 * every entry is ignored (bodies skipped unbuffered) and only paths are checked.
 * Every non-meta entry's path is checked either way: the first unsafe one ends
 * the pass with a refusal.
 */
async function* tarEvents(
  archive: string,
  kind: 'tar' | 'tar.gz',
  options: ResolvedOptions | null,
): AsyncGenerator<TarEvent> {
  let fh: FileHandle;
  try {
    fh = await openFile(archive, 'r');
  } catch (err) {
    throw readError(archive, err);
  }

  const queue: TarEvent[] = [];
  // An object, not `let`s: TypeScript does not see the event handlers assign them.
  const state: { failure: { readonly error: unknown } | null; ended: boolean } = { failure: null, ended: false };
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  let stopping = false;
  const fail = (error: unknown): void => {
    if (stopping) return;
    state.failure ??= { error };
    notify();
  };
  /** Why the filter left an entry out: null for silently. */
  const skipped = new WeakMap<ReadEntry, string | null>();
  /** The entry's normalised path, or null after refusing the archive because of it. */
  const safePath = (entry: ReadEntry): string | null => {
    const why = unsafeEntryPath(entry.path);
    if (why === null) return normaliseEntryPath(entry.path);
    fail(refusal(archive, entry.path, why));
    return null;
  };

  const parser = new Parser({
    // Strict: a bad header checksum or a truncated body is an error, not a warning.
    strict: true,
    brotli: false,
    zstd: false,
    // gzip is recognised by its magic bytes; node-tar also aborts past a 1000:1 decompression ratio.
    filter: (_path, entry) => {
      if (options === null) return false;
      const readEntry = entry as ReadEntry;
      const decision = tarSkipReason(readEntry, options);
      if (decision === undefined) return true;
      skipped.set(readEntry, decision);
      return false;
    },
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    if (entry.meta) return; // an oversized pax or long-name header: not a file
    const path = safePath(entry);
    if (path === null || options === null) return;
    const reason = skipped.has(entry) ? skipped.get(entry) : `not a regular file (tar entry type ${entry.type})`;
    if (typeof reason === 'string') {
      queue.push({ kind: 'skip', path, reason });
      notify();
    }
  });
  parser.on('entry', (entry: ReadEntry) => {
    const path = safePath(entry);
    if (path === null) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    entry.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
    });
    entry.on('end', () => {
      queue.push({ kind: 'entry', entry: { path, size, data: Buffer.concat(chunks, size) } });
      notify();
    });
  });
  parser.on('error', fail);
  parser.on('end', () => {
    state.ended = true;
    notify();
  });

  const chunkBytes = options === null ? TAR_SCAN_CHUNK_BYTES : TAR_CHUNK_BYTES;
  let eof = false;
  try {
    for (;;) {
      if (state.failure !== null) throw damaged(kind, archive, state.failure.error);
      const event = queue.shift();
      if (event !== undefined) {
        yield event;
        continue;
      }
      if (state.ended) return;
      if (eof) {
        // The parser is finishing asynchronously; wait for its end or error.
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      // A fresh buffer each time: the parser may keep a reference to a partial block.
      const chunk = Buffer.allocUnsafe(chunkBytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(chunk, 0, chunkBytes, null));
      } catch (err) {
        throw readError(archive, err);
      }
      if (bytesRead === 0) {
        eof = true;
        parser.end();
      } else {
        parser.write(chunk.subarray(0, bytesRead));
      }
    }
  } finally {
    if (!state.ended) {
      // Stopped early or failed: release the decompressor. abort() reports through 'error', ignored now.
      stopping = true;
      parser.abort(new Error('reading stopped'));
    }
    await fh.close();
  }
}

/** `null`: drop silently; a string: report and drop; `undefined`: read it. */
function tarSkipReason(entry: ReadEntry, options: ResolvedOptions): string | null | undefined {
  if (TAR_DIRECTORY.has(entry.type)) return null;
  if (TAR_LINK.has(entry.type)) return LINK_REASON;
  if (!TAR_REGULAR.has(entry.type)) return `not a regular file (tar entry type ${entry.type})`;
  const path = normaliseEntryPath(entry.path);
  if (path === '') return null;
  if (!options.filter(path)) return null;
  if (entry.size > options.maxEntryBytes) return tooLarge(entry.size, options.maxEntryBytes);
  return undefined;
}
