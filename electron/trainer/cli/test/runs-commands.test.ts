// Issue 14, 5.8 (a): `lab runs` says whether a run can be resumed from what its
// checkpoints hold, not from run.json: every checkpoint damaged is "NOT resumable".
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { createRun, type RunHandle, type RunInit } from '../../runs/run-store';
import { lab } from './run-lab';

const init = (label: string, state: RunInit['state'] = 'stopped'): RunInit => ({
  config: { model: 'tiny', activation: 'relu', inputSize: 16 },
  dataset: { name: 'faces', source: '/data/faces', hash: 'abc', identities: 4, images: 40, synthetic: false },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  label,
  state,
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

/** Makes run.json say "running" by a process that is gone: an interrupted run. */
async function interrupt(run: RunHandle): Promise<void> {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const record = JSON.parse(await readFile(run.runFile, 'utf8')) as Record<string, unknown>;
  await writeFile(run.runFile, JSON.stringify({ ...record, state: 'running', pid: dead, host: hostname() }));
}

describe('lab runs', () => {
  test('says a run whose checkpoints are all damaged is not resumable, and why; a damaged newest one, where a resume starts', async () => {
    const dataDir = await tempDir();
    const good = await createRun(dataDir, init('good'));
    await checkpoints(good, [2, 4]);
    const allBad = await createRun(dataDir, init('allbad'));
    for (const path of await checkpoints(allBad, [2, 4])) await damage(path);
    const newestBad = await createRun(dataDir, init('newestbad'));
    await damage((await checkpoints(newestBad, [2, 4]))[1] as string);
    const killed = await createRun(dataDir, init('killed'));
    for (const path of await checkpoints(killed, [3])) await damage(path);
    await interrupt(killed);

    const { code, stdout, stderr } = await lab(['runs'], dataDir);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const line = (id: string): string => stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
    expect(line(good.id)).toContain('  stopped, checkpoint at step 4  [');
    expect(line(allBad.id)).toContain('  stopped, NOT resumable: every checkpoint is damaged (step 4: damaged (checksum mismatch); step 2: damaged (checksum mismatch))  [');
    expect(line(newestBad.id)).toContain('  stopped, checkpoint at step 2, newer ones damaged (step 4: damaged (checksum mismatch))  [');
    expect(line(killed.id)).toContain('  interrupted, NOT resumable: every checkpoint is damaged (step 3: damaged (checksum mismatch))  [');
    expect(line(killed.id)).not.toContain('resumable)');
  }, 60_000);
});

// Issue 14, 5.8 (c): bounded in the config schema (training/config.ts, at most 100,000
// epochs) by an earlier fix; checked here the way the issue met it, from the command line.
describe('epochs of 1e15', () => {
  test('train and resume refuse it by name before anything runs', async () => {
    const dataDir = await tempDir();
    const train = await lab(['train', '--data', 'synthetic:4x4', '--model', 'tiny', '--input', '16', '--backend', 'cpu', '--epochs', '1e15'], dataDir);
    expect(train.code).toBe(1);
    expect(train.stderr).toMatch(/epochs: Too big: expected number to be <=100000/);
    expect(train.stdout).not.toMatch(/Starting run/);
    const run = await createRun(dataDir, { ...init('bounded'), config: { data: 'synthetic:4x4', model: 'tiny', inputSize: 16, epochs: 2 } });
    const resume = await lab(['resume', run.id, '--backend', 'cpu', '--epochs', '1e15'], dataDir);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toMatch(/epochs: /);
    expect(resume.stdout).not.toMatch(/Resuming run/);
  }, 60_000);
});
