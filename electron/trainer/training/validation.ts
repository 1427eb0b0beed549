// Held-out accuracy and loss, on centre crops, without training-mode randomness: the
// batches are made here, each one is evaluated by the compute core (compute-core.ts).
import { batchArrays, type BatchSource } from '../../../datasets/batches';
import type { BatchData, EvalReply } from './compute-core';

export interface Validation {
  readonly loss: number;
  readonly accuracy: number;
  readonly count: number;
}

export async function validate(evaluate: (batch: BatchData) => Promise<EvalReply>, source: BatchSource, indices: Int32Array, inputSize: number, batchSize: number): Promise<Validation> {
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  for await (const batch of batchArrays(source, { indices, batchSize, inputSize, augment: false, shuffle: false, seed: 0, prefetch: 0 })) {
    const reply = await evaluate(batch);
    lossSum += reply.lossSum;
    correct += reply.hits;
    count += reply.count;
  }
  return { loss: count === 0 ? NaN : lossSum / count, accuracy: count === 0 ? NaN : correct / count, count };
}
