// Gets a dataset from the user's disk (a folder or an archive) into the cache,
// decoding only what is new or changed since the last time.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_MAX_ENTRY_BYTES, detectArchive, readArchive, tooLarge } from './archive';
import {
  cacheKey,
  checkPixelBudget,
  readCacheIndex,
  readCachePixels,
  writeCache,
  CachePixelsError,
  CACHE_FORMAT_VERSION,
  MAX_PIXEL_BYTES,
  type CacheIndex,
  type CachedImage,
  type CachedRejection,
  type DecodeLimits,
  type NewCacheIndex,
  type OpenedCache,
} from './cache-file';
import { labDataDir } from './data-dir';
import { decodeFace, sizeProblem, DEFAULT_DECODE, UnusableImage, type DecodeOptions, type FitMode } from './decode';
import { DatasetError, type SkippedFile } from './errors';
import { datasetFromCache, type FaceDataset } from './face-dataset';
import {
  chooseLayout,
  compileIdentityRule,
  DEFAULT_IDENTITY_RULE,
  describeIdentityRule,
  isHiddenOrSystem,
  naturalCompare,
  placeFile,
  type IdentityRule,
  type LayoutKind,
} from './layout';
import { ByteGate, TaskPool } from './pool';
import { storedSizeFor } from './preprocess';
import { extensionOf, namedLikeImage } from './report-notes';
import { describeContent, sniffFormat } from './sniff';
import { describeFsError, walkFolder } from './walk';

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

/** One file to consider, from a folder or an archive. */
interface Candidate {
  readonly relPath: string;
  readonly bytes: number;
  readonly mtimeMs: number;
  load(): Promise<Uint8Array>;
}

type Outcome =
  | { readonly kind: 'face'; readonly image: Omit<CachedImage, 'identity'>; readonly pixels: Uint8Array | number /* slot in the old cache */ }
  | { readonly kind: 'rejected'; readonly rejection: CachedRejection };

/**
 * File contents held at once by an import, by default: without a bound, three
 * decodes per core of archive entries up to 256 MiB each (a 2 MB archive of
 * zeros holds such entries) took 1.0-1.6 GB of memory.
 */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 256 * 1024 * 1024;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

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

