// What of an evaluation's pairs the run trained on: the people the pairs name that the run
// learned (by identity name) and the pair images it took gradients from (by content: a file's
// SHA-256, a synthetic face's stored pixels). A verification figure measured on people or
// images the model trained on is not comparable with published ones (LFW's View 2 is for
// models trained on other data), so the evaluation reports the overlap, never silently.
import { createHash } from 'node:crypto';
import type { FaceDataset } from '../../../datasets';

/** Identity names an overlap lists at most (the count is always whole). */
export const MAX_OVERLAP_NAMES = 20;

export interface Overlap {
  /** False when the run's training data could not be compared (then `note` says why). */
  readonly checked: boolean;
  /** Identities named by the pairs that the run trained on. */
  readonly identities: number;
  /** Their names, sorted, at most MAX_OVERLAP_NAMES. */
  readonly identityNames: readonly string[];
  /** Distinct pair images the run trained on (same content). */
  readonly images: number;
  /**
   * Identities of the pairs named like IDs (`s1`, `0001`, `n000002`, `m.0abc12`) in a dataset
   * other than the one the run trained on: such names say nothing across datasets, so they are
   * not compared (their images still are, by content).
   */
  readonly idNamesNotCompared?: number;
  readonly note?: string;
}

/** What a run trained on: identity names (as identityKey gives them) and image content keys. */
export interface TrainedOn {
  readonly identities: ReadonlySet<string>;
  readonly images: ReadonlySet<string>;
}

/**
 * A person's name as compared across datasets: Unicode-normalised (NFKC), lower case, with runs
 * of spaces and underscores as one space ("George_W_Bush" and "george w bush" are one person).
 */
export function identityKey(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/[\s_]+/g, ' ').trim();
}

/**
 * A name that is an ID rather than a person's name: CASIA-WebFace's 0000045, VGGFace2's n000002,
 * MS-Celeb's m.0abc12. (Short labels such as ORL's s1 are compared as names: a false alarm there
 * is a warning to read, and the images are compared by content anyway.)
 */
export function isIdLikeName(name: string): boolean {
  const key = identityKey(name);
  return /^\d+$/.test(key) || /^[a-z]{0,2}\d{3,}$/.test(key) || /^m\.[0-9a-z_]+$/.test(key);
}

/** An overlap that could not be checked, and why. */
export function overlapNotChecked(note: string): Overlap {
  return { checked: false, identities: 0, identityNames: [], images: 0, note };
}

/**
 * A content key per image: its file's SHA-256, or for an image without one (a synthetic face,
 * drawn rather than read) the SHA-256 of its stored pixels, which are the same only for the
 * same face at the same input size.
 */
export async function imageKeys(dataset: FaceDataset, indices: Iterable<number>): Promise<Map<number, string>> {
  const keys = new Map<number, string>();
  let pixels: Uint8Array | undefined;
  const faceBytes = dataset.storedSize * dataset.storedSize;
  for (const i of indices) {
    if (keys.has(i)) continue;
    const image = dataset.images[i];
    if (!image) throw new Error(`imageKeys: no image ${i} in ${dataset.name}`);
    if (image.sha256 !== '') {
      keys.set(i, `file:${image.sha256}`);
      continue;
    }
    pixels ??= await dataset.pixels();
    const face = pixels.subarray(i * faceBytes, (i + 1) * faceBytes);
    keys.set(i, `pixels:${dataset.storedSize}:${createHash('sha256').update(face).digest('hex')}`);
  }
  return keys;
}

/** What a run learned from: the identities and images of its training split. */
export async function trainedOn(dataset: FaceDataset, trainImages: ArrayLike<number>): Promise<TrainedOn> {
  const indices = Array.from(trainImages);
  const identities = new Set(indices.map((i) => identityKey(dataset.identities[dataset.imageIdentity[i] as number] as string)));
  return { identities, images: new Set((await imageKeys(dataset, indices)).values()) };
}

/**
 * The identities and images of the pairs (`a`, `b`: image indices into `evaluated`) that the run
 * trained on. `sameDataset`: the pairs are on the run's own training dataset, where ID-like
 * names do name the same people.
 */
export async function pairOverlap(
  evaluated: FaceDataset,
  pairs: { readonly a: ArrayLike<number>; readonly b: ArrayLike<number> },
  trained: TrainedOn,
  options: { readonly sameDataset?: boolean } = {},
): Promise<Overlap> {
  const images = new Set<number>([...Array.from(pairs.a), ...Array.from(pairs.b)]);
  const names = new Set<string>();
  const idNames = new Set<string>();
  for (const i of images) {
    const name = evaluated.identities[evaluated.imageIdentity[i] as number] as string;
    if (options.sameDataset !== true && isIdLikeName(name)) idNames.add(name);
    else if (trained.identities.has(identityKey(name))) names.add(name);
  }
  let seenImages = 0;
  const counted = new Set<string>();
  for (const key of (await imageKeys(evaluated, images)).values()) {
    if (trained.images.has(key) && !counted.has(key)) {
      counted.add(key);
      seenImages++;
    }
  }
  const sorted = [...names].sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
  return {
    checked: true,
    identities: sorted.length,
    identityNames: sorted.slice(0, MAX_OVERLAP_NAMES),
    images: seenImages,
    ...(idNames.size > 0 ? { idNamesNotCompared: idNames.size } : {}),
  };
}

/** The overlap in a few words (its note apart), for the command line and the notes. */
export function describeOverlap(overlap: Overlap): string {
  if (!overlap.checked) return 'not checked';
  const ids = overlap.idNamesNotCompared
    ? ` (${overlap.idNamesNotCompared} of the pairs' identities are named by IDs, which mean nothing across datasets: only their images were compared)`
    : '';
  if (overlap.identities === 0 && overlap.images === 0) return `none: the pairs name no identity of the same name and no image the run trained on${ids}`;
  const listed = overlap.identityNames.join(', ');
  const more = overlap.identities > overlap.identityNames.length ? `, and ${overlap.identities - overlap.identityNames.length} more` : '';
  const who = overlap.identities === 0 ? 'no identity' : `${overlap.identities} ${overlap.identities === 1 ? 'identity' : 'identities'} (${listed}${more})`;
  return `${who} and ${overlap.images} ${overlap.images === 1 ? 'image' : 'images'} the run trained on${ids}`;
}

/** True when the pairs share people or images with the run's training data. */
export function overlaps(overlap: Overlap): boolean {
  return overlap.checked && (overlap.identities > 0 || overlap.images > 0);
}
