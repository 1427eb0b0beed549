// The 256-d face embeddings of a set of images: centre crops, inference mode.
import * as tf from '@tensorflow/tfjs';
import { batches, type BatchSource } from '../../../datasets/batches';

/** `onBatch` hears how many images are embedded so far, after each batch. */
export async function computeEmbeddings(
  embedding: tf.LayersModel,
  source: BatchSource,
  indices: Int32Array,
  inputSize: number,
  batchSize: number,
  onBatch?: (done: number) => void,
): Promise<{ values: Float32Array; dim: number }> {
  const dim = embedding.outputs[0]?.shape[1];
  if (typeof dim !== 'number') throw new Error('the embedding model has no fixed output width');
  const values = new Float32Array(indices.length * dim);
  let row = 0;
  for await (const batch of batches(source, { indices, batchSize, inputSize, augment: false, shuffle: false, seed: 0, prefetch: 0 })) {
    try {
      const out = tf.tidy(() => embedding.apply(batch.xs, { training: false }) as tf.Tensor);
      try {
        values.set(await out.data(), row * dim);
      } finally {
        out.dispose();
      }
      row += batch.indices.length;
    } finally {
      batch.dispose();
    }
    onBatch?.(row);
  }
  return { values, dim };
}