async function importOnce(path: string, options: ImportOptions, started: number, useCache: boolean): Promise<FaceDataset> {
  const source = resolve(path);
  const info = await stat(source).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new DatasetError('Nothing exists at this path', 'Check the spelling, or choose the folder or archive that holds the face images', source);
    }
    throw new DatasetError(`This path cannot be opened (${describeFsError(error)})`, 'Check that the drive is connected and that you may read it', source);
  });
  const inputSize = options.inputSize ?? 128;
  const storedSize = storedSizeFor(inputSize);
  const fit = options.fit ?? DEFAULT_DECODE.fit;
  const limits: DecodeLimits = {
    maxInputPixels: options.maxInputPixels ?? DEFAULT_DECODE.maxInputPixels,
    minSide: options.minSide ?? DEFAULT_DECODE.minSide,
  };
  const decodeOptions: DecodeOptions = { storedSize, fit, ...limits };
  const budget = { inputSize, storedSize, maxBytes: options.maxPixelBytes ?? MAX_PIXEL_BYTES, source };

  let kind: 'folder' | 'archive';
  if (info.isDirectory()) kind = 'folder';
  else if (info.isFile() && (await detectArchive(source)) !== null) kind = 'archive';
  else {
    throw new DatasetError(
      'This is a single file, not a folder of faces or an archive (.zip, .tar, .tar.gz)',
      'Choose the folder that holds the images (one folder per person, or one flat folder), or an archive of it',
      source,
    );
  }

  const dataDir = options.dataDir ?? labDataDir();
  const cachePath = join(dataDir, 'cache', `${cacheKey({ v: CACHE_FORMAT_VERSION, kind, source, storedSize, fit })}.faces`);
  const previous = useCache ? await readCacheIndex(cachePath) : null;
  const rule = options.identityRule ?? DEFAULT_IDENTITY_RULE;
  const layoutChoice = options.layout ?? 'auto';
  const progress = options.onProgress ?? (() => {});

  // An archive that has not changed since it was cached, imported as it was then, is not opened at all.
  if (
    kind === 'archive' &&
    previous &&
    previous.index.source.bytes === info.size &&
    previous.index.source.mtimeMs === info.mtimeMs &&
    sameSettings(previous.index, { layoutChoice, identityRule: rule, limits })
  ) {
    progress({ phase: 'done', done: previous.index.images.length, total: previous.index.images.length });
    return datasetFromCache(previous, cachePath, { decoded: 0, reused: previous.index.images.length, removed: 0, started });
  }

  const reuse = new CacheLookup(previous, limits);
  const outcomes = new Map<string, Outcome>();
  const skipped: SkippedFile[] = [];
  const pool = new TaskPool(options.concurrency ?? Math.max(4, availableParallelism() * 3));
  // Contents read and not yet decoded are bounded in bytes as well as in number.
  const gate = new ByteGate(options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT);
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  let done = 0;
  let total: number | null = null;
  // Paths already taken: an archive can hold one path twice (NFC and NFD forms of a name
  // normalise alike, and a tar may repeat a name); the first is kept, not overwritten unseen.
  const taken = new Set<string>();
  const consider = async (candidate: Candidate): Promise<void> => {
    options.signal?.throwIfAborted();
    if (taken.has(candidate.relPath)) {
      // Archive entries come with their NFC path only, so the name is shown in that form.
      skipped.push({
        path: candidate.relPath,
        reason: `an earlier entry has the same name, ${JSON.stringify(candidate.relPath)}, once Unicode-normalised (NFC) (one name written two ways, or written twice); the first was imported, rename one of them to import both`,
      });
      return;
    }
    taken.add(candidate.relPath);
    const weight = candidate.bytes;
    await gate.acquire(weight);
    let started = false;
    try {
      await pool.run(async () => {
        started = true;
        try {
          outcomes.set(candidate.relPath, await examine(candidate, reuse, decodeOptions));
        } finally {
          gate.release(weight);
        }
        done++;
        progress({ phase: 'decoding', done, total });
      });
    } finally {
      if (!started) gate.release(weight);
    }
  };

  progress({ phase: 'scanning', done: 0, total: null });
  try {
    if (kind === 'folder') {
      const walked = await walkFolder(source);
      skipped.push(...walked.skipped);
      // By the size the walk's stat gave, before reading anything: a 3 GB file is not read (Node
      // cannot hold it in one buffer) and a 1.9 GB video is not read whole only to be found no image.
      const files = walked.files.filter((file) => {
        if (file.size <= maxFileBytes) return true;
        skipped.push({ path: file.relPath, reason: tooLarge(file.size, maxFileBytes) });
        return false;
      });
      total = files.length;
      // Every file might be a face: refuse a dataset too big for one buffer before decoding any of it.
      checkPixelBudget(total, 'files', budget);
      for (const file of files) {
        // Small files are read synchronously: while sharp keeps the thread pool busy, an async
        // read's four pool round trips cost more than the read itself (+15 %, bench/NOTES.md).
        await consider({ relPath: file.relPath, bytes: file.size, mtimeMs: file.mtimeMs, load: async () => (file.size < 4 << 20 ? readFileSync(file.absPath) : readFile(file.absPath)) });
      }
    } else {
      const entries = readArchive(source, {
        filter: (entryPath: string) => {
          const hidden = entryPath.split('/').some(isHiddenOrSystem);
          if (hidden) skipped.push({ path: entryPath, reason: 'hidden or system file' });
          return !hidden;
        },
        onSkip: (entryPath: string, reason: string) => skipped.push({ path: entryPath, reason }),
        maxEntryBytes: maxFileBytes,
        ...(options.maxUnpackedBytes === undefined ? {} : { maxTotalBytes: options.maxUnpackedBytes }),
      });
      let entryCount = 0;
      for await (const entry of entries) {
        // The total is not known before the end: stop as soon as the files so far could not fit.
        checkPixelBudget(++entryCount, 'files', budget);
        // Inside an archive the content hash is the stamp: mtime is the archive's.
        await consider({ relPath: entry.path, bytes: entry.size, mtimeMs: 0, load: async () => entry.data });
      }
    }
  } catch (error) {
    await pool.drain().catch(() => {}); // no decode goes on after the import has stopped
    throw error;
  }
  await pool.drain();

  // Whose face is each file: decided once every path is known (the wrapper folder and the layout depend on all of them).
  const faces = [...outcomes.entries()].filter((entry): entry is [string, Extract<Outcome, { kind: 'face' }>] => entry[1].kind === 'face');
  for (const [, outcome] of outcomes) if (outcome.kind === 'rejected') skipped.push({ path: outcome.rejection.path, reason: outcome.rejection.reason });
  const identityOf = compileIdentityRule(rule);
  const { wrapper, layout } = chooseLayout(faces.map(([relPath]) => relPath), layoutChoice, identityOf);
  const strip = (relPath: string): string => (wrapper === '' ? relPath : relPath.slice(wrapper.length + 1));
  const placed: Array<{ image: CachedImage; pixels: Uint8Array | number }> = [];
  for (const [relPath, outcome] of faces) {
    const placement = placeFile(strip(relPath), layout, identityOf);
    if ('skip' in placement) skipped.push({ path: relPath, reason: placement.skip });
    else placed.push({ image: { ...outcome.image, identity: placement.identity }, pixels: outcome.pixels });
  }
  placed.sort((a, b) => naturalCompare(a.image.identity, b.image.identity) || naturalCompare(a.image.relPath, b.image.relPath));
  skipped.sort((a, b) => naturalCompare(a.path, b.path));

  checkUsable(source, placed.map((p) => p.image.identity), skipped, { layoutChoice, layout, rule });

  const index: NewCacheIndex = {
    version: CACHE_FORMAT_VERSION,
    source: kind === 'archive' ? { kind, path: source, bytes: info.size, mtimeMs: info.mtimeMs } : { kind, path: source },
    storedSize,
    fit,
    limits,
    wrapper,
    layoutChoice,
    layout,
    identityRule: rule,
    images: placed.map((p) => p.image),
    rejected: [...outcomes.values()].flatMap((o) => (o.kind === 'rejected' ? [o.rejection] : [])),
    skipped,
    updatedAt: new Date().toISOString(),
  };
  const decoded = placed.filter((p) => typeof p.pixels !== 'number').length;
  const removed = previous ? previous.index.images.filter((image) => !outcomes.has(image.relPath)).length : 0;

  if (previous && decoded === 0 && removed === 0 && sameIndex(previous.index, index)) {
    progress({ phase: 'done', done: placed.length, total: placed.length });
    return datasetFromCache(previous, cachePath, { decoded: 0, reused: placed.length, removed: 0, started });
  }

  progress({ phase: 'writing', done: 0, total: placed.length });
  checkPixelBudget(placed.length, 'faces', budget);
  const faceBytes = storedSize * storedSize;
  const pixels = new Uint8Array(new SharedArrayBuffer(placed.length * faceBytes));
  // Checked against the nonce read with `previous`: the slots must be the ones the file had then.
  const oldPixels = placed.some((p) => typeof p.pixels === 'number') && previous ? await readCachePixels(cachePath, previous) : null;
  placed.forEach((p, i) => {
    const face = typeof p.pixels === 'number' ? (oldPixels as Uint8Array).subarray(p.pixels * faceBytes, (p.pixels + 1) * faceBytes) : p.pixels;
    pixels.set(face, i * faceBytes);
  });
  const opened = await writeCache(cachePath, index, pixels);
  progress({ phase: 'done', done: placed.length, total: placed.length });
  return datasetFromCache(opened, cachePath, { decoded, reused: placed.length - decoded, removed, started }, pixels);
}

