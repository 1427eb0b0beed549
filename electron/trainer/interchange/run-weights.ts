// A run's network with its newest weights, whatever the run trained on (or if it was
// imported): what export and the tests need. The classifier's size comes from the checkpoint
// itself, so no dataset has to be opened to rebuild the model.
import { resolveRun, type RunHandle } from '../runs/run-store';
import type { BuiltModel } from '../../../models/lightcnn';
import { parseTrainConfig, type TrainConfig } from '../training/config';
import { buildFromConfig, restoreWeights, TrainingError } from '../training/run-model';
import type { NamedArray } from '../runs/checkpoint';

export interface RunModel {
  readonly run: RunHandle;
  readonly config: TrainConfig;
  /** Dispose `built.model` when done. */
  readonly built: BuiltModel;
  readonly step: number;
  readonly warnings: readonly string[];
}

/** How many identities the checkpoint's classifier tells apart (its kernel is [embedding, classes]). */
export function checkpointClasses(arrays: ReadonlyMap<string, NamedArray>): number {
  const kernel = arrays.get('weights/classifier/kernel');
  const classes = kernel?.shape[1];
  if (classes === undefined) throw new TrainingError('The checkpoint has no classifier weights: it belongs to a different model');
  return classes;
}

export async function loadRunModel(dataDir: string, runRef: string | RunHandle): Promise<RunModel> {
  const run = typeof runRef === 'string' ? await resolveRun(dataDir, runRef) : runRef;
  // The step settings play no part here (see evaluate-run.ts).
  const config = parseTrainConfig({ ...run.record.config, maxSteps: 0, checkpointEvery: 0 });
  const checkpoint = await run.loadLatestCheckpoint();
  if (!checkpoint) throw new TrainingError(`Run ${run.id} has no checkpoint yet, so it has no weights: train it further with npm run lab -- resume ${run.id}`);
  const built = buildFromConfig(config, checkpointClasses(checkpoint.arrays));
  try {
    restoreWeights(built.model, checkpoint.arrays);
  } catch (error) {
    built.model.dispose();
    throw error;
  }
  return { run, config, built, step: checkpoint.step, warnings: checkpoint.warnings };
}
