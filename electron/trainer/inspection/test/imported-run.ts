// An imported run for the tests, made without PyTorch: the lab's own network written as a
// PyTorch state_dict (export-run.ts stateDictOf + torch-writer.ts) and imported back, as a user's
// `lab import` would. `deadBias` writes a very negative bias into the first convolution, so that
// with ReLU its every unit is 0 on every image: a layer dead on purpose.
import { join } from 'node:path';
import { buildModel } from '../../../../models/lightcnn';
import { parseActivation } from '../../../../models/activations/registry';
import { stateDictOf } from '../../interchange/export-run';
import { importCheckpoint } from '../../interchange/import-checkpoint';
import { writeStateDict } from '../../interchange/torch-writer';

export const INPUT = 32;

export async function importedRun(dataDir: string, options: { name: string; activation?: string; deadBias?: boolean }): Promise<string> {
  const activation = options.activation ?? 'mfm';
  const built = buildModel({ architecture: 'tiny', inputSize: INPUT, numClasses: 3, activation: parseActivation(activation), seed: 7 });
  const file = join(dataDir, `${options.name}.pt`);
  try {
    const entries = await stateDictOf(built);
    const dict = options.deadBias
      ? entries.map((e) => (e.name === 'features.0.filter.bias' ? { ...e, values: new Float32Array(e.values.length).fill(-1000) } : e))
      : entries;
    await writeStateDict(file, dict);
  } finally {
    built.model.dispose();
  }
  const imported = await importCheckpoint(file, { dataDir, activation, inputSize: INPUT, name: options.name });
  return imported.run.id;
}
