// What a run's settings describe, made real: its dataset, its model, and a
// checkpoint's weights put back in. Shared by training and evaluation.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { openDataset, type FaceDataset } from '../../../datasets';
import { parseActivation } from '../../../models/activations/spec';
import { buildModel, type BuiltModel } from '../../../models/lightcnn';
import type { NamedArray } from '../runs/checkpoint';
import type { TrainConfig } from './config';

/** Why a run cannot go on, in words a user can act on. */
export class TrainingError extends Error {
  override readonly name = 'TrainingError';
}

export async function loadDataset(config: TrainConfig, dataDir: string): Promise<FaceDataset> {
  return openDataset(config.data, {
    dataDir,
    inputSize: config.inputSize,
    layout: config.layout,
    identityRule: config.identityRegex === undefined ? undefined : { kind: 'regex', pattern: config.identityRegex },
  });
}

/** What was trained on: identity names, files and their content hashes. */
export function datasetHash(dataset: FaceDataset): string {
  const h = createHash('sha256');
  for (const image of dataset.images) h.update(`${dataset.identities[image.identity]}\0${image.relPath}\0${image.sha256}\n`);
  return h.digest('hex').slice(0, 16);
}

export function describeDataset(dataset: FaceDataset) {
  return {
    name: dataset.name,
    source: dataset.report.source,
    hash: datasetHash(dataset),
    identities: dataset.identities.length,
    images: dataset.images.length,
    synthetic: dataset.synthetic,
  };
}

/** Refuses a dataset that is not the one the run trained on (its splits and labels would differ). */
export function checkSameDataset(expectedHash: string | undefined, dataset: FaceDataset, runId: string): void {
  if (expectedHash !== undefined && expectedHash !== datasetHash(dataset)) {
    throw new TrainingError(
      `The dataset changed since run ${runId} trained on it (${dataset.report.source}): its images or identities differ, so labels and held-out images would not match. Restore the dataset, or start a new run`,
    );
  }
}

/** The model a run's config describes, with fresh (seeded) weights. */
export function buildFromConfig(config: TrainConfig, numClasses: number): BuiltModel {
  return buildModel({
    architecture: config.model,
    inputSize: config.inputSize,
    widthMultiplier: config.width,
    activation: parseActivation(config.activation),
    overrides: Object.fromEntries(Object.entries(config.layers).map(([layer, text]) => [layer, parseActivation(text)])),
    numClasses,
    dropout: config.dropout,
    seed: config.seed,
    initializer: config.init,
  });
}

/** Puts a checkpoint's weights into the model, refusing one from another model. */
export function restoreWeights(model: tf.LayersModel, arrays: ReadonlyMap<string, NamedArray>): void {
  for (const weight of model.weights) {
    const saved = arrays.get(`weights/${weight.originalName}`);
    if (!saved) throw new TrainingError(`The checkpoint has no weights for ${weight.originalName}: it belongs to a different model`);
    if (saved.shape.join('x') !== weight.shape.join('x')) {
      throw new TrainingError(`The checkpoint's ${weight.originalName} is ${saved.shape.join('x')}, the model's is ${weight.shape.join('x')}`);
    }
    const value = tf.tensor(saved.values, saved.shape, saved.dtype);
    weight.write(value); // the variable takes its own reference
    value.dispose();
  }
}
