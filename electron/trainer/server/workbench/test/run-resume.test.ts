// Follow-up of issue 14, 5.8 (a): getRun says whether the run can really be resumed, from its
// checkpoints (as `lab runs` does), so that Run detail does not offer Resume on a run whose
// checkpoints are all damaged.
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../../datasets/test/fixtures';
import { createRun, type RunHandle, type RunInit } from '../../../runs/run-store';
import { resumeCheck } from '../run-resume';

const init = (label: string): RunInit => ({
  config: { model: 'tiny', activation: 'relu', inputSize: 16 },
  dataset: { name: 'faces', source: '/data/faces', hash: 'abc', identities: 4, images: 40, synthetic: false },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  label,
  state: 'stopped',
});

async function checkpoints(run: RunHandle, steps: number[]): Promise<string[]> {
  const paths: string[] = [];
  for (const step of steps) {
    const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(step + i));
    paths.push((await run.saveCheckpoint({ step, epoch: 0, meta: {}, tensors: [{ name: 'w', dtype: 'float32', shape: [64], values }] })).path);
  }
  return paths;
}

async function damage(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
  await writeFile(path, bytes);
}

describe('resumeCheck (getRun)', () => {
  test('good, all damaged, newest damaged, none yet, finished', async () => {
    const dataDir = await tempDir();
    const good = await createRun(dataDir, init('good'));
    await checkpoints(good, [2, 4]);
    expect(await resumeCheck(good.dir, 'stopped')).toEqual({ kind: 'checkpoint', step: 4, damaged: [] });

    const allBad = await createRun(dataDir, init('allbad'));
    for (const path of await checkpoints(allBad, [2, 4])) await damage(path);
    expect(await resumeCheck(allBad.dir, 'failed')).toEqual({
      kind: 'none',
      damaged: [
        { step: 4, reason: expect.stringMatching(/damaged \(checksum mismatch\)/) },
        { step: 2, reason: expect.stringMatching(/damaged \(checksum mismatch\)/) },
      ],
    });

    const newestBad = await createRun(dataDir, init('newestbad'));
    await damage((await checkpoints(newestBad, [2, 4]))[1]!);
    expect(await resumeCheck(newestBad.dir, 'paused')).toMatchObject({ kind: 'checkpoint', step: 2, damaged: [{ step: 4 }] });

    const fresh = await createRun(dataDir, init('fresh'));
    expect(await resumeCheck(fresh.dir, 'running')).toEqual({ kind: 'start' });
    expect(await resumeCheck(good.dir, 'finished')).toBeNull();
  });
});
