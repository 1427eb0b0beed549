// What each candidate file becomes: a face, decoded now or its pixels reused from the
// previous cache (by path and stamp, else by content), or a rejection with its reason.
// Many files are examined at once, bounded in number and in the bytes held.
import { createHash } from 'node:crypto';
import type { CachedImage, CachedRejection, DecodeLimits, OpenedCache } from './cache-file';
import { decodeFace, sizeProblem, UnusableImage, type DecodeOptions } from './decode';
import { sameLimits } from './import-cache';
import type { Candidate } from './import-sources';
import { ByteGate, TaskPool } from './pool';
import { extensionOf, namedLikeImage } from './report-notes';
import { describeContent, sniffFormat } from './sniff';
import { describeFsError } from './walk';

/** A face's pixels: decoded now, or the number of its slot in the previous cache (read only once every file is examined). */
export type FacePixels = Uint8Array | number;

export type Outcome =
  | { readonly kind: 'face'; readonly image: Omit<CachedImage, 'identity'>; readonly pixels: FacePixels }
  | { readonly kind: 'rejected'; readonly rejection: CachedRejection };

export interface ExamineBounds {
  /** Files examined at once. */
  readonly concurrency: number;
  /** Bytes of file contents held at once, read and waiting for or in a decode (a larger file is read alone). */
  readonly maxBytesInFlight: number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * What the previous cache already knows, by path and by content. Pixels do not
 * depend on the layout or the identity rule (faces are re-grouped for free), but
 * whether a file is accepted depends on the decoder's limits: a face is re-judged
 * by its size under the current limits, and a rejection made under other limits
 * is not reused (the file is decoded again).
 */
export class CacheLookup {
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

/**
 * Examines every candidate, several at once, and gives each path's outcome once all
 * are done. The candidates are asked for one at a time, when a decode may start: an
 * archive is read no faster than it is decoded. Should the listing or a decode fail,
 * the decodes under way are waited for before the error is thrown, so none goes on
 * after the import has stopped.
 */
export async function examineAll(
  candidates: AsyncIterable<Candidate>,
  reuse: CacheLookup,
  decodeOptions: DecodeOptions,
  bounds: ExamineBounds,
  onExamined: (done: number) => void,
): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const pool = new TaskPool(bounds.concurrency);
  // Contents read and not yet decoded are bounded in bytes as well as in number.
  const gate = new ByteGate(bounds.maxBytesInFlight);
  let done = 0;
  const consider = async (candidate: Candidate): Promise<void> => {
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
        onExamined(++done);
      });
    } finally {
      if (!started) gate.release(weight);
    }
  };
  try {
    for await (const candidate of candidates) await consider(candidate);
  } catch (error) {
    await pool.drain().catch(() => {});
    throw error;
  }
  await pool.drain();
  return outcomes;
}

/** One file's outcome: read only when the previous cache does not know it by path and stamp, decoded only when not by content either. */
export async function examine(candidate: Candidate, reuse: CacheLookup, decodeOptions: DecodeOptions): Promise<Outcome> {
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
