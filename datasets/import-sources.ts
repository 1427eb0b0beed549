// Where an import's files come from: the path the user gave, checked and classified
// (a folder or an archive), and its files listed one at a time as candidates to
// examine. What is left out before anything is read (hidden files, files too large,
// a path met twice) is reported through onSkip with the reason.
import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { detectArchive, readArchive, tooLarge } from './archive';
import { checkPixelBudget, type PixelBudget } from './cache-file';
import { DatasetError, type SkippedFile } from './errors';
import { isHiddenOrSystem } from './layout';
import { describeFsError, walkFolder } from './walk';

/** The dataset's folder or archive, resolved and classified. */
export interface ImportSource {
  readonly path: string;
  readonly kind: 'folder' | 'archive';
  /** An archive's size and modification time, which tell that it has not changed (unused for a folder). */
  readonly bytes: number;
  readonly mtimeMs: number;
}

/** One file to consider, from a folder or an archive. */
export interface Candidate {
  readonly relPath: string;
  readonly bytes: number;
  /** 0 for archive entries: inside an archive only the content hash tells whether a file changed. */
  readonly mtimeMs: number;
  load(): Promise<Uint8Array>;
}

export interface FindOptions {
  /** Larger files and entries are skipped with the reason, unread. */
  readonly maxFileBytes: number;
  /** For archives; default archive.ts defaultMaxUnpackedBytes. */
  readonly maxUnpackedBytes?: number;
  /** Every candidate may be a face: too many to fit in one buffer stop the import before decoding them. */
  readonly budget: PixelBudget;
  readonly signal?: AbortSignal;
  readonly onSkip: (file: SkippedFile) => void;
  /** The number of files to examine, once known: a folder's before the first; never for an archive (read as a stream). */
  readonly onTotal?: (total: number) => void;
}

/** Stops with a DatasetError unless `path` is a folder or an archive that can be read. */
export async function openSource(path: string): Promise<ImportSource> {
  const source = resolve(path);
  const info = await stat(source).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new DatasetError('Nothing exists at this path', 'Check the spelling, or choose the folder or archive that holds the face images', source);
    }
    throw new DatasetError(`This path cannot be opened (${describeFsError(error)})`, 'Check that the drive is connected and that you may read it', source);
  });
  let kind: ImportSource['kind'];
  if (info.isDirectory()) kind = 'folder';
  else if (info.isFile() && (await detectArchive(source)) !== null) kind = 'archive';
  else {
    throw new DatasetError(
      'This is a single file, not a folder of faces or an archive (.zip, .tar, .tar.gz)',
      'Choose the folder that holds the images (one folder per person, or one flat folder), or an archive of it',
      source,
    );
  }
  return { path: source, kind, bytes: info.size, mtimeMs: info.mtimeMs };
}

/**
 * The source's files, one at a time: the next is found only when the caller asks,
 * which is what keeps an archive's reading in step with the decoding.
 */
export async function* findCandidates(source: ImportSource, options: FindOptions): AsyncGenerator<Candidate> {
  // Paths already taken: an archive can hold one path twice (NFC and NFD forms of a name
  // normalise alike, and a tar may repeat a name); the first is kept, not overwritten unseen.
  const taken = new Set<string>();
  const listed = source.kind === 'folder' ? folderCandidates(source.path, options) : archiveCandidates(source.path, options);
  for await (const candidate of listed) {
    options.signal?.throwIfAborted();
    if (taken.has(candidate.relPath)) {
      // Archive entries come with their NFC path only, so the name is shown in that form.
      options.onSkip({
        path: candidate.relPath,
        reason: `an earlier entry has the same name, ${JSON.stringify(candidate.relPath)}, once Unicode-normalised (NFC) (one name written two ways, or written twice); the first was imported, rename one of them to import both`,
      });
      continue;
    }
    taken.add(candidate.relPath);
    yield candidate;
  }
}

async function* folderCandidates(root: string, options: FindOptions): AsyncGenerator<Candidate> {
  const walked = await walkFolder(root);
  for (const skipped of walked.skipped) options.onSkip(skipped);
  // By the size the walk's stat gave, before reading anything: a 3 GB file is not read (Node
  // cannot hold it in one buffer) and a 1.9 GB video is not read whole only to be found no image.
  const files = walked.files.filter((file) => {
    if (file.size <= options.maxFileBytes) return true;
    options.onSkip({ path: file.relPath, reason: tooLarge(file.size, options.maxFileBytes) });
    return false;
  });
  options.onTotal?.(files.length);
  // Every file might be a face: refuse a dataset too big for one buffer before decoding any of it.
  checkPixelBudget(files.length, 'files', options.budget);
  for (const file of files) {
    // Small files are read synchronously: while sharp keeps the thread pool busy, an async
    // read's four pool round trips cost more than the read itself (+15 %, bench/NOTES.md).
    yield { relPath: file.relPath, bytes: file.size, mtimeMs: file.mtimeMs, load: async () => (file.size < 4 << 20 ? readFileSync(file.absPath) : readFile(file.absPath)) };
  }
}

async function* archiveCandidates(archive: string, options: FindOptions): AsyncGenerator<Candidate> {
  const entries = readArchive(archive, {
    filter: (entryPath: string) => {
      const hidden = entryPath.split('/').some(isHiddenOrSystem);
      if (hidden) options.onSkip({ path: entryPath, reason: 'hidden or system file' });
      return !hidden;
    },
    onSkip: (entryPath: string, reason: string) => options.onSkip({ path: entryPath, reason }),
    maxEntryBytes: options.maxFileBytes,
    ...(options.maxUnpackedBytes === undefined ? {} : { maxTotalBytes: options.maxUnpackedBytes }),
  });
  let entryCount = 0;
  for await (const entry of entries) {
    // The total is not known before the end: stop as soon as the files so far could not fit.
    checkPixelBudget(++entryCount, 'files', options.budget);
    yield { relPath: entry.path, bytes: entry.size, mtimeMs: 0, load: async () => entry.data };
  }
}
