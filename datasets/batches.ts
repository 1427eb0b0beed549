// Mini-batches for training and evaluation: shuffled, augmented (random crop +
// horizontal flip, as the Light CNN reference) or centre-cropped, as tfjs tensors
// (`batches`) or as plain arrays (`batchArrays`, for a compute core that makes its own
// tensors, perhaps in another context: see electron/trainer/training/compute-core.ts).
//
// Work split. The trainer thread decides everything random (the epoch's order and
// every crop offset and flip, from the seeded Rng: the order from (seed, epoch), the
// crops of batch b from (seed, epoch, b), never from timing). The pixel work (crop,
// flip, uint8 -> float32) runs either in-thread (`prefetch: 0`, the deterministic
// mode for tests) or in ONE worker thread that keeps up to `prefetch` batches in
// flight, so it stays off the training step's critical path. Both modes run the same
// kernel (batch-kernel.js) on the same decisions, so they yield byte-identical
// batches. The stored pixels reach the worker once, as a SharedArrayBuffer; only the
// small requests and the finished float buffers (transferred, not copied) travel per
// batch. Tensors are made on the consumer's thread, only when a batch is taken, so
// batches prefetched but never taken hold no tensors.
//
// Packaging: the worker is started from `new URL('./batch-worker.js', import.meta.url)`,
// which works as-is under tsx and vitest (the files sit next to this one). The app's
// bundler must ship batch-worker.js and batch-kernel.js (plain ESM JavaScript, no
// TypeScript loader needed) next to the trainer bundle, so that this URL, resolved
// against the bundle, finds them. In the packaged app that bundle is inside app.asar, which
// a worker thread of the utility process is not promised to read (Electron only tests a
// CommonJS worker from an asar, in the main process): electron-builder.yml unpacks both
// files, and the worker is started from the unpacked copy (unpackedUrl).

import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { assembleBatch, type AssembledBatch } from './batch-kernel';
import { unpackedUrl } from './asar-unpacked';
import { Rng } from './random';

export interface BatchSource {
  /** All stored images back to back, storedSize^2 uint8 each; may be backed by a SharedArrayBuffer. */
  pixels: Uint8Array;
  storedSize: number;
  /** Identity label per stored image. */
  labels: Int32Array;
}

export interface BatchOptions {
  /** Which images (e.g. the train split). */
  indices: Int32Array;
  batchSize: number;
  inputSize: number;
  /** Random crop + flip; false = centre crop, no flip. */
  augment: boolean;
  shuffle: boolean;
  seed: number;
  /** Default 0. With `seed`, the only source of the epoch's order and augmentation. */
  epoch?: number;
  /** Drop the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /**
   * Batches prepared ahead in a worker thread; 0 = in-thread (the deterministic mode
   * for tests; the output is the same either way). Default 2.
   */
  prefetch?: number;
  /** First batch of the epoch to hand out (a resumed run continues mid-epoch). Default 0. */
  startBatch?: number;
}

export interface Batch {
  /** [B, inputSize, inputSize, 1], float32 in [0, 1]. */
  xs: tf.Tensor4D;
  /** [B] int32 identity labels. */
  ys: tf.Tensor1D;
  /** The dataset indices of the B images, in batch order. */
  indices: Int32Array;
  dispose(): void;
}

/** One batch as plain arrays (structured-cloneable, no tensors). */
export interface BatchArrays {
  /** [count, inputSize, inputSize, 1] row-major, float32 in [0, 1]. */
  pixels: Float32Array;
  /** [count] int32 identity labels. */
  labels: Int32Array;
  /** The dataset indices of the images, in batch order. */
  indices: Int32Array;
  count: number;
  inputSize: number;
}

export type BatchIterator<T = Batch> = AsyncIterableIterator<T> & { close(): Promise<void> };

const DEFAULT_PREFETCH = 2;
/** Stream keys for Rng.derive, so that the order and the crops never share a stream. */
const STREAM_ORDER = 0x6f72; // 'or'
const STREAM_CROPS = 0x6372; // 'cr'

const WORKER_URL = unpackedUrl(new URL('./batch-worker.js', import.meta.url));

