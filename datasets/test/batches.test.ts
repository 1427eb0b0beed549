import * as tf from '@tensorflow/tfjs';
import type { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batches,
  batchWorkerOf,
  cropPlan,
  epochBatchCount,
  epochOrder,
  toSharedPixels,
  type BatchIterator,
  type BatchOptions,
  type BatchSource,
} from '../batches';
import { assembleBatch } from '../batch-kernel';
import { centreOffset, cropInto, storedSizeFor } from '../preprocess';
import { Rng } from '../random';

const INPUT = 32;
const STORED = 36; // storedSizeFor(32)
const AREA = STORED * STORED;
const PLANE = INPUT * INPUT;
const N = 50;

/** N random faces (pure noise, so every crop position is recognisable), shared memory. */
function makeSource(seed = 7): BatchSource {
  const rng = new Rng(seed);
  const pixels = toSharedPixels(Uint8Array.from({ length: N * AREA }, () => rng.int(256)));
  pixels[0] = 0; // make sure both ends of the range occur inside a centre crop
  pixels[2 * STORED + 2] = 0;
  pixels[2 * STORED + 3] = 255;
  // labels deliberately not the image index: image i is identity (7 i) mod 11
  const labels = Int32Array.from({ length: N }, (_, i) => (7 * i) % 11);
  return { pixels, storedSize: STORED, labels };
}

const ALL = Int32Array.from({ length: N }, (_, i) => i);

function options(overrides: Partial<BatchOptions> = {}): BatchOptions {
  return {
    indices: ALL,
    batchSize: 8,
    inputSize: INPUT,
    augment: true,
    shuffle: true,
    seed: 42,
    prefetch: 0,
    ...overrides,
  };
}

interface Plain {
  xs: Float32Array;
  ys: Int32Array;
  indices: Int32Array;
  shape: number[];
}

/** Consumes a whole iterator into plain arrays, disposing every batch. */
async function collect(iterator: BatchIterator): Promise<Plain[]> {
  const out: Plain[] = [];
  for await (const batch of iterator) {
    out.push({
      xs: batch.xs.dataSync() as Float32Array,
      ys: batch.ys.dataSync() as Int32Array,
      indices: batch.indices,
      shape: batch.xs.shape,
    });
    expect(batch.ys.dtype).toBe('int32');
    expect(batch.xs.dtype).toBe('float32');
    batch.dispose();
  }
  return out;
}

/** Hand-computed crop of a stored image, straight from the definition. */
function handCrop(source: BatchSource, image: number, x0: number, y0: number, flip: boolean): Float32Array {
  const out = new Float32Array(PLANE);
  for (let y = 0; y < INPUT; y++) {
    for (let x = 0; x < INPUT; x++) {
      const sx = flip ? x0 + INPUT - 1 - x : x0 + x;
      out[y * INPUT + x] = Math.fround((source.pixels[image * AREA + (y0 + y) * STORED + sx] as number) / 255);
    }
  }
  return out;
}

