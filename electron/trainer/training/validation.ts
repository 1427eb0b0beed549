// Held-out accuracy and loss, on centre crops, without training-mode randomness.
import * as tf from '@tensorflow/tfjs';
import { batches, type BatchSource } from '../../../datasets/batches';
import { checkWebGpu } from '../../../models/backend-webgpu';

export interface Validation {
  readonly loss: number;
  readonly accuracy: number;
  readonly count: number;
}

export async function validate(model: tf.LayersModel, source: BatchSource, indices: Int32Array, inputSize: number, numClasses: number, batchSize: number): Promise<Validation> {
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  for await (const batch of batches(source, { indices, batchSize, inputSize, augment: false, shuffle: false, seed: 0, prefetch: 0 })) {
    const stats = tf.tidy(() => {
      const logits = model.apply(batch.xs, { training: false }) as tf.Tensor;
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(batch.ys, numClasses), logits, undefined, 0, tf.Reduction.SUM);
      const hits = logits.argMax(-1).equal(batch.ys).sum().cast('float32');
      return tf.stack([loss, hits]);
    });
    const [loss, hits] = (await stats.data()) as Float32Array;
    stats.dispose();
    checkWebGpu();
    batch.dispose();
    lossSum += loss as number;
    correct += hits as number;
    count += batch.indices.length;
  }
  return { loss: count === 0 ? NaN : lossSum / count, accuracy: count === 0 ? NaN : correct / count, count };
}
