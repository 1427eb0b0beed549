// Reading a zip archive with yauzl, for archive.ts's readArchive.
//
// yauzl reads the central directory and then each entry by random access, so an
// entry the caller filters out is never read. Two passes go over the central
// directory through one iterator, zipEntries, which refuses the archive at the
// first unsafe name: the first pass only checks the names (no entry data is
// read), before anything is yielded; the second reads the entries, checking
// every name again in case the file changed in between. Entry data is checked
// against its CRC-32 (yauzl does not), so a corrupt entry is an error rather
// than wrong pixels.

import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import type { Entry as ZipEntry, ZipFile } from 'yauzl';
import type { ArchiveEntry } from './archive';
import { damaged, LINK_REASON, normaliseEntryPath, refusal, tooLarge, tooMuchUnpacked, unsafeEntryPath } from './archive-shared';
import type { ResolvedOptions } from './archive-shared';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;
const DOS_DIRECTORY = 0x10;

export async function* readZip(archive: string, options: ResolvedOptions): AsyncGenerator<ArchiveEntry> {
  // First pass: every name in the central directory, before anything is read, and the
  // unpacked size of what would be read (the sizes are checked as entries are read).
  const everything = { ...options, filter: () => true };
  let declared = 0;
  for await (const { entry, raw } of zipEntries(archive)) {
    // zipEntries refuses an unsafe name itself
    if (zipSkipReason(entry, raw, normaliseEntryPath(raw), everything) === undefined) declared += entry.uncompressedSize;
  }
  if (declared > options.maxTotalBytes) throw tooMuchUnpacked(archive, declared, options.maxTotalBytes, true);
  let unpacked = 0;
  for await (const { file, entry, raw } of zipEntries(archive)) {
    const path = normaliseEntryPath(raw);
    const skip = zipSkipReason(entry, raw, path, options);
    if (skip === null) continue;
    if (skip !== undefined) {
      options.onSkip(path, skip);
      continue;
    }
    const data = await readZipEntry(file, entry).catch((err: unknown) => {
      throw damaged('zip', archive, err);
    });
    if (zlib.crc32(data) !== entry.crc32) {
      throw damaged('zip', archive, new Error(`entry ${JSON.stringify(path)} fails its CRC-32 check`));
    }
    // The file may have changed since the first pass.
    unpacked += data.length;
    if (unpacked > options.maxTotalBytes) throw tooMuchUnpacked(archive, unpacked, options.maxTotalBytes, false);
    yield { path, size: data.length, data };
  }
}

interface CentralEntry {
  /** The open zip, to read the entry's data from while the loop is at it. */
  readonly file: ZipFile;
  readonly entry: ZipEntry;
  /** The entry's name as stored (see zipEntryName); it passed `unsafeEntryPath`. */
  readonly raw: string;
}

/**
 * The central directory of `archive`, entry by entry, over a zip file opened for
 * the loop and closed when it ends, however it ends (also before a loop left
 * early exits). Throws a refusal at the first unsafe entry name, and a
 * DatasetError for a damaged directory.
 */
async function* zipEntries(archive: string): AsyncGenerator<CentralEntry> {
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
      yield { file: zip.file, entry, raw };
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
