// A pairs file larger than MAX_PAIRS_FILE_BYTES is refused from its size, before anything is
// read or loaded: a wrong file given by mistake costs no memory, and the run's last
// evaluation stays as it was. The large files are sparse (truncate): no disk is used.
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DatasetError } from '../../../../datasets/errors';
import { tempDir } from '../../../../datasets/test/fixtures';
import { TrainingSession } from '../../training/session';
import { evaluateRun, EVALUATION_FILE, MAX_PAIRS_FILE_BYTES } from '../evaluate-run';

let dataDir: string;
let runId: string;

beforeAll(async () => {
  dataDir = await tempDir();
  const session = await TrainingSession.start(
    { data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, optimizer: 'adam', lr: 0.001, seed: 3, warmupSteps: 0, clipNorm: 0, maxSteps: 2 },
    { dataDir, backend: 'cpu', prefetch: 0 },
  );
  runId = session.run.id;
  try {
    await session.train();
  } finally {
    session.dispose();
  }
}, 60_000);

/** A sparse file of `bytes` bytes. */
async function sparseFile(name: string, bytes: number): Promise<string> {
  const path = join(dataDir, name);
  await (await open(path, 'w')).close();
  await truncate(path, bytes);
  return path;
}

describe('the size of a pairs file', () => {
  test('the limit is generous: hundreds of times an LFW pairs.txt (about 100 kB)', () => {
    expect(MAX_PAIRS_FILE_BYTES).toBe(64_000_000);
  });

  test.each([
    ['one byte over the limit', MAX_PAIRS_FILE_BYTES + 1, '64.0 MB'],
    ['a disk image (100 GiB)', 100 * 2 ** 30, '107.4 GB'],
  ])('%s is refused without reading it, naming the file, its size and the limit; the saved evaluation is unchanged', async (_what, bytes, shown) => {
    await evaluateRun(runId, { dataDir, backend: 'cpu', hardest: 2 });
    const savedFile = join(dataDir, 'runs', runId, EVALUATION_FILE);
    const saved = await readFile(savedFile, 'utf8');

    const file = await sparseFile(`big-${bytes}.txt`, bytes);
    const phases: string[] = [];
    const refused = evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: file, onProgress: (p) => phases.push(p.phase) });
    await expect(refused).rejects.toBeInstanceOf(DatasetError);
    await expect(refused).rejects.toThrow(
      `The pairs file is ${shown}, more than the 64.0 MB a pairs file may be (LFW's pairs.txt is about 100 kB), so it was not read: ${file}. Check the path; it should be a text file in LFW's pairs.txt format. Nothing was evaluated; the run and its last evaluation are unchanged`,
    );
    expect(phases).toEqual(['loading']); // refused before the dataset and the model were loaded
    expect(await readFile(savedFile, 'utf8')).toBe(saved);
  }, 60_000);

  test('a pairs file at the limit is read as before (and fails as text, not by size)', async () => {
    const file = await sparseFile('at-limit.txt', MAX_PAIRS_FILE_BYTES);
    await expect(evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: file })).rejects.not.toThrow(/so it was not read/);
  }, 60_000);

  test('a small pairs file is evaluated', async () => {
    const pairs = ['2\t2', 'synthetic-001\t1\t2', 'synthetic-002\t1\t3', 'synthetic-001\t1\tsynthetic-002\t1', 'synthetic-002\t2\tsynthetic-003\t2', 'synthetic-004\t1\t2', 'synthetic-005\t2\t3', 'synthetic-004\t1\tsynthetic-005\t1', 'synthetic-005\t3\tsynthetic-006\t3', ''].join('\n');
    const file = join(dataDir, 'pairs.txt');
    await writeFile(file, pairs);
    const result = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: file, hardest: 2 });
    expect(result.pairsSource).toBe(file);
    expect(result.pairScores.a).toHaveLength(8);
  }, 60_000);
});
