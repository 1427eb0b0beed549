// What an import asks of the previous cache and gives the next one: whether the
// previous one still holds as it is (same settings, same contents), the new index,
// and the new file, whose pixels come from this import's decodes and, for the faces
// reused, from the previous file's slots.
import {
  checkPixelBudget,
  readCachePixels,
  writeCache,
  CACHE_FORMAT_VERSION,
  type CacheIndex,
  type DecodeLimits,
  type NewCacheIndex,
  type OpenedCache,
  type PixelBudget,
} from './cache-file';
import type { Outcome } from './import-examine';
import type { Placement, PlacedFace } from './import-placement';
import type { ImportSource } from './import-sources';

/** The choices that decide which files are accepted and whose face each is. */
export type ImportSettings = Pick<CacheIndex, 'layoutChoice' | 'identityRule' | 'limits'>;

export function sameLimits(a: DecodeLimits, b: DecodeLimits): boolean {
  return a.maxInputPixels === b.maxInputPixels && a.minSide === b.minSide;
}

/** Whether a cache was made with these settings: then its grouping and its rejections hold as they are. */
export function sameSettings(index: ImportSettings, settings: ImportSettings): boolean {
  return index.layoutChoice === settings.layoutChoice && canonicalJson(index.identityRule) === canonicalJson(settings.identityRule) && sameLimits(index.limits, settings.limits);
}

/** An archive that has not changed since it was cached, imported as it was then: it need not be opened at all. */
export function unchangedArchive(index: CacheIndex, source: ImportSource, settings: ImportSettings): boolean {
  return source.kind === 'archive' && index.source.bytes === source.bytes && index.source.mtimeMs === source.mtimeMs && sameSettings(index, settings);
}

/** Whether the previous cache already says all that `next` would: then it is not written again. */
export function sameIndex(previous: CacheIndex, next: NewCacheIndex): boolean {
  const key = (index: NewCacheIndex): string => canonicalJson([index.wrapper, index.layout, index.images, index.rejected, index.skipped, index.source]);
  return sameSettings(previous, next) && key(previous) === key(next);
}

/** JSON with every object's keys sorted: equal for equal data, whatever order the keys were set in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The index of the cache this import leaves: its faces in pixel order, every rejection and every file left out. */
export function cacheIndexFor(
  source: ImportSource,
  decoding: Pick<NewCacheIndex, 'storedSize' | 'fit'>,
  settings: ImportSettings,
  placement: Placement,
  outcomes: ReadonlyMap<string, Outcome>,
): NewCacheIndex {
  return {
    version: CACHE_FORMAT_VERSION,
    source: source.kind === 'archive' ? { kind: source.kind, path: source.path, bytes: source.bytes, mtimeMs: source.mtimeMs } : { kind: source.kind, path: source.path },
    storedSize: decoding.storedSize,
    fit: decoding.fit,
    limits: settings.limits,
    wrapper: placement.wrapper,
    layoutChoice: settings.layoutChoice,
    layout: placement.layout,
    identityRule: settings.identityRule,
    images: placement.placed.map((p) => p.image),
    rejected: [...outcomes.values()].flatMap((o) => (o.kind === 'rejected' ? [o.rejection] : [])),
    skipped: placement.skipped,
    updatedAt: new Date().toISOString(),
  };
}

/**
 * Writes the cache: the faces' pixels gathered in one shared buffer, in the index's
 * order, those reused read from `previous`. Stops with a CachePixelsError when that
 * file is no longer the one `previous` was read from, or is damaged.
 */
export async function writeFaces(
  cachePath: string,
  index: NewCacheIndex,
  placed: readonly PlacedFace[],
  previous: OpenedCache | null,
  budget: PixelBudget,
): Promise<{ opened: OpenedCache; pixels: Uint8Array }> {
  checkPixelBudget(placed.length, 'faces', budget);
  const faceBytes = index.storedSize * index.storedSize;
  const pixels = new Uint8Array(new SharedArrayBuffer(placed.length * faceBytes));
  // Checked against the nonce read with `previous`: the slots must be the ones the file had then.
  const oldPixels = placed.some((p) => typeof p.pixels === 'number') && previous ? await readCachePixels(cachePath, previous) : null;
  placed.forEach((p, i) => {
    const face = typeof p.pixels === 'number' ? (oldPixels as Uint8Array).subarray(p.pixels * faceBytes, (p.pixels + 1) * faceBytes) : p.pixels;
    pixels.set(face, i * faceBytes);
  });
  const opened = await writeCache(cachePath, index, pixels);
  return { opened, pixels };
}