/** Number of batches in one epoch of `n` images. */
export function epochBatchCount(n: number, batchSize: number, dropLast: boolean): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, not ${batchSize}`);
  }
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * The pixels as a Uint8Array over a SharedArrayBuffer: the same array when it is
 * already shared, else one copy. Call it once on a dataset's pixels before making
 * batch iterators (one per epoch) so the worker mode never copies them again.
 */
export function toSharedPixels(pixels: Uint8Array): Uint8Array {
  if (pixels.buffer instanceof SharedArrayBuffer) return pixels;
  const shared = new Uint8Array(new SharedArrayBuffer(pixels.byteLength));
  shared.set(pixels);
  return shared;
}

/** The epoch's image order: `indices` as given, or shuffled from (seed, epoch) alone. */
export function epochOrder(indices: Int32Array, shuffle: boolean, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from(indices);
  return shuffle ? Rng.derive(seed, STREAM_ORDER, epoch).shuffle(order) : order;
}

/**
 * The augmentation of batch `batchIndex` of `epoch`: (x0, y0, flip 0|1) for each of
 * its `count` images, offsets uniform in 0 ..= storedSize - inputSize, flip with
 * probability 1/2, all from (seed, epoch, batchIndex) alone.
 */
export function cropPlan(
  count: number,
  storedSize: number,
  inputSize: number,
  seed: number,
  epoch: number,
  batchIndex: number,
): Int32Array {
  const positions = storedSize - inputSize + 1;
  const rng = Rng.derive(seed, STREAM_CROPS, epoch, batchIndex);
  const crops = new Int32Array(3 * count);
  for (let k = 0; k < count; k++) {
    crops[3 * k] = rng.int(positions);
    crops[3 * k + 1] = rng.int(positions);
    crops[3 * k + 2] = rng.next() < 0.5 ? 1 : 0;
  }
  return crops;
}

/**
 * One epoch of batches. Breaking out of `for await`, or `close()`, stops the worker.
 * A worker that dies makes the next `next()` reject with the cause (never a hang),
 * and every `next()` after it too.
 */
export function batches(source: BatchSource, options: BatchOptions): BatchIterator {
  return new Batches(source, options, toTensors);
}

/** The same batches as `batches`, as plain arrays: nothing to dispose. */
export function batchArrays(source: BatchSource, options: BatchOptions): BatchIterator<BatchArrays> {
  return new Batches(source, options, (data, indices, inputSize) => ({ pixels: data.xs, labels: data.ys, indices, count: indices.length, inputSize }));
}

function toTensors(data: AssembledBatch, indices: Int32Array, inputSize: number): Batch {
  const n = indices.length;
  const xs = tf.tensor4d(data.xs, [n, inputSize, inputSize, 1], 'float32');
  const ys = tf.tensor1d(data.ys, 'int32');
  return {
    xs,
    ys,
    indices,
    dispose() {
      xs.dispose();
      ys.dispose();
    },
  };
}

/** The worker thread behind an iterator, while it runs (for tests and diagnostics). */
export function batchWorkerOf(iterator: BatchIterator<unknown>): Worker | undefined {
  return iterator instanceof Batches ? iterator.currentWorker : undefined;
}

interface WorkerReply {
  type: 'batch';
  batch: number;
  xs: Float32Array;
  ys: Int32Array;
}

interface Pending {
  promise: Promise<AssembledBatch | null>;
  resolve(value: AssembledBatch | null): void;
  reject(error: Error): void;
}

function pending(): Pending {
  let resolve!: (value: AssembledBatch | null) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<AssembledBatch | null>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a failure nobody awaits yet is rethrown by the next next()
  return { promise, resolve, reject };
}

/** Makes what a batch iterator hands out from the assembled arrays. */
type MakeBatch<T> = (data: AssembledBatch, indices: Int32Array, inputSize: number) => T;

class Batches<T> implements AsyncIterableIterator<T> {
  private readonly pixels: Uint8Array;
  private readonly storedSize: number;
  private readonly labels: Int32Array;
  private readonly inputSize: number;
  private readonly batchSize: number;
  private readonly augment: boolean;
  private readonly seed: number;
  private readonly epoch: number;
  private readonly prefetch: number;
  private readonly order: Int32Array;
  private readonly count: number;

  /** Next batch to hand out. */
  private taken = 0;
  /** Batches whose result the worker has sent (worker mode); they wait in `slots` until taken. */
  private delivered = 0;
  /** Batches requested from the worker. */
  private requested = 0;
  private closed = false;
  private failure: Error | undefined;
  private worker: Worker | undefined;
  private stopping: Promise<void> | undefined;
  /** One per batch requested from the worker and not yet taken. */
  private readonly slots = new Map<number, Pending>();

  constructor(
    source: BatchSource,
    options: BatchOptions,
    private readonly make: MakeBatch<T>,
  ) {
    const { storedSize, pixels, labels } = source;
    const { inputSize, batchSize, indices } = options;
    const epoch = options.epoch ?? 0;
    const prefetch = options.prefetch ?? DEFAULT_PREFETCH;
    if (!Number.isInteger(storedSize) || storedSize < 1) {
      throw new RangeError(`storedSize must be a positive integer, not ${storedSize}`);
    }
    if (!Number.isInteger(inputSize) || inputSize < 1 || inputSize > storedSize) {
      throw new RangeError(`inputSize must be an integer from 1 to storedSize ${storedSize}, not ${inputSize}`);
    }
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`prefetch must be a non-negative integer, not ${prefetch}`);
    }
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, not ${epoch}`);
    const stored = Math.min(Math.floor(pixels.length / (storedSize * storedSize)), labels.length);
    for (const index of indices) {
      if (index < 0 || index >= stored) {
        throw new RangeError(
          `image index ${index} is outside the dataset (${stored} images with pixels and a label)`,
        );
      }
    }
    this.count = epochBatchCount(indices.length, batchSize, options.dropLast ?? false);
    this.pixels = pixels;
    this.storedSize = storedSize;
    this.labels = labels;
    this.inputSize = inputSize;
    this.batchSize = batchSize;
    this.augment = options.augment;
    this.seed = options.seed;
    this.epoch = epoch;
    this.prefetch = prefetch;
    this.order = epochOrder(indices, options.shuffle, options.seed, epoch);
    const startBatch = options.startBatch ?? 0;
    if (!Number.isInteger(startBatch) || startBatch < 0) throw new RangeError(`startBatch must be a non-negative integer, not ${startBatch}`);
    this.taken = this.requested = this.delivered = Math.min(startBatch, this.count);
  }

  get currentWorker(): Worker | undefined {
    return this.worker;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.failure) throw this.failure;
    if (this.closed || this.taken >= this.count) {
      await this.close();
      return { done: true, value: undefined };
    }
    const b = this.taken++;
    let data: AssembledBatch;
    if (this.prefetch === 0) {
      data = assembleBatch(
        this.pixels,
        this.storedSize,
        this.inputSize,
        this.imagesOf(b),
        this.labels,
        this.cropsOf(b),
      );
    } else {
      this.request();
      const slot = this.slots.get(b);
      if (slot === undefined) throw this.failure ?? new Error(`batch ${b} was never requested`);
      const result = await slot.promise; // rejects with the worker's failure
      this.slots.delete(b);
      if (result === null) return { done: true, value: undefined }; // closed meanwhile
      data = result;
    }
    return { done: false, value: this.make(data, this.imagesOf(b), this.inputSize) };
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots.values()) slot.resolve(null);
    this.slots.clear();
    await this.stopWorker();
  }

  private imagesOf(b: number): Int32Array {
    return this.order.slice(b * this.batchSize, Math.min((b + 1) * this.batchSize, this.order.length));
  }

  private cropsOf(b: number): Int32Array | null {
    if (!this.augment) return null;
    const count = Math.min(this.batchSize, this.order.length - b * this.batchSize);
    return cropPlan(count, this.storedSize, this.inputSize, this.seed, this.epoch, b);
  }

  /**
   * Requests from the worker every batch up to `prefetch` past the one the consumer
   * is taking now, so that while it trains on batch b, b+1 .. b+prefetch are made.
   */
  private request(): void {
    if (this.failure || this.closed) return;
    const limit = Math.min(this.count, this.taken + this.prefetch);
    if (this.requested >= limit) return;
    const worker = this.worker ?? this.startWorker();
    worker.ref(); // results are awaited: keep the process alive until they arrive
    while (this.requested < limit) {
      const b = this.requested++;
      this.slots.set(b, pending());
      worker.postMessage({ type: 'batch', batch: b, images: this.imagesOf(b), crops: this.cropsOf(b) });
    }
  }

  private startWorker(): Worker {
    const worker = new Worker(WORKER_URL, {
      workerData: {
        pixels: toSharedPixels(this.pixels),
        storedSize: this.storedSize,
        inputSize: this.inputSize,
        labels: this.labels,
      },
    });
    this.worker = worker;
    worker.on('message', (reply: WorkerReply) => {
      this.delivered++;
      if (this.delivered >= this.count) void this.stopWorker(); // nothing left to ask for
      else if (this.delivered === this.requested) worker.unref(); // an abandoned iterator must not keep the process alive
      this.slots.get(reply.batch)?.resolve({ xs: reply.xs, ys: reply.ys }); // kept until taken
    });
    worker.on('error', (error: Error) => {
      // Names the file: a worker that cannot even load usually means a bundle without it.
      this.fail(new Error(`The batch worker thread failed: ${error.message} (${WORKER_URL.href})`, { cause: error }));
    });
    worker.on('messageerror', (error: Error) => {
      this.fail(new Error(`The batch worker thread sent a message that could not be read: ${error.message}`));
      void this.stopWorker();
    });
    worker.on('exit', (code: number) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.stopping === undefined) {
        this.fail(new Error(`The batch worker thread exited unexpectedly (exit code ${code})`));
      }
    });
    return worker;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const slot of this.slots.values()) slot.reject(this.failure);
    this.slots.clear();
    // Results already received are not handed out: from now on next() throws.
  }

  private stopWorker(): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    const worker = this.worker;
    if (worker === undefined) return Promise.resolve();
    this.stopping = worker.terminate().then(() => {
      if (this.worker === worker) this.worker = undefined;
    });
    return this.stopping;
  }
}
