// worker_threads entry of the batch prefetcher (datasets/batches.ts).
//
// Plain ESM JavaScript so Node loads it without a TypeScript loader. It receives,
// once, in workerData: the stored pixels as a Uint8Array over a SharedArrayBuffer
// (shared with the trainer thread, never copied), storedSize, inputSize and the
// labels of every image. Then, for each request
//   { type: 'batch', batch, images: Int32Array, crops: Int32Array | null }
// it assembles the batch with batch-kernel.js and posts back
//   { type: 'batch', batch, xs: Float32Array, ys: Int32Array }
// with both buffers transferred, not copied. Requests are answered in order.
//
// Any failure is left uncaught on purpose: the worker dies, the consumer gets the
// 'error' event with the message and rejects its pending and next `next()`.
//
// Packaging: the app's bundler must ship this file and batch-kernel.js next to the
// trainer bundle.

import { parentPort, workerData } from 'node:worker_threads';
import { assembleBatch } from './batch-kernel.js';

if (parentPort === null) throw new Error('batch-worker.js must be started as a worker thread');
const port = parentPort;

const { pixels, storedSize, inputSize, labels } = workerData;
if (!(pixels instanceof Uint8Array) || !(pixels.buffer instanceof SharedArrayBuffer)) {
  throw new Error('batch-worker.js expects the pixels as a Uint8Array over a SharedArrayBuffer');
}
if (!(labels instanceof Int32Array)) throw new Error('batch-worker.js expects the labels as an Int32Array');

port.on('message', (message) => {
  if (message === null || typeof message !== 'object' || message.type !== 'batch') {
    throw new Error(`batch-worker.js received an unknown message (type ${String(message?.type)})`);
  }
  const { xs, ys } = assembleBatch(pixels, storedSize, inputSize, message.images, labels, message.crops);
  port.postMessage({ type: 'batch', batch: message.batch, xs, ys }, [xs.buffer, ys.buffer]);
});
