// lab eval --data / --pairs / --layout, run as a user runs them: a run evaluated on another
// dataset prints the dataset and the overlap; the dataset flags without --data are refused; an
// imported run without --data is refused with what to pass.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeImage, tempDir, writeFiles } from '../../../../datasets/test/fixtures';
import { createRun, openRun } from '../../runs/run-store';
import { TrainingSession } from '../../training/session';
import { lab } from './run-lab';

let dataDir = '';
let faces = '';
let runId = '';

beforeAll(async () => {
  dataDir = await tempDir();
  faces = await tempDir('fcl-faces-');
  const files: Record<string, Buffer> = {};
  // A flat folder: the identity is the text before "_" (needs --identity-regex).
  for (let q = 1; q <= 4; q++) for (let k = 1; k <= 4; k++) files[`flat/q0${q}_${k}.pgm`] = await makeImage('pgm', q * 10 + k);
  files['pairs.txt'] = Buffer.from(['2\t2', 'q01\t1\t2', 'q02\t1\t3', 'q01\t1\tq02\t2', 'q01\t3\tq02\t4', 'q03\t1\t2', 'q04\t2\t3', 'q03\t1\tq04\t1', 'q03\t4\tq04\t4', ''].join('\n'));
  await writeFiles(faces, files);
  const session = await TrainingSession.start(
    { data: 'synthetic:6x4', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, optimizer: 'adam', lr: 0.001, seed: 5, warmupSteps: 0, clipNorm: 0, maxSteps: 2 },
    { dataDir, backend: 'cpu', prefetch: 0 },
  );
  try {
    runId = session.run.id;
    await session.train();
  } finally {
    session.dispose();
  }
}, 60_000);

describe('lab eval on another dataset', () => {
  test('--data, --layout flat, --identity-regex and --pairs reach the evaluation: the dataset and the overlap are printed', async () => {
    const flat = join(faces, 'flat');
    const result = await lab(['eval', runId, '--data', flat, '--layout', 'flat', '--identity-regex', '^(q\\d+)_', '--pairs', join(faces, 'pairs.txt')], dataDir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Pairs: .*pairs\.txt \(4 matched, 4 mismatched, 2 folds\)/);
    expect(result.stdout).toContain(`Dataset: flat (${flat}; 4 identities, 16 images)`);
    expect(result.stdout).toContain("Overlap with the run's training data: none: the pairs name no identity of the same name and no image the run trained on");
  }, 60_000);

  test('--layout without --data is refused, saying what it is for', async () => {
    const result = await lab(['eval', runId, '--layout', 'flat'], dataDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: --layout and --identity-regex describe the dataset given with --data; .* Add --data <faces>, or leave them out/);
  }, 60_000);

  test('an imported run without --data is refused with what to pass', async () => {
    const trained = await openRun(dataDir, runId);
    const run = await createRun(dataDir, {
      config: { ...trained.record.config, data: 'imported:LightCNN_29Layers.pth' },
      dataset: { name: 'none (imported weights)', source: '/models/LightCNN_29Layers.pth', hash: '', identities: 0, images: 0, synthetic: false },
      backend: 'pytorch (imported)',
      versions: { lab: 'test' },
      label: 'imported',
      state: 'finished',
    });
    await run.updateRun({ origin: { kind: 'imported', file: '/models/LightCNN_29Layers.pth', sha256: '0'.repeat(64), format: 'legacy', classifier: false, notes: [] } });
    const result = await lab(['eval', run.id], dataDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: Run ${run.id} was imported from /models/LightCNN_29Layers.pth; it has no training dataset of its own: pass --data <faces> (and --pairs <pairs.txt>)\n`);
  }, 60_000);
});