/**
 * What the previous cache already knows, by path and by content. Pixels do not
 * depend on the layout or the identity rule (faces are re-grouped for free), but
 * whether a file is accepted depends on the decoder's limits: a face is re-judged
 * by its size under the current limits, and a rejection made under other limits
 * is not reused (the file is decoded again).
 */
class CacheLookup {
  private readonly byPath = new Map<string, { image: CachedImage; slot: number }>();
  private readonly byHash = new Map<string, { image: CachedImage; slot: number }>();
  private readonly rejectedByPath = new Map<string, CachedRejection>();

  constructor(
    previous: OpenedCache | null,
    readonly limits: DecodeLimits,
  ) {
    previous?.index.images.forEach((image, slot) => {
      this.byPath.set(image.relPath, { image, slot });
      this.byHash.set(image.sha256, { image, slot });
    });
    if (previous && sameLimits(previous.index.limits, limits)) {
      for (const rejection of previous.index.rejected) this.rejectedByPath.set(rejection.path, rejection);
    }
  }

  unchanged(candidate: Candidate): { image: CachedImage; slot: number } | CachedRejection | null {
    if (candidate.mtimeMs === 0) return null; // archive entries: only the content hash tells
    const hit = this.byPath.get(candidate.relPath);
    if (hit && hit.image.bytes === candidate.bytes && hit.image.mtimeMs === candidate.mtimeMs) return hit;
    const rejected = this.rejectedByPath.get(candidate.relPath);
    if (rejected && rejected.bytes === candidate.bytes && rejected.mtimeMs === candidate.mtimeMs) return rejected;
    return null;
  }

  sameContent(hash: string): { image: CachedImage; slot: number } | null {
    return this.byHash.get(hash) ?? null;
  }
}

