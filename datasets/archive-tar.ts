// Reading a tar or tar.gz archive with node-tar, for archive.ts's readArchive.
//
// node-tar's streaming Parser runs over a file handle that we read ourselves, a
// chunk at a time, only when the consumer asks for the next entry. A first pass
// in which every entry is ignored checks the names (and finds truncation and
// damage) before anything is yielded, so a broken or unsafe tar yields nothing
// at all; bodies are skipped without being buffered (they still go through the
// disk, and through gunzip for .tar.gz: the archive is decompressed twice). The
// second, reading, pass checks every path again. Links are never followed.

import { open as openFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import type { ArchiveEntry } from './archive';
import { damaged, LINK_REASON, normaliseEntryPath, readError, refusal, tooLarge, tooMuchUnpacked, unsafeEntryPath } from './archive-shared';
import type { ResolvedOptions } from './archive-shared';

/** Bytes read from a tar file per step: at most this much is parsed past the entry being yielded. */
const TAR_CHUNK_BYTES = 64 * 1024;
/** Bytes read per step in the name-only first pass, where nothing is kept. */
const TAR_SCAN_CHUNK_BYTES = 1024 * 1024;

type TarEvent =
  | { readonly kind: 'entry'; readonly entry: ArchiveEntry }
  | { readonly kind: 'skip'; readonly path: string; readonly reason: string };

export async function* readTar(archive: string, kind: 'tar' | 'tar.gz', options: ResolvedOptions): AsyncGenerator<ArchiveEntry> {
  // First pass: names (and damage, and the unpacked size of what would be read), before anything is yielded.
  for await (const _ of tarEvents(archive, kind, options, true)) {
    // a scanning pass yields nothing
  }
  for await (const event of tarEvents(archive, kind, options, false)) {
    if (event.kind === 'skip') options.onSkip(event.path, event.reason);
    else yield event.entry;
  }
}

const TAR_REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);
const TAR_DIRECTORY = new Set(['Directory', 'GNUDumpDir']);
const TAR_LINK = new Set(['SymbolicLink', 'Link']);

/**
 * Runs node-tar's Parser over the file, reading a chunk only when the consumer
 * has taken every event the previous chunks produced. With `scan` every entry is
 * ignored (bodies skipped unbuffered) and only paths, and the sizes of the files
 * that would be read (against `maxTotalBytes`), are checked. Every non-meta
 * entry's path is checked either way: the first unsafe one ends the pass with a
 * refusal. The bytes of the entries read are counted against `maxTotalBytes` too.
 */
async function* tarEvents(
  archive: string,
  kind: 'tar' | 'tar.gz',
  options: ResolvedOptions,
  scan: boolean,
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
  /** Bytes of the files that are (scan: would be) read, so far. */
  let unpacked = 0;
  const count = (bytes: number): void => {
    unpacked += bytes;
    if (unpacked > options.maxTotalBytes) fail(tooMuchUnpacked(archive, unpacked, options.maxTotalBytes, false));
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
      if (scan) return false;
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
    if (path === null) return;
    if (scan) {
      if (tarSkipReason(entry, { ...options, filter: () => true }) === undefined) count(entry.size);
      return;
    }
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
      count(size);
      queue.push({ kind: 'entry', entry: { path, size, data: Buffer.concat(chunks, size) } });
      notify();
    });
  });
  parser.on('error', fail);
  parser.on('end', () => {
    state.ended = true;
    notify();
  });

  const chunkBytes = scan ? TAR_SCAN_CHUNK_BYTES : TAR_CHUNK_BYTES;
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