function sameFloats(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Finds which (x0, y0, flip) of `image` produced `crop`; the noise makes it unique. */
function recoverCrop(source: BatchSource, image: number, crop: Float32Array): [number, number, number][] {
  const found: [number, number, number][] = [];
  for (let y0 = 0; y0 <= STORED - INPUT; y0++) {
    for (let x0 = 0; x0 <= STORED - INPUT; x0++) {
      for (const flip of [0, 1]) {
        if (sameFloats(handCrop(source, image, x0, y0, flip === 1), crop)) found.push([x0, y0, flip]);
      }
    }
  }
  return found;
}

/** Resolves with the exit code when the thread has exited (events.once would reject on 'error'). */
function exitOf(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

function imageOf(batch: Plain, k: number): Float32Array {
  return batch.xs.subarray(k * PLANE, (k + 1) * PLANE);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('preprocess', () => {
  it('stores faces at inputSize * 144/128 and centres the evaluation crop', () => {
    expect(storedSizeFor(128)).toBe(144);
    expect(storedSizeFor(64)).toBe(72);
    expect(storedSizeFor(32)).toBe(STORED);
    expect(centreOffset(144, 128)).toBe(8);
    expect(centreOffset(STORED, INPUT)).toBe(2);
    expect(() => storedSizeFor(0)).toThrow(RangeError);
    expect(() => centreOffset(32, 36)).toThrow(RangeError);
  });

  it('cropInto equals a hand computation and a flip mirrors each row exactly', () => {
    const source = makeSource();
    const plain = new Float32Array(PLANE + 5);
    const flipped = new Float32Array(PLANE + 5);
    cropInto(source.pixels, 3, STORED, INPUT, 1, 4, false, plain, 5);
    cropInto(source.pixels, 3, STORED, INPUT, 1, 4, true, flipped, 5);
    expect(sameFloats(plain.subarray(5), handCrop(source, 3, 1, 4, false))).toBe(true);
    for (let y = 0; y < INPUT; y++) {
      for (let x = 0; x < INPUT; x++) {
        expect(flipped[5 + y * INPUT + x]).toBe(plain[5 + y * INPUT + (INPUT - 1 - x)]);
      }
    }
    expect(plain.subarray(0, 5).every((v) => v === 0)).toBe(true); // nothing written before outOffset
  });

  it('cropInto refuses crops out of bounds instead of writing NaN', () => {
    const source = makeSource();
    const out = new Float32Array(PLANE);
    expect(() => cropInto(source.pixels, 0, STORED, INPUT, 5, 0, false, out, 0)).toThrow(RangeError);
    expect(() => cropInto(source.pixels, 0, STORED, INPUT, 0, -1, false, out, 0)).toThrow(RangeError);
    expect(() => cropInto(source.pixels, N, STORED, INPUT, 0, 0, false, out, 0)).toThrow(RangeError);
    expect(() => cropInto(source.pixels, 0, STORED, INPUT, 0, 0, false, out, 1)).toThrow(RangeError);
  });
});

describe('batches in-thread (prefetch 0)', () => {
  it('evaluation batches are the centre crop, unflipped, in [0, 1], with the labels of their images', async () => {
    const source = makeSource();
    const got = await collect(batches(source, options({ augment: false, shuffle: false })));
    let min = Infinity;
    let max = -Infinity;
    let seen = 0;
    for (const batch of got) {
      for (let k = 0; k < batch.indices.length; k++) {
        const image = batch.indices[k] as number;
        expect(image).toBe(seen++);
        expect(sameFloats(imageOf(batch, k), handCrop(source, image, 2, 2, false))).toBe(true);
        expect(batch.ys[k]).toBe(source.labels[image]);
      }
      for (const v of batch.xs) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    expect(seen).toBe(N);
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it('training crops stay in bounds, cover many offsets and both flips, and follow the seeded plan', async () => {
    const source = makeSource();
    const got = await collect(batches(source, options({ epoch: 3 })));
    const offsets = new Set<string>();
    let flips = 0;
    let total = 0;
    for (const [b, batch] of got.entries()) {
      const plan = cropPlan(batch.indices.length, STORED, INPUT, 42, 3, b);
      for (let k = 0; k < batch.indices.length; k++) {
        const image = batch.indices[k] as number;
        const found = recoverCrop(source, image, imageOf(batch, k));
        expect(found).toHaveLength(1); // the crop is exactly one in-bounds window of its own image
        const [x0, y0, flip] = found[0] as [number, number, number];
        expect([x0, y0, flip]).toEqual([plan[3 * k], plan[3 * k + 1], plan[3 * k + 2]]);
        expect(batch.ys[k]).toBe(source.labels[image]);
        offsets.add(`${x0},${y0}`);
        flips += flip;
        total++;
      }
    }
    expect(total).toBe(N);
    expect(offsets.size).toBeGreaterThanOrEqual(12); // of 25 possible, over 50 draws
    expect(flips).toBeGreaterThan(10);
    expect(flips).toBeLessThan(40);
  });

  it('the crop plan depends only on (seed, epoch, batch)', () => {
    const a = cropPlan(8, STORED, INPUT, 42, 1, 2);
    expect(cropPlan(8, STORED, INPUT, 42, 1, 2)).toEqual(a);
    expect(cropPlan(8, STORED, INPUT, 42, 1, 3)).not.toEqual(a);
    expect(cropPlan(8, STORED, INPUT, 42, 2, 2)).not.toEqual(a);
    expect(cropPlan(8, STORED, INPUT, 43, 1, 2)).not.toEqual(a);
    for (let i = 0; i < a.length; i += 3) {
      expect(a[i]).toBeGreaterThanOrEqual(0);
      expect(a[i]).toBeLessThanOrEqual(STORED - INPUT);
    }
  });

  it('shuffle is a permutation of the given indices, new every epoch, the same for the same seed', async () => {
    const source = makeSource();
    const train = Int32Array.from({ length: 25 }, (_, i) => 2 * i + 1); // a "split": odd images only
    const orderOf = async (seed: number, epoch: number) =>
      (await collect(batches(source, options({ indices: train, seed, epoch, augment: false })))).flatMap((b) => [
        ...b.indices,
      ]);
    const e0 = await orderOf(42, 0);
    const e1 = await orderOf(42, 1);
    expect([...e0].sort((x, y) => x - y)).toEqual([...train]);
    expect([...e1].sort((x, y) => x - y)).toEqual([...train]);
    expect(e0).not.toEqual([...train]);
    expect(e1).not.toEqual(e0);
    expect(await orderOf(42, 0)).toEqual(e0);
    expect(await orderOf(43, 0)).not.toEqual(e0);
    expect(epochOrder(train, true, 42, 0)).toEqual(Int32Array.from(e0));
    expect(epochOrder(train, false, 42, 0)).toEqual(train);
  });

  it('the last partial batch is kept or dropped per dropLast', async () => {
    const source = makeSource();
    const kept = await collect(batches(source, options({ dropLast: false })));
    expect(kept.map((b) => b.indices.length)).toEqual([8, 8, 8, 8, 8, 8, 2]);
    expect(kept.at(-1)?.shape).toEqual([2, INPUT, INPUT, 1]);
    const dropped = await collect(batches(source, options({ dropLast: true })));
    expect(dropped.map((b) => b.indices.length)).toEqual([8, 8, 8, 8, 8, 8]);
    expect(dropped[0]?.shape).toEqual([8, INPUT, INPUT, 1]);
    expect(epochBatchCount(50, 8, false)).toBe(7);
    expect(epochBatchCount(50, 8, true)).toBe(6);
    expect(epochBatchCount(48, 8, false)).toBe(6);
    expect(epochBatchCount(0, 8, false)).toBe(0);
    expect(await collect(batches(source, options({ indices: new Int32Array(0) })))).toEqual([]);
  });

  it('rejects bad options with a clear error', () => {
    const source = makeSource();
    expect(() => batches(source, options({ indices: Int32Array.of(0, N) }))).toThrow(/image index 50 is outside/);
    expect(() => batches(source, options({ inputSize: 40 }))).toThrow(RangeError);
    expect(() => batches(source, options({ batchSize: 0 }))).toThrow(RangeError);
    expect(() => batches(source, options({ prefetch: -1 }))).toThrow(RangeError);
  });
});

describe('batches in a worker thread', () => {
  it('gives byte-identical batches to the in-thread mode (prefetch 2 vs 0)', async () => {
    const source = makeSource();
    for (const augment of [true, false]) {
      for (const epoch of [0, 1]) {
        const inThread = await collect(batches(source, options({ augment, epoch, prefetch: 0 })));
        const worker = await collect(batches(source, options({ augment, epoch, prefetch: 2 })));
        expect(worker).toHaveLength(inThread.length);
        for (const [b, batch] of worker.entries()) {
          const reference = inThread[b] as Plain;
          expect(sameFloats(batch.xs, reference.xs)).toBe(true);
          expect(batch.ys).toEqual(reference.ys);
          expect(batch.indices).toEqual(reference.indices);
          expect(batch.shape).toEqual(reference.shape);
        }
      }
    }
  });

  it('also works from unshared pixels (copied once into shared memory)', async () => {
    const shared = makeSource();
    const unshared: BatchSource = { ...shared, pixels: Uint8Array.from(shared.pixels) };
    const a = await collect(batches(unshared, options({ prefetch: 1 })));
    const b = await collect(batches(shared, options({ prefetch: 0 })));
    expect(a.map((x) => [...x.xs])).toEqual(b.map((x) => [...x.xs]));
  });

  it('does not leak tensors over 200 batches (worker and in-thread)', async () => {
    const source = makeSource();
    for (const prefetch of [2, 0]) {
      // one batch first, so that tfjs' own lazily created state is not counted
      const warm = batches(source, options({ prefetch }));
      (await warm.next()).value?.dispose();
      await warm.close();
      const before = tf.memory().numTensors;
      let taken = 0;
      for (let epoch = 0; taken < 200; epoch++) {
        for await (const batch of batches(source, options({ epoch, prefetch, batchSize: 4 }))) {
          batch.dispose();
          if (++taken === 200) break;
        }
      }
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('breaking out of for-await terminates the worker', async () => {
    const source = makeSource();
    const iterator = batches(source, options({ prefetch: 2 }));
    let exited: Promise<unknown> | undefined;
    for await (const batch of iterator) {
      batch.dispose();
      const worker = batchWorkerOf(iterator);
      expect(worker).toBeDefined();
      exited = exitOf(worker!);
      break;
    }
    await exited; // resolves only if the thread really exited
    expect(batchWorkerOf(iterator)).toBeUndefined();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('close() while a batch is awaited ends the iteration instead of hanging', async () => {
    const source = makeSource();
    const iterator = batches(source, options({ prefetch: 2 }));
    const first = iterator.next();
    const worker = batchWorkerOf(iterator)!;
    const exited = exitOf(worker);
    await iterator.close();
    await exited;
    expect(await first).toEqual({ done: true, value: undefined });
  });

  it('the worker stops by itself at the end of the epoch', async () => {
    const source = makeSource();
    const iterator = batches(source, options({ prefetch: 3 }));
    const first = await iterator.next();
    first.value?.dispose();
    const exited = exitOf(batchWorkerOf(iterator)!);
    const rest = await collect(iterator);
    expect(rest).toHaveLength(6);
    await exited;
    expect(batchWorkerOf(iterator)).toBeUndefined();
  });

  it('a worker that dies surfaces as an error on the next next(), not a hang', async () => {
    const source = makeSource();
    const iterator = batches(source, options({ prefetch: 2 }));
    (await iterator.next()).value?.dispose();
    await batchWorkerOf(iterator)!.terminate(); // as if the thread had been killed
    await expect(iterator.next()).rejects.toThrow(/batch worker thread exited unexpectedly/);
    await expect(iterator.next()).rejects.toThrow(/batch worker thread exited unexpectedly/); // and stays failed
    await iterator.close();
  });

  it('an exception in the worker surfaces with its message', async () => {
    const source = makeSource();
    const iterator = batches(source, options({ prefetch: 1 }));
    (await iterator.next()).value?.dispose();
    const worker = batchWorkerOf(iterator)!;
    const exited = exitOf(worker);
    worker.postMessage({ type: 'nonsense' }); // the worker throws on it
    await exited;
    await expect(iterator.next()).rejects.toThrow(/batch worker thread failed: .*unknown message/);
    await iterator.close();
  });

  it('reads the pixels from shared memory: no copy at start or per batch', async () => {
    const source = makeSource();
    expect(toSharedPixels(source.pixels)).toBe(source.pixels); // already shared: same array back
    const plain = Uint8Array.of(1, 2, 3);
    const copy = toSharedPixels(plain);
    expect(copy.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...copy]).toEqual([1, 2, 3]);

    // Change image 30 (in batch 3) after the worker started but before batch 3 is asked
    // for: the worker sees the change only if it reads the very memory we wrote.
    const iterator = batches(source, options({ augment: false, shuffle: false, prefetch: 1 }));
    (await iterator.next()).value?.dispose(); // batches 0 and 1 requested
    source.pixels.fill(255, 30 * AREA, 31 * AREA);
    const got = await collect(iterator); // batches 1..6; batch 3 is requested after the write
    const batch3 = got[2] as Plain;
    expect(batch3.indices[6]).toBe(30);
    expect(imageOf(batch3, 6).every((v) => v === 1)).toBe(true);
  });
});

describe('batch kernel', () => {
  it('assembles into given buffers and checks their sizes', () => {
    const source = makeSource();
    const xs = new Float32Array(2 * PLANE);
    const ys = new Int32Array(2);
    const images = Int32Array.of(4, 9);
    const result = assembleBatch(source.pixels, STORED, INPUT, images, source.labels, Int32Array.of(0, 4, 1, 3, 0, 0), xs, ys);
    expect(result.xs).toBe(xs);
    expect(sameFloats(xs.subarray(0, PLANE), handCrop(source, 4, 0, 4, true))).toBe(true);
    expect(sameFloats(xs.subarray(PLANE), handCrop(source, 9, 3, 0, false))).toBe(true);
    expect([...ys]).toEqual([source.labels[4], source.labels[9]]);
    expect(() => assembleBatch(source.pixels, STORED, INPUT, images, source.labels, new Int32Array(3))).toThrow(RangeError);
    expect(() => assembleBatch(source.pixels, STORED, INPUT, images, source.labels, null, new Float32Array(5))).toThrow(
      RangeError,
    );
  });
});

describe('startBatch (a resumed run continues mid-epoch)', () => {
  it('skips the first batches and yields exactly the rest of the epoch, in both modes', async () => {
    const images = 20;
    const storedSize = 36;
    const pixels = new Uint8Array(images * storedSize * storedSize).map((_, i) => (i * 31) & 255);
    const labels = Int32Array.from({ length: images }, (_, i) => i % 4);
    const source = { pixels, storedSize, labels };
    const base = { indices: Int32Array.from({ length: images }, (_, i) => i), batchSize: 6, inputSize: 32, augment: true, shuffle: true, seed: 5, epoch: 2 };
    const collect = async (options: Parameters<typeof batches>[1]) => {
      const out: Array<{ indices: number[]; xs: number[] }> = [];
      for await (const batch of batches(source, options)) {
        out.push({ indices: [...batch.indices], xs: [...(await batch.xs.data())] });
        batch.dispose();
      }
      return out;
    };
    const full = await collect({ ...base, prefetch: 0 });
    expect(await collect({ ...base, prefetch: 0, startBatch: 2 })).toEqual(full.slice(2));
    expect(await collect({ ...base, prefetch: 2, startBatch: 2 })).toEqual(full.slice(2));
    expect(await collect({ ...base, prefetch: 0, startBatch: 9 })).toEqual([]);
  });
});
