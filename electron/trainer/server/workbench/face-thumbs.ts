// Small grey PNGs of stored faces, for the Data view (and anything else that shows faces).
import { REFERENCE_INPUT_SIZE, REFERENCE_STORED_SIZE } from '../../../../datasets/preprocess';
import type { FaceDataset } from '../../../../datasets';
import { facePng } from '../../../../datasets/face-png';
import { TaskPool } from '../../../../datasets/pool';
import { imagesByIdentity as groupByIdentity } from '../../../../datasets/splits';
import type { FaceThumb } from '#protocol/workbench';

/**
 * The side of the crop the network sees in a stored face (the inverse of storedSizeFor:
 * stored = round(input * 144/128), which never maps two inputs to one stored size).
 */
export function networkCrop(storedSize: number): number {
  return Math.min(storedSize, Math.max(1, Math.round((storedSize * REFERENCE_INPUT_SIZE) / REFERENCE_STORED_SIZE)));
}

/**
 * One stored face as a `size` x `size` grey PNG data: URL: its centre crop, the part the
 * network sees at evaluation (the margin is only there for random training crops).
 */
export async function faceThumb(dataset: FaceDataset, image: number, size: number): Promise<FaceThumb> {
  return { image, png: await facePng(dataset, image, networkCrop(dataset.storedSize), size) };
}

/** `count` of `items` spread evenly (the middle of each equal share), all of them when there are not more. */
export function evenlySpaced<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor(((2 * i + 1) * items.length) / (2 * count))] as T);
}

/** The image indices of each identity, in dataset order. */
export function imagesByIdentity(dataset: FaceDataset): number[][] {
  return groupByIdentity(dataset).map((images) => Array.from(images));
}

/** Runs `task` over `items` with at most `limit` at once (sharp has a thread pool; thousands of pending jobs only cost memory). */
export async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const pool = new TaskPool(limit);
  for (const [i, item] of items.entries()) await pool.run(async () => void (results[i] = await task(item)));
  await pool.drain();
  return results;
}
