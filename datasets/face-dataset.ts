// An imported dataset: who is in it, which faces, and their preprocessed pixels.
import { basename } from 'node:path';
import { readCacheFace, readCachePixels, type CacheIndex, type OpenedCache } from './cache-file';
import type { SkippedFile } from './errors';
import { describeIdentityRule } from './layout';
import { imageNotes, type ImageNotes } from './report-notes';
import type { ImageFormat } from './sniff';

export interface FaceImage {
  /** Path below the dataset root, '/'-separated (inside the archive for archives). */
  readonly relPath: string;
  /** Index into `identities`. */
  readonly identity: number;
  readonly format: ImageFormat | 'synthetic';
  /** Size of the original image. */
  readonly width: number;
  readonly height: number;
  readonly sha256: string;
}

export interface ImportReport {
  readonly source: string;
  readonly kind: CacheIndex['source']['kind'];
  readonly synthetic: boolean;
  readonly layout: CacheIndex['layout'];
  /** The identity rule in words, so the user can see it and change it. */
  readonly identityRule: string;
  /** A single folder wrapping the whole dataset that was looked through, or ''. */
  readonly wrapper: string;
  readonly identities: number;
  readonly images: number;
  /** Files decoded (synthetic sets: faces generated) this time; the rest came from the cache. */
  readonly decoded: number;
  readonly reused: number;
  /** Faces in the cache whose files are gone. */
  readonly removed: number;
  readonly skipped: readonly SkippedFile[];
  /** The size most images have (null when sizes vary), for the size notices. */
  readonly usualSize: ImageNotes['usualSize'];
  /**
   * Imported images worth a look, by name: a name that disagrees with the content
   * (`face.txt` holding a JPEG, `a.png` holding a JPEG), a size other than the usual one.
   * (Files named like images that are not are in `skipped`, with that reason.)
   */
  readonly notices: ImageNotes['notices'];
  readonly cachePath: string;
  readonly seconds: number;
}

export class FaceDataset {
  readonly identities: readonly string[];
  readonly images: readonly FaceImage[];
  /** Identity of each image, the shape splits and pairs work on. */
  readonly imageIdentity: Int32Array;
  readonly storedSize: number;
  private pixelsPromise: Promise<Uint8Array> | undefined;

  constructor(
    readonly name: string,
    readonly report: ImportReport,
    index: CacheIndex,
    private readonly cache: { readonly path: string; readonly opened: OpenedCache },
    /** Pixels already in memory after a fresh import; read from the cache on first use otherwise. */
    pixels?: Uint8Array,
  ) {
    this.storedSize = index.storedSize;
    const identities: string[] = [];
    const idOf = new Map<string, number>();
    const images: FaceImage[] = [];
    for (const image of index.images) {
      let id = idOf.get(image.identity);
      if (id === undefined) {
        id = identities.length;
        identities.push(image.identity);
        idOf.set(image.identity, id);
      }
      images.push({ relPath: image.relPath, identity: id, format: image.format, width: image.width, height: image.height, sha256: image.sha256 });
    }
    this.identities = identities;
    this.images = images;
    this.imageIdentity = Int32Array.from(images, (image) => image.identity);
    if (pixels) this.pixelsPromise = Promise.resolve(pixels);
  }

  get synthetic(): boolean {
    return this.report.synthetic;
  }

  /**
   * All faces back to back, storedSize^2 bytes each, in `images` order. Read from
   * the cache on first use, and checked there: a DatasetError (CachePixelsError)
   * if another import has rewritten the cache since this dataset was opened, or
   * if the file is damaged; either way, opening the dataset again is the way out.
   */
  pixels(): Promise<Uint8Array> {
    if (this.pixelsPromise === undefined) {
      const reading = readCachePixels(this.cache.path, this.cache.opened);
      this.pixelsPromise = reading;
      reading.catch(() => {
        if (this.pixelsPromise === reading) this.pixelsPromise = undefined; // a later call tries again
      });
    }
    return this.pixelsPromise;
  }

  /**
   * One face's pixels: a view into the pixels when they are in memory, else only
   * this face read from the cache file (with the same check that it is the file
   * this dataset was opened from), so that looking at a few faces costs a few
   * small reads, not the whole cache.
   */
  async face(index: number): Promise<Uint8Array> {
    const size = this.storedSize * this.storedSize;
    if (!(Number.isInteger(index) && index >= 0 && index < this.images.length)) throw new RangeError(`no image ${index} in a dataset of ${this.images.length}`);
    if (this.pixelsPromise === undefined) return readCacheFace(this.cache.path, this.cache.opened, index);
    return (await this.pixelsPromise).subarray(index * size, (index + 1) * size);
  }

  /** Image count per identity, in identity order. */
  imagesPerIdentity(): number[] {
    const counts = new Array<number>(this.identities.length).fill(0);
    for (const id of this.imageIdentity) counts[id] = (counts[id] ?? 0) + 1;
    return counts;
  }
}

/** What the report says instead of a folder rule for the built-in generated faces. */
export const SYNTHETIC_IDENTITY_RULE = 'identity = a generated person (synthetic)';

export function datasetFromCache(
  opened: OpenedCache,
  cachePath: string,
  counts: { decoded: number; reused: number; removed: number; started: number },
  pixels?: Uint8Array,
): FaceDataset {
  const index = opened.index;
  const identities = new Set(index.images.map((image) => image.identity)).size;
  const synthetic = index.source.kind === 'synthetic';
  const name = synthetic ? 'Synthetic faces (procedurally drawn, not real people)' : basename(index.source.path);
  return new FaceDataset(
    name,
    {
      source: index.source.path,
      kind: index.source.kind,
      synthetic,
      layout: index.layout,
      identityRule: synthetic ? SYNTHETIC_IDENTITY_RULE : describeIdentityRule(index.layout, index.identityRule),
      wrapper: index.wrapper,
      identities,
      images: index.images.length,
      decoded: counts.decoded,
      reused: counts.reused,
      removed: counts.removed,
      skipped: index.skipped,
      ...imageNotes(index.images),
      cachePath,
      seconds: (performance.now() - counts.started) / 1000,
    },
    index,
    { path: cachePath, opened },
    pixels,
  );
}
