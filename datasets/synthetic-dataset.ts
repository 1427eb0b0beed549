// The built-in synthetic face set as a dataset like any other: no download, no
// folder, deterministic from its seed. Always labelled synthetic.
import { join } from 'node:path';
import { cacheKey, checkPixelBudget, readCacheIndex, writeCache, CACHE_FORMAT_VERSION, MAX_PIXEL_BYTES, type CachedImage, type NewCacheIndex } from './cache-file';
import { labDataDir } from './data-dir';
import { DEFAULT_DECODE } from './decode';
import { DatasetError } from './errors';
import { datasetFromCache, type FaceDataset } from './face-dataset';
import { storedSizeFor } from './preprocess';
import { renderSyntheticFace, syntheticIdentityName, SYNTHETIC_DEFAULTS, SYNTHETIC_GENERATOR_VERSION, type SyntheticOptions } from './synthetic';

/** What the command line and the UI call the synthetic source instead of a path. */
export const SYNTHETIC_SOURCE = 'synthetic:';

/** How many identities and images per identity a synthetic set may have. */
export const SYNTHETIC_LIMITS = {
  identities: { min: 2, max: 100_000 },
  imagesPerIdentity: { min: 1, max: 10_000 },
} as const;

const SPEC_FORM = 'Write "synthetic" or "synthetic:IDxIMAGES" (identities x images per identity), e.g. synthetic:20x12';

/** The source names the synthetic set: `synthetic`, or anything starting `synthetic:`. */
export function isSyntheticSpec(spec: string): boolean {
  return spec === 'synthetic' || spec.startsWith(SYNTHETIC_SOURCE);
}

/**
 * `synthetic`, `synthetic:` or `synthetic:IDxIMAGES` -> the counts it asks for
 * (undefined: the defaults). Anything else that starts `synthetic:`, and counts
 * out of range, is a DatasetError.
 */
export function parseSyntheticSpec(spec: string): { identities?: number; imagesPerIdentity?: number } {
  if (spec === 'synthetic' || spec === SYNTHETIC_SOURCE) return {};
  const match = /^synthetic:(\d+)x(\d+)$/.exec(spec);
  if (match === null) throw new DatasetError(`"${spec}" does not name a synthetic set`, SPEC_FORM);
  const counts = { identities: Number(match[1]), imagesPerIdentity: Number(match[2]) };
  checkSyntheticCounts(counts.identities, counts.imagesPerIdentity, spec, [match[1] as string, match[2] as string]);
  return counts;
}

/** `shown`: the counts as the user wrote them (a huge number is better quoted than rounded). */
function checkSyntheticCounts(identities: number, imagesPerIdentity: number, spec: string, shown = [String(identities), String(imagesPerIdentity)]): void {
  const { identities: ids, imagesPerIdentity: images } = SYNTHETIC_LIMITS;
  if (!Number.isInteger(identities) || identities < ids.min || identities > ids.max) {
    throw new DatasetError(
      `The synthetic set "${spec}" asks for ${shown[0]} ${identities === 1 ? 'identity' : 'identities'}; it can have ${ids.min} to ${ids.max.toLocaleString('en')}` +
        (identities < ids.min ? ' (telling faces apart needs at least 2 people)' : ''),
      SPEC_FORM,
    );
  }
  if (!Number.isInteger(imagesPerIdentity) || imagesPerIdentity < images.min || imagesPerIdentity > images.max) {
    throw new DatasetError(
      `The synthetic set "${spec}" asks for ${shown[1]} ${imagesPerIdentity === 1 ? 'image' : 'images'} per identity; it can have ${images.min} to ${images.max.toLocaleString('en')}`,
      SPEC_FORM,
    );
  }
}

export interface OpenSyntheticOptions extends Partial<Omit<SyntheticOptions, 'size'>> {
  readonly inputSize?: number;
  readonly dataDir?: string;
  /** As for importDataset: the most bytes of stored pixels (one buffer). */
  readonly maxPixelBytes?: number;
}

export async function openSyntheticDataset(options: OpenSyntheticOptions = {}): Promise<FaceDataset> {
  const started = performance.now();
  const inputSize = options.inputSize ?? 128;
  const storedSize = storedSizeFor(inputSize);
  const params: SyntheticOptions = {
    identities: options.identities ?? SYNTHETIC_DEFAULTS.identities,
    imagesPerIdentity: options.imagesPerIdentity ?? SYNTHETIC_DEFAULTS.imagesPerIdentity,
    seed: options.seed ?? SYNTHETIC_DEFAULTS.seed,
    size: storedSize,
  };
  const path = `${SYNTHETIC_SOURCE}${params.identities}x${params.imagesPerIdentity}, seed ${params.seed}`;
  checkSyntheticCounts(params.identities, params.imagesPerIdentity, `${SYNTHETIC_SOURCE}${params.identities}x${params.imagesPerIdentity}`);
  const count = params.identities * params.imagesPerIdentity;
  checkPixelBudget(count, 'faces', { inputSize, storedSize, maxBytes: options.maxPixelBytes ?? MAX_PIXEL_BYTES, source: path });
  const dataDir = options.dataDir ?? labDataDir();
  const cachePath = join(dataDir, 'cache', `${cacheKey({ v: CACHE_FORMAT_VERSION, generator: SYNTHETIC_GENERATOR_VERSION, kind: 'synthetic', ...params })}.faces`);

  const cached = await readCacheIndex(cachePath);
  if (cached) {
    const n = cached.index.images.length;
    return datasetFromCache(cached, cachePath, { decoded: 0, reused: n, removed: 0, started });
  }

  const faceBytes = storedSize * storedSize;
  const pixels = new Uint8Array(new SharedArrayBuffer(count * faceBytes));
  const images: CachedImage[] = [];
  for (let id = 0; id < params.identities; id++) {
    const identity = syntheticIdentityName(id);
    for (let k = 0; k < params.imagesPerIdentity; k++) {
      pixels.set(renderSyntheticFace(params, id, k), images.length * faceBytes);
      images.push({ relPath: `${identity}/${String(k + 1).padStart(3, '0')}`, identity, format: 'synthetic', width: storedSize, height: storedSize, sha256: '', bytes: 0, mtimeMs: 0 });
    }
  }
  const index: NewCacheIndex = {
    version: CACHE_FORMAT_VERSION,
    source: { kind: 'synthetic', path, synthetic: { ...params } },
    storedSize,
    fit: 'cover',
    limits: { maxInputPixels: DEFAULT_DECODE.maxInputPixels, minSide: DEFAULT_DECODE.minSide }, // nothing is decoded
    wrapper: '',
    layoutChoice: 'folders',
    layout: 'folders',
    identityRule: { kind: 'before-first-dot' },
    images,
    rejected: [],
    skipped: [],
    updatedAt: new Date().toISOString(),
  };
  const opened = await writeCache(cachePath, index, pixels);
  return datasetFromCache(opened, cachePath, { decoded: count, reused: 0, removed: 0, started }, pixels);
}
