// The built-in synthetic face set as a dataset like any other: no download, no
// folder, deterministic from its seed. Always labelled synthetic.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readCacheIndex, writeCache, CACHE_FORMAT_VERSION, type CacheIndex, type CachedImage } from './cache-file';
import { labDataDir } from './data-dir';
import { datasetFromCache, type FaceDataset } from './face-dataset';
import { cacheKey } from './import';
import { storedSizeFor } from './preprocess';
import { renderSyntheticFace, syntheticIdentityName, SYNTHETIC_DEFAULTS, SYNTHETIC_GENERATOR_VERSION, type SyntheticOptions } from './synthetic';

/** What the command line and the UI call the synthetic source instead of a path. */
export const SYNTHETIC_SOURCE = 'synthetic:';

export interface OpenSyntheticOptions extends Partial<Omit<SyntheticOptions, 'size'>> {
  readonly inputSize?: number;
  readonly dataDir?: string;
}

export async function openSyntheticDataset(options: OpenSyntheticOptions = {}): Promise<FaceDataset> {
  const started = performance.now();
  const storedSize = storedSizeFor(options.inputSize ?? 128);
  const params: SyntheticOptions = {
    identities: options.identities ?? SYNTHETIC_DEFAULTS.identities,
    imagesPerIdentity: options.imagesPerIdentity ?? SYNTHETIC_DEFAULTS.imagesPerIdentity,
    seed: options.seed ?? SYNTHETIC_DEFAULTS.seed,
    size: storedSize,
  };
  if (params.identities < 2) throw new RangeError('the synthetic set needs at least 2 identities');
  const dataDir = options.dataDir ?? labDataDir();
  const path = `${SYNTHETIC_SOURCE}${params.identities}x${params.imagesPerIdentity}, seed ${params.seed}`;
  const cachePath = join(dataDir, 'cache', `${cacheKey({ v: CACHE_FORMAT_VERSION, generator: SYNTHETIC_GENERATOR_VERSION, kind: 'synthetic', ...params })}.faces`);

  const cached = await readCacheIndex(cachePath);
  if (cached) {
    const n = cached.index.images.length;
    return datasetFromCache(cached, cachePath, { decoded: 0, reused: n, removed: 0, started });
  }

  const faceBytes = storedSize * storedSize;
  const count = params.identities * params.imagesPerIdentity;
  const pixels = new Uint8Array(new SharedArrayBuffer(count * faceBytes));
  const images: CachedImage[] = [];
  for (let id = 0; id < params.identities; id++) {
    const identity = syntheticIdentityName(id);
    for (let k = 0; k < params.imagesPerIdentity; k++) {
      pixels.set(renderSyntheticFace(params, id, k), images.length * faceBytes);
      images.push({ relPath: `${identity}/${String(k + 1).padStart(3, '0')}`, identity, format: 'synthetic', width: storedSize, height: storedSize, sha256: '', bytes: 0, mtimeMs: 0 });
    }
  }
  const index: CacheIndex = {
    version: CACHE_FORMAT_VERSION,
    source: { kind: 'synthetic', path, synthetic: { ...params } },
    storedSize,
    fit: 'cover',
    wrapper: '',
    layout: 'folders',
    identityRule: { kind: 'before-first-dot' },
    images,
    rejected: [],
    skipped: [],
    updatedAt: new Date().toISOString(),
  };
  await mkdir(join(dataDir, 'cache'), { recursive: true });
  await writeCache(cachePath, index, pixels);
  const opened = await readCacheIndex(cachePath);
  if (!opened) throw new Error(`the dataset cache just written cannot be read back: ${cachePath}`);
  return datasetFromCache(opened, cachePath, { decoded: count, reused: 0, removed: 0, started }, pixels);
}