async function examine(candidate: Candidate, reuse: CacheLookup, decodeOptions: DecodeOptions): Promise<Outcome> {
  const { relPath, bytes, mtimeMs } = candidate;
  const reject = (reason: string): Outcome => ({ kind: 'rejected', rejection: { path: relPath, reason, bytes, mtimeMs } });
  const known = reuse.unchanged(candidate);
  if (known && 'slot' in known) {
    const problem = sizeProblem(known.image.width, known.image.height, reuse.limits);
    if (problem !== null) return reject(problem);
    return { kind: 'face', image: { ...known.image, relPath }, pixels: known.slot };
  }
  if (known) return { kind: 'rejected', rejection: known };

  let data: Uint8Array;
  try {
    data = await candidate.load();
  } catch (error) {
    // Not remembered: a permission fixed later should make the file count.
    return { kind: 'rejected', rejection: { path: relPath, reason: describeFsError(error), bytes: -1, mtimeMs: -1 } };
  }
  const hash = sha256(data);
  const same = reuse.sameContent(hash);
  if (same) {
    const problem = sizeProblem(same.image.width, same.image.height, reuse.limits);
    if (problem !== null) return reject(problem);
    return { kind: 'face', image: { ...same.image, relPath, bytes, mtimeMs }, pixels: same.slot };
  }
  try {
    const face = await decodeFace(data, decodeOptions);
    return {
      kind: 'face',
      image: { relPath, format: face.format, width: face.width, height: face.height, sha256: hash, bytes, mtimeMs },
      pixels: face.pixels,
    };
  } catch (error) {
    if (error instanceof UnusableImage) return reject(data.length > 0 && sniffFormat(data) === null && namedLikeImage(relPath) ? misnamed(relPath, data) : error.message);
    throw error;
  }
}

/** The reason for a file named like an image whose content is no image: the name and the content disagree. */
function misnamed(relPath: string, data: Uint8Array): string {
  const looks = describeContent(data);
  return `named like an image (.${extensionOf(relPath)}) but its content is not an image${looks === null ? '' : `: it looks like ${looks}`}`;
}

function checkUsable(
  source: string,
  identityOfImage: readonly string[],
  skipped: readonly SkippedFile[],
  how: { layoutChoice: LayoutKind | 'auto'; layout: LayoutKind; rule: IdentityRule },
): void {
  const { layout, rule } = how;
  if (identityOfImage.length === 0) {
    const reasons = new Map<string, number>();
    for (const s of skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    const summary = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([reason, n]) => `${n} x ${reason}`).join('; ');
    throw new DatasetError(
      skipped.length === 0 ? 'The folder holds no files at all' : `No usable face image was found (${skipped.length} files left out: ${summary})`,
      'Choose a folder of JPEG, PNG, WebP, GIF, TIFF or PGM images: one folder per person, or one flat folder with the person in the file name',
      source,
    );
  }
  const perIdentity = new Map<string, number>();
  for (const identity of identityOfImage) perIdentity.set(identity, (perIdentity.get(identity) ?? 0) + 1);
  if (perIdentity.size < 2) {
    const only = [...perIdentity.keys()][0] ?? '';
    throw new DatasetError(
      `Only one identity ("${only}") was found; telling faces apart needs at least 2 people`,
      layout === 'flat'
        ? `Check the identity rule (${describeIdentityRule(layout, rule)}) or add images of other people`
        : 'Add a folder for each other person, or choose the folder one level up',
      source,
    );
  }
  // A flat folder that the default rule cuts into one person per file is, most
  // likely, one person's folder (`lfw/Aaron_Eckhart/`). A rule or a layout the
  // user chose is trusted.
  if (how.layoutChoice === 'auto' && layout === 'flat' && rule.kind === 'before-first-dot') {
    const singletons = [...perIdentity.values()].filter((n) => n === 1).length;
    if (singletons * 2 > perIdentity.size) {
      throw new DatasetError(
        `Each file became its own identity (${singletons} of ${perIdentity.size} identities have a single image, by the rule "${describeIdentityRule(layout, rule)}"), which usually means this is the folder of one person`,
        'Choose the folder above it, which holds one folder per person; or, if each file name really does name a person, use --layout flat with an --identity-regex that takes the person from the name',
        source,
      );
    }
  }
}

type Settings = Pick<CacheIndex, 'layoutChoice' | 'identityRule' | 'limits'>;

function sameLimits(a: DecodeLimits, b: DecodeLimits): boolean {
  return a.maxInputPixels === b.maxInputPixels && a.minSide === b.minSide;
}

/** Whether a cache was made with these settings: then its grouping and its rejections hold as they are. */
function sameSettings(index: Settings, settings: Settings): boolean {
  return index.layoutChoice === settings.layoutChoice && canonicalJson(index.identityRule) === canonicalJson(settings.identityRule) && sameLimits(index.limits, settings.limits);
}

/** JSON with every object's keys sorted: equal for equal data, whatever order the keys were set in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function sameIndex(a: CacheIndex, b: NewCacheIndex): boolean {
  const key = (index: NewCacheIndex): string => canonicalJson([index.wrapper, index.layout, index.images, index.rejected, index.skipped, index.source]);
  return sameSettings(a, b) && key(a) === key(b);
}
