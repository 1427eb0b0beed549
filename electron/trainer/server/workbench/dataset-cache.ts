// The datasets this trainer opened, by the `data` string a training config names them
// with: datasetFaces pages through them without importing again. A few stay open (a
// fresh import keeps its pixels in memory, hundreds of MB for LFW); for the others the
// options they were imported with are kept, so they can be re-opened from the cache
// exactly as they were (same input size, layout and identity rule).
import { isSyntheticSpec } from '../../../../datasets/synthetic-dataset';
import { openDataset, type FaceDataset, type IdentityRule, type ImportProgress, type LayoutKind } from '../../../../datasets';

export interface OpenOptions {
  readonly inputSize: number;
  readonly layout: LayoutKind | 'auto';
  readonly identityRule?: IdentityRule;
}

/** Datasets kept open at most, and the most stored pixels they may hold together. */
export const MAX_OPEN_DATASETS = 4;
export const MAX_OPEN_PIXEL_BYTES = 1 << 30;
/** Imports whose options are remembered (a few strings each). */
const MAX_REMEMBERED = 256;

/** A dataset never imported in this trainer is opened as a training config with only `data` would open it. */
const DEFAULT_OPTIONS: OpenOptions = { inputSize: 128, layout: 'auto' };

interface Entry {
  readonly opening: Promise<FaceDataset>;
  /** Known once open: images x storedSize^2. */
  bytes: number;
}

export class DatasetCache {
  /** Oldest first (a Map keeps insertion order; a hit moves the entry to the end). */
  private readonly open = new Map<string, Entry>();
  private readonly imported = new Map<string, OpenOptions>();

  /** Keeps a dataset just imported, and how it was imported. */
  add(dataDir: string, data: string, dataset: FaceDataset, options: OpenOptions): void {
    const key = keyOf(dataDir, data);
    this.imported.delete(key);
    this.imported.set(key, options);
    while (this.imported.size > MAX_REMEMBERED) this.imported.delete(this.imported.keys().next().value as string);
    this.open.delete(key);
    this.open.set(key, { opening: Promise.resolve(dataset), bytes: pixelBytes(dataset) });
    this.evict();
  }

  /** The dataset, open already or opened now with the options it was imported with (the defaults otherwise). */
  get(dataDir: string, data: string): Promise<FaceDataset> {
    const key = keyOf(dataDir, data);
    const hit = this.open.get(key);
    if (hit) {
      this.open.delete(key);
      this.open.set(key, hit);
      return hit.opening;
    }
    const options = this.imported.get(key) ?? DEFAULT_OPTIONS;
    const opening = openWith(dataDir, data, options);
    const entry: Entry = { opening, bytes: 0 };
    this.open.set(key, entry);
    opening.then(
      (dataset) => {
        entry.bytes = pixelBytes(dataset);
        this.evict();
      },
      () => {
        if (this.open.get(key) === entry) this.open.delete(key); // the next request tries again
      },
    );
    return opening;
  }

  /** Closes a dataset whose cache file turned out rewritten or damaged: the next get re-opens it. */
  drop(dataDir: string, data: string): void {
    this.open.delete(keyOf(dataDir, data));
  }

  private evict(): void {
    let bytes = [...this.open.values()].reduce((sum, entry) => sum + entry.bytes, 0);
    // The newest entry always stays, however big.
    while (this.open.size > 1 && (this.open.size > MAX_OPEN_DATASETS || bytes > MAX_OPEN_PIXEL_BYTES)) {
      const [oldest, entry] = this.open.entries().next().value as [string, Entry];
      this.open.delete(oldest);
      bytes -= entry.bytes;
    }
  }
}

/** Opens `data` as a training config with these settings would (run-model.ts loadDataset). */
export function openWith(dataDir: string, data: string, options: OpenOptions, onProgress?: (progress: ImportProgress) => void): Promise<FaceDataset> {
  const layout = isSyntheticSpec(data) ? {} : { layout: options.layout, identityRule: options.identityRule };
  return openDataset(data, { dataDir, inputSize: options.inputSize, ...layout, ...(onProgress ? { onProgress } : {}) });
}

// Keyed by the data folder too: two hosts in one process (tests) have different caches.
const keyOf = (dataDir: string, data: string): string => `${dataDir}\0${data}`;

const pixelBytes = (dataset: FaceDataset): number => dataset.images.length * dataset.storedSize * dataset.storedSize;

/** The trainer process's datasets (one per process, like the tfjs backend). */
export const openedDatasets = new DatasetCache();
