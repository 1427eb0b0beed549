// The built-in synthetic face set: procedurally drawn, face-like grey images for
// zero-setup offline demos and tests. Not real people, and always named so.
//
// This module is the public API: the options, the identity names, the
// generator version and renderSyntheticFace. Every identity has a fixed geometry
// and every image its own variation of pose, lighting and expression, all drawn
// from the seed (synthetic-params.ts), so asking for more identities or more
// images never changes the ones already drawn; synthetic-draw.ts rasterises them.
import { drawFace } from './synthetic-draw';
import { drawIdentity, drawVariation, imageRng } from './synthetic-params';

export interface SyntheticOptions {
  /** How many different people. */
  identities: number;
  /** How many images of each. */
  imagesPerIdentity: number;
  /** Side of the square grey image, in pixels. */
  size: number;
  /** The same seed always draws the same faces, byte for byte. */
  seed: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticOptions = Object.freeze({
  identities: 20,
  imagesPerIdentity: 12,
  size: 128,
  seed: 1,
});

/** Prefix of every synthetic identity's name, so it is never taken for a real person. */
export const SYNTHETIC_IDENTITY_PREFIX = 'synthetic-';

/** `synthetic-001` for identity 0: numbered from 1 like the images, padded to 3 digits. */
export function syntheticIdentityName(i: number): string {
  if (!Number.isInteger(i) || i < 0) throw new RangeError(`identity index must be a non-negative integer, not ${i}`);
  return `${SYNTHETIC_IDENTITY_PREFIX}${String(i + 1).padStart(3, '0')}`;
}

/**
 * Bumped whenever a change to the drawing changes the pixels for the same
 * options, so caches of rendered sets can tell a stale copy from a current one.
 */
export const SYNTHETIC_GENERATOR_VERSION = 1;

/** Side lengths outside this range are refused: too small to show a face, or absurdly large. */
const MIN_SIZE = 8;
const MAX_SIZE = 4096;

function checkOptions(options: SyntheticOptions, identity: number, image: number): void {
  const { identities, imagesPerIdentity, size, seed } = options;
  if (!Number.isInteger(identities) || identities < 1) throw new RangeError(`identities must be a positive integer, not ${identities}`);
  if (!Number.isInteger(imagesPerIdentity) || imagesPerIdentity < 1) {
    throw new RangeError(`imagesPerIdentity must be a positive integer, not ${imagesPerIdentity}`);
  }
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
    throw new RangeError(`size must be an integer from ${MIN_SIZE} to ${MAX_SIZE}, not ${size}`);
  }
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, not ${seed}`);
  if (!Number.isInteger(identity) || identity < 0 || identity >= identities) {
    throw new RangeError(`identity must be an integer in [0, ${identities}), not ${identity}`);
  }
  if (!Number.isInteger(image) || image < 0 || image >= imagesPerIdentity) {
    throw new RangeError(`image must be an integer in [0, ${imagesPerIdentity}), not ${image}`);
  }
}

/**
 * One synthetic face: `size * size` grey bytes, row-major, top row first.
 * Deterministic in (options.seed, identity, image, size); the other options only
 * bound the indices.
 */
export function renderSyntheticFace(options: SyntheticOptions, identity: number, image: number): Uint8Array {
  checkOptions(options, identity, image);
  const id = drawIdentity(options.seed, identity);
  const rng = imageRng(options.seed, identity, image);
  const v = drawVariation(rng, id);
  return drawFace(id, v, options.size, rng);
}
