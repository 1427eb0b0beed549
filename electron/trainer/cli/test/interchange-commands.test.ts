// lab import and lab export, run as a user runs them: a checkpoint becomes a run with what was
// decided said aloud; export writes its folder and says where; a file that is not a checkpoint,
// an export into a non-empty folder and an unknown format end with one clear line and code 1.
import * as tf from '@tensorflow/tfjs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { buildModel } from '../../../../models/lightcnn';
import { stateDictOf } from '../../interchange/export-run';
import { writeStateDict } from '../../interchange/torch-writer';
import { lab } from './run-lab';

let dataDir = '';
let work = '';
let checkpoint = '';

beforeAll(async () => {
  await tf.setBackend('cpu');
  dataDir = await tempDir();
  work = await tempDir('fcl-interchange-');
  checkpoint = join(work, 'tiny.pth');
  const built = buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 6 });
  try {
    // With DataParallel's prefix, as the published files have it.
    await writeStateDict(checkpoint, (await stateDictOf(built)).map((e) => ({ ...e, name: `module.${e.name}` })));
  } finally {
    built.model.dispose();
  }
});

describe('lab import and lab export', () => {
  test('import says what it found and decided, and export writes the folder it names', async () => {
    const imported = await lab(['import', checkpoint, '--name', 'tiny from a file'], dataDir);
    expect(imported.stderr).not.toMatch(/error/);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/Imported .*tiny\.pth \(torch's zip format\) as run (\S+)/);
    expect(imported.stdout).toMatch(/tiny at 32 px, width 1, activation mfm:2\/1/);
    expect(imported.stdout).toMatch(/classifier: 6 identities/);
    expect(imported.stdout).toMatch(/DataParallel's module\. prefix removed/);
    expect(imported.stdout).toMatch(/eval \S+ --data <faces> --pairs <pairs\.txt>/);
    const runId = /as run (\S+)/.exec(imported.stdout)?.[1] as string;
    const runs = await lab(['runs'], dataDir);
    expect(runs.stdout).toContain(`${runId}  "tiny from a file"  imported from tiny.pth  [tiny mfm:2/1 @32px]`);

    const out = join(work, 'onnx-out');
    const exported = await lab(['export', runId, '--format', 'onnx', '--out', out], dataDir);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`Exported run ${runId} (step 0) to ${out}: model.onnx, config.json, README.md`);
    expect((await readdir(out)).sort()).toEqual(['README.md', 'config.json', 'model.onnx']);

    const again = await lab(['export', runId, '--format', 'onnx', '--out', out], dataDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: The export folder exists and is not empty: .*onnx-out\. Choose another folder with --out, or pass --force/m);

    const format = await lab(['export', runId, '--format', 'keras'], dataDir);
    expect(format.code).toBe(1);
    expect(format.stderr).toMatch(/Allowed choices are pytorch, onnx, torchrun/);
  }, 120_000);

  test('a file that is not a checkpoint ends with one line naming it and what to do', async () => {
    const notes = join(work, 'notes.txt');
    await mkdir(work, { recursive: true });
    await writeFile(notes, 'not weights');
    const result = await lab(['import', notes], dataDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: this is not a PyTorch checkpoint .*: .*notes\.txt\. Pass a file written by torch\.save/m);
    expect(result.stderr).not.toMatch(/unexpected error/);
  }, 60_000);
});
