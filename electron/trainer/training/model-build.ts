// A run's model made from its settings, and a checkpoint's weights put back in. No Node
// imports here (and none below): the compute core uses these, and it must also bundle
// for a browser page (the app's GPU host); the file and dataset side is run-model.ts.
import * as tf from '@tensorflow/tfjs';
import { parseActivation } from '../../../models/activations/spec';
import { buildModel, type BuiltModel } from '../../../models/lightcnn';
import type { NamedArray } from '../runs/checkpoint';
import type { TrainConfig } from './config';
import { TrainingError } from './training-error';

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
