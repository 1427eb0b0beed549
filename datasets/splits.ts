// Splits of an imported dataset into training and test images: per identity for
// classification, by whole identities for verification. Pure functions of the
// dataset's layout and a seed, so one seed gives the same split on every machine.

import { DatasetError } from './errors';
import { Rng } from './random';

/** The minimal description of an imported dataset that splits and pairs need. */
export interface DatasetLayout {
  /** Identity names, index = identity id. */
  readonly identities: readonly string[];
  /**
   * For each image, its identity id. Images of one identity are in their natural
   * order: image number n (1-based, as LFW's pairs.txt numbers them) is the n-th
   * image of that identity in this array, e.g. ORL `s1/3.pgm` is number 3.
   */
  readonly imageIdentity: Int32Array | readonly number[];
}

export interface ClassificationSplitOptions {
  /** Fraction of each identity's images held out for testing, in (0, 1); rounded per identity. */
  readonly holdOutFraction: number;
  readonly seed: number;
  /**
   * Images of each identity always kept for training (default 1). An identity with
   * no more images than this has none held out.
   */
  readonly minTrainPerIdentity?: number;
}

export interface ClassificationSplit {
  /** Image indices, ascending. */
  readonly train: Int32Array;
  /** Image indices, ascending. */
  readonly test: Int32Array;
}

export interface IdentityDisjointSplitOptions {
  /** Fraction of the identities held out for testing, in (0, 1); rounded. */
  readonly holdOutFraction: number;
  readonly seed: number;
}

export interface IdentityDisjointSplit {
  /** Identity ids, ascending. */
  readonly trainIdentities: Int32Array;
  /** Identity ids, ascending. */
  readonly testIdentities: Int32Array;
  /** Image indices of the training identities, ascending. */
  readonly train: Int32Array;
  /** Image indices of the test identities, ascending. */
  readonly test: Int32Array;
}

// Keys that keep the random streams of different uses of one seed apart.
const CLASSIFICATION_STREAM = 0x5c1a;
const IDENTITY_STREAM = 0x1d5e;

/**
 * Image indices of each identity, in their natural order (index = identity id).
 * Throws a RangeError when the layout is inconsistent (a bug in whoever made it).
 */
export function imagesByIdentity(layout: DatasetLayout): Int32Array[] {
  const count = layout.identities.length;
  const sizes = new Int32Array(count);
  const ids = layout.imageIdentity;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (!Number.isInteger(id) || id < 0 || id >= count) {
      throw new RangeError(`Image ${i} has identity id ${id}, but the layout has ${count} identities`);
    }
    sizes[id] = (sizes[id] as number) + 1;
  }
  const groups = Array.from(sizes, (n) => new Int32Array(n));
  const filled = new Int32Array(count);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    const at = filled[id] as number;
    (groups[id] as Int32Array)[at] = i;
    filled[id] = at + 1;
  }
  return groups;
}

/**
 * Per identity, a fixed fraction of its images held out for testing, chosen at
 * random from `seed`. An identity with n >= 2 images has round(n * fraction)
 * held out, but at least 1 and at most n - minTrainPerIdentity; an identity with
 * 1 image (or no more than minTrainPerIdentity) is kept whole for training. Each
 * identity's choice depends only on the seed and its id, so adding identities
 * does not reshuffle the others. Every image lands in exactly one part.
 */
export function classificationSplit(layout: DatasetLayout, options: ClassificationSplitOptions): ClassificationSplit {
  const fraction = checkFraction(options.holdOutFraction, 'of each identity\'s images');
  const minTrain = options.minTrainPerIdentity ?? 1;
  if (!Number.isInteger(minTrain) || minTrain < 1) {
    throw new DatasetError(
      `The minimum number of training images per identity must be a whole number of at least 1, got ${minTrain}`,
      'Keep at least one image of every identity for training (the default is 1).',
    );
  }
  const groups = imagesByIdentity(layout);
  const populated = groups.filter((g) => g.length > 0).length;
  if (populated < 2) {
    throw new DatasetError(
      `A classification split needs at least 2 identities with images; this dataset has ${populated}`,
      'Add face images of at least one more person (one folder per person, or one file-name prefix per person).',
    );
  }

  const train: number[] = [];
  const test: number[] = [];
  groups.forEach((images, id) => {
    const n = images.length;
    let held = 0;
    if (n >= 2) held = Math.max(0, Math.min(Math.max(Math.round(n * fraction), 1), n - minTrain));
    const order = Rng.derive(options.seed, CLASSIFICATION_STREAM, id).shuffle(Array.from(images));
    for (let k = 0; k < n; k++) (k < held ? test : train).push(order[k] as number);
  });

  if (test.length === 0) {
    throw new DatasetError(
      `No identity has more than ${minTrain} image${minTrain === 1 ? '' : 's'}, so no image can be held out for testing`,
      `Add images so that identities have at least ${minTrain + 1} each${minTrain > 1 ? ', or keep fewer images per identity for training' : ''}.`,
    );
  }
  return { train: sortedInt32(train), test: sortedInt32(test) };
}

/**
 * Whole identities held out for testing (for verification: no test person is ever
 * seen in training), chosen at random from `seed`. round(identities * fraction)
 * identities are held out; identities without images take no part. Throws when
 * fewer than 2 identities would be left on either side.
 */
export function identityDisjointSplit(layout: DatasetLayout, options: IdentityDisjointSplitOptions): IdentityDisjointSplit {
  const fraction = checkFraction(options.holdOutFraction, 'of the identities');
  const groups = imagesByIdentity(layout);
  const ids: number[] = [];
  groups.forEach((images, id) => {
    if (images.length > 0) ids.push(id);
  });
  const total = ids.length;
  if (total < 4) {
    throw new DatasetError(
      `An identity-disjoint split needs at least 4 identities with images (2 for training, 2 for testing); this dataset has ${total}`,
      'Add face images of more people, or use a classification split (per identity) instead.',
    );
  }
  const held = Math.round(total * fraction);
  if (held < 2 || total - held < 2) {
    const low = Math.ceil((2 / total) * 100) / 100;
    const high = Math.floor(((total - 2) / total) * 100) / 100;
    throw new DatasetError(
      `Holding out ${fraction} of ${total} identities leaves ${held} for testing and ${total - held} for training, and each side needs at least 2`,
      `Choose a hold-out fraction between ${low} and ${high}.`,
    );
  }

  Rng.derive(options.seed, IDENTITY_STREAM).shuffle(ids);
  const testIdentities = Int32Array.from(ids.slice(0, held)).sort();
  const trainIdentities = Int32Array.from(ids.slice(held)).sort();
  return {
    trainIdentities,
    testIdentities,
    train: imagesOf(trainIdentities, groups),
    test: imagesOf(testIdentities, groups),
  };
}

function checkFraction(fraction: number, what: string): number {
  if (!Number.isFinite(fraction) || fraction <= 0 || fraction >= 1) {
    throw new DatasetError(
      `The hold-out fraction ${what} must be between 0 and 1 (both excluded), got ${fraction}`,
      'Choose a fraction such as 0.2 (one in five held out for testing).',
    );
  }
  return fraction;
}

function imagesOf(identities: Int32Array, groups: readonly Int32Array[]): Int32Array {
  const out: number[] = [];
  for (const id of identities) for (const image of groups[id] as Int32Array) out.push(image);
  return sortedInt32(out);
}

function sortedInt32(values: number[]): Int32Array {
  return Int32Array.from(values).sort();
}
