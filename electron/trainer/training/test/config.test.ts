// The bounds of the step settings: maxSteps and checkpointEvery are refused past STEP_LIMIT
// with a message naming the setting, the limit and the way out, wherever they come from:
// a new run's settings, resume's overrides (lab resume, the app's resumeRun), the command line;
// a run recorded before the limit can still be evaluated, and resumed (within the limits, or
// with a sound maxSteps).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { evaluateRun } from '../../evaluation/evaluate-run';
import { openRun } from '../../runs/run-store';
import { ConfigError, parseTrainConfig, STEP_LIMIT, type TrainConfigInput } from '../config';
import { TrainingSession } from '../session';

const TINY: TrainConfigInput = { data: 'synthetic:6x8', model: 'tiny', inputSize: 16, batch: 4, epochs: 2, optimizer: 'adam', lr: 0.001, seed: 7, warmupSteps: 0, clipNorm: 0 };

const MAX_STEPS_MESSAGE = /maxSteps: at most 1000000000 steps \(a billion\); use 0 for no step limit/;
const CHECKPOINT_MESSAGE = /checkpointEvery: at most 1000000000 steps \(a billion\); use 0 to checkpoint only at the end of each epoch/;

function refusal(input: Record<string, unknown>): string {
  try {
    parseTrainConfig({ data: 'synthetic', ...input });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('step limits of the training settings', () => {
  test('the limit is a billion steps, and the limit itself is accepted', () => {
    expect(STEP_LIMIT).toBe(1_000_000_000);
    const config = parseTrainConfig({ data: 'synthetic', maxSteps: STEP_LIMIT, checkpointEvery: STEP_LIMIT });
    expect(config.maxSteps).toBe(STEP_LIMIT);
    expect(config.checkpointEvery).toBe(STEP_LIMIT);
    expect(parseTrainConfig({ data: 'synthetic' })).toMatchObject({ maxSteps: 0, checkpointEvery: 0 });
  });

  test.each([STEP_LIMIT + 1, 1e15, 1e20])('maxSteps %s is refused, naming the setting, the limit and the way out', (maxSteps) => {
    expect(refusal({ maxSteps })).toMatch(MAX_STEPS_MESSAGE);
  });

  test.each([STEP_LIMIT + 1, 1e15])('checkpointEvery %s is refused, naming the setting, the limit and the way out', (checkpointEvery) => {
    expect(refusal({ checkpointEvery })).toMatch(CHECKPOINT_MESSAGE);
  });

  test('epochs keeps its bound', () => {
    expect(refusal({ epochs: 100_001 })).toMatch(/epochs: /);
  });
});

describe('resume overrides are held to the same limit', () => {
  test('resuming with maxSteps past the limit is refused before anything changes; the run resumes with a sound value', async () => {
    const dataDir = await tempDir();
    const first = await TrainingSession.start({ ...TINY, maxSteps: 2 }, { dataDir, backend: 'cpu', prefetch: 0 });
    const runId = first.run.id;
    try {
      await first.train();
    } finally {
      first.dispose();
    }
    const recordFile = join(dataDir, 'runs', runId, 'run.json');
    const before = await readFile(recordFile, 'utf8');

    // What the app's resumeRun hands the session (lab-host.ts), and lab resume --max-steps.
    await expect(TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 1e15 } })).rejects.toThrow(MAX_STEPS_MESSAGE);
    await expect(TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 1e15 } })).rejects.toBeInstanceOf(ConfigError);
    expect(await readFile(recordFile, 'utf8')).toBe(before);

    // The refusal left no lock behind.
    const resumed = await TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 3 } });
    try {
      await resumed.train();
    } finally {
      resumed.dispose();
    }
    expect((await openRun(dataDir, runId)).record.lastCheckpoint?.step).toBe(3);
  }, 60_000);
});

describe('a run recorded before the limit', () => {
  test('with maxSteps and checkpointEvery past the limit in its run.json: it is evaluated; resume names the way out, which works', async () => {
    const dataDir = await tempDir();
    const first = await TrainingSession.start({ ...TINY, maxSteps: 2 }, { dataDir, backend: 'cpu', prefetch: 0 });
    const runId = first.run.id;
    try {
      await first.train();
    } finally {
      first.dispose();
    }
    // What an older lab wrote for --max-steps 1e15 --checkpoint-every 1e15.
    const recordFile = join(dataDir, 'runs', runId, 'run.json');
    const record = JSON.parse(await readFile(recordFile, 'utf8')) as { config: Record<string, unknown> };
    await writeFile(recordFile, JSON.stringify({ ...record, config: { ...record.config, maxSteps: 1e15, checkpointEvery: 1e15 } }));
    await expect(evaluateRun(runId, { dataDir, backend: 'cpu', hardest: 1 })).resolves.toMatchObject({ step: 2 });

    // Resume takes such a record within the limits (neither count is ever reached), and can still change maxSteps.
    const plain = await TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0 });
    expect({ maxSteps: plain.config.maxSteps, checkpointEvery: plain.config.checkpointEvery }).toEqual({ maxSteps: STEP_LIMIT, checkpointEvery: STEP_LIMIT });
    plain.dispose(); // releases the run's lock in the background: wait for it
    for (let i = 0; i < 200 && existsSync(join(dataDir, 'runs', runId, 'run.lock')); i++) await new Promise((r) => setTimeout(r, 10));
    const resumed = await TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 3 } });
    try {
      await resumed.train();
    } finally {
      resumed.dispose();
    }
    const after = await openRun(dataDir, runId);
    expect(after.record.lastCheckpoint?.step).toBe(3);
    expect(after.record.config['maxSteps']).toBe(3);
  }, 60_000);
});

describe('the command line shows the message', () => {
  const root = resolve(import.meta.dirname, '../../../..');
  test('lab train --max-steps 1e15 exits with 1 and the message, before any run is made', async () => {
    const dataDir = await tempDir();
    const result = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(root, 'electron/trainer/cli/main.ts'), 'train', '--data', 'synthetic', '--model', 'tiny', '--input', '16', '--backend', 'cpu', '--max-steps', '1e15'],
        // Without the bound it would train towards 1e15 steps: killed then, and the test fails.
        { cwd: root, env: { ...process.env, FACE_CNN_LAB_DATA: dataDir, INIT_CWD: '' }, encoding: 'utf8', timeout: 40_000 },
        (error, _stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });
    expect(result.stderr).toMatch(new RegExp(`^error: The training settings are not valid: ${MAX_STEPS_MESSAGE.source}`));
    expect(result.code).toBe(1);
    expect(await readdir(join(dataDir, 'runs')).catch(() => [])).toEqual([]);
  }, 60_000);
});
