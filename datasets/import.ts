// Gets a dataset from the user's disk (a folder or an archive) into the cache,
// decoding only what is new or changed since the last time.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_ENTRY_BYTES } from './archive';
import { cacheKey, readCacheIndex, CachePixelsError, CACHE_FORMAT_VERSION, MAX_PIXEL_BYTES, type DecodeLimits, type OpenedCache } from './cache-file';
import { labDataDir } from './data-dir';
import { DEFAULT_DECODE, type FitMode } from './decode';
import type { SkippedFile } from './errors';
import { datasetFromCache, type FaceDataset } from './face-dataset';
import { cacheIndexFor, sameIndex, unchangedArchive, writeFaces, type ImportSettings } from './import-cache';
import { CacheLookup, examineAll } from './import-examine';
import { checkUsable, placeFaces } from './import-placement';
import { findCandidates, openSource } from './import-sources';
import { DEFAULT_IDENTITY_RULE, type IdentityRule, type LayoutKind } from './layout';
import { storedSizeFor } from './preprocess';

export interface ImportProgress {
  readonly phase: 'scanning' | 'decoding' | 'writing' | 'done';
  readonly done: number;
  /** null while the total is not known yet (archives are read as a stream). */
  readonly total: number | null;
}

export interface ImportOptions {
  /** The network's input size; faces are stored at inputSize * 144/128 for random crops. Default 128. */
  readonly inputSize?: number;
  readonly fit?: FitMode;
  /** 'auto' (default) picks folders when most files are inside first-level folders. */
  readonly layout?: LayoutKind | 'auto';
  /** For flat layouts; default: the text before the first '.'. */
  readonly identityRule?: IdentityRule;
  /** Where the cache lives; default: the lab's data folder. */
  readonly dataDir?: string;
  /** Files decoded at once; default: three per core (sharp's threads wait on I/O and hand-offs). */
  readonly concurrency?: number;
  readonly maxInputPixels?: number;
  readonly minSide?: number;
  /**
   * The most bytes of stored pixels a dataset may have: they live in one buffer.
   * Default: the most one buffer can hold on this Node (2^32 bytes on Node 20).
   */
  readonly maxPixelBytes?: number;
  /**
   * Larger files (in a folder, by their size on disk, before reading them) and
   * archive entries are skipped with the reason. Default DEFAULT_MAX_ENTRY_BYTES (256 MiB).
   */
  readonly maxFileBytes?: number;
  /**
   * The most bytes an archive's files may hold in all once unpacked; more is refused
   * before any is decoded. Default: 100 times the archive's size, at least 1 GiB
   * (archive.ts defaultMaxUnpackedBytes).
   */
  readonly maxUnpackedBytes?: number;
  /**
   * The most bytes of file contents held at once, read and waiting for or in a decode
   * (a file larger than this is read alone). Default DEFAULT_MAX_BYTES_IN_FLIGHT.
   */
  readonly maxBytesInFlight?: number;
  readonly onProgress?: (progress: ImportProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * File contents held at once by an import, by default: without a bound, three
 * decodes per core of archive entries up to 256 MiB each (a 2 MB archive of
 * zeros holds such entries) took 1.0-1.6 GB of memory.
 */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 256 * 1024 * 1024;

/** Imports this many times at most with the cache when it keeps changing under the import, then without it. */
const CACHED_ATTEMPTS = 2;

export async function importDataset(path: string, options: ImportOptions = {}): Promise<FaceDataset> {
  const started = performance.now();
  // The old cache's pixels are read only once the new files are decoded. If
  // another import has replaced the file by then, or it turns out damaged (its
  // checksum, then the file, is gone), start again: from the new cache, else
  // (damaged, or still changing) decoding everything.
  for (let attempt = 1; ; attempt++) {
    try {
      return await importOnce(path, options, started, attempt <= CACHED_ATTEMPTS);
    } catch (error) {
      if (!(error instanceof CachePixelsError) || attempt > CACHED_ATTEMPTS) throw error;
    }
  }
}

/**
 * One import, in its steps: find the source and the cache it has; list its files and
 * examine each (reused from the cache or decoded); decide whose face each is; then
 * keep the cache as it is, or write the new one.
 */
async function importOnce(path: string, options: ImportOptions, started: number, useCache: boolean): Promise<FaceDataset> {
  const source = await openSource(path);
  const inputSize = options.inputSize ?? 128;
  const storedSize = storedSizeFor(inputSize);
  const fit = options.fit ?? DEFAULT_DECODE.fit;
  const limits: DecodeLimits = {
    maxInputPixels: options.maxInputPixels ?? DEFAULT_DECODE.maxInputPixels,
    minSide: options.minSide ?? DEFAULT_DECODE.minSide,
  };
  const settings: ImportSettings = { layoutChoice: options.layout ?? 'auto', identityRule: options.identityRule ?? DEFAULT_IDENTITY_RULE, limits };
  const budget = { inputSize, storedSize, maxBytes: options.maxPixelBytes ?? MAX_PIXEL_BYTES, source: source.path };
  const progress = options.onProgress ?? (() => {});

  const dataDir = options.dataDir ?? labDataDir();
  const cachePath = join(dataDir, 'cache', `${cacheKey({ v: CACHE_FORMAT_VERSION, kind: source.kind, source: source.path, storedSize, fit })}.faces`);
  const previous = useCache ? await readCacheIndex(cachePath) : null;
  const keep = (cache: OpenedCache): FaceDataset => {
    const images = cache.index.images.length;
    progress({ phase: 'done', done: images, total: images });
    return datasetFromCache(cache, cachePath, { decoded: 0, reused: images, removed: 0, started });
  };
  if (previous && unchangedArchive(previous.index, source, settings)) return keep(previous);

  let total: number | null = null;
  const skippedUnread: SkippedFile[] = [];
  progress({ phase: 'scanning', done: 0, total: null });
  const candidates = findCandidates(source, {
    maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_ENTRY_BYTES,
    maxUnpackedBytes: options.maxUnpackedBytes,
    budget,
    signal: options.signal,
    onSkip: (file) => skippedUnread.push(file),
    onTotal: (count) => (total = count),
  });
  const outcomes = await examineAll(
    candidates,
    new CacheLookup(previous, limits),
    { storedSize, fit, ...limits },
    {
      concurrency: options.concurrency ?? Math.max(4, availableParallelism() * 3),
      maxBytesInFlight: options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT,
    },
    (done) => progress({ phase: 'decoding', done, total }),
  );

  const placement = placeFaces(outcomes, skippedUnread, settings);
  const { placed } = placement;
  checkUsable(source.path, placed.map((p) => p.image.identity), placement.skipped, { layoutChoice: settings.layoutChoice, layout: placement.layout, rule: settings.identityRule });

  const index = cacheIndexFor(source, { storedSize, fit }, settings, placement, outcomes);
  const decoded = placed.filter((p) => typeof p.pixels !== 'number').length;
  const removed = previous ? previous.index.images.filter((image) => !outcomes.has(image.relPath)).length : 0;
  if (previous && decoded === 0 && removed === 0 && sameIndex(previous.index, index)) return keep(previous);

  progress({ phase: 'writing', done: 0, total: placed.length });
  const { opened, pixels } = await writeFaces(cachePath, index, placed, previous, budget);
  progress({ phase: 'done', done: placed.length, total: placed.length });
  return datasetFromCache(opened, cachePath, { decoded, reused: placed.length - decoded, removed, started }, pixels);
}
