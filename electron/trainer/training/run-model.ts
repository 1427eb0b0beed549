// What a run's settings describe, made real: its dataset, its model, and a
// checkpoint's weights put back in. Shared by training and evaluation. The model half
// lives in model-build.ts (no Node imports, so the compute core bundles for a browser).
import { createHash } from 'node:crypto';
import { openDataset, type FaceDataset } from '../../../datasets';
import type { TrainConfig } from './config';
import { TrainingError } from './training-error';

export { TrainingError } from './training-error';
export { buildFromConfig, restoreWeights } from './model-build';

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
