// lab train / runs / resume / eval / summary / info, run as a user runs them.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { lab } from './run-lab';

/** The step rows' losses of a run's metrics.jsonl. */
async function stepLosses(dataDir: string, runId: string): Promise<number[]> {
  const text = await readFile(join(dataDir, 'runs', runId, 'metrics.jsonl'), 'utf8');
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { kind: string; loss?: number }).filter((row) => row.kind === 'step').map((row) => row.loss as number);
}

describe('lab train, runs, resume, eval', () => {
  // The bar, as typed: on the software adapter here, the run ends by itself (Dawn's
  // instance released) and its loss rows are the cpu backend's within 1e-4 (relative).
  test('train --backend webgpu (tiny, 32 px, 20 steps) exits on its own with the loss rows of --backend cpu', async () => {
    const dataDir = await tempDir();
    const args = ['train', '--data', 'synthetic', '--model', 'tiny', '--input', '32', '--max-steps', '20'];
    const gpu = await lab([...args, '--backend', 'webgpu'], dataDir);
    expect(gpu.code).toBe(0);
    expect(gpu.stdout).toMatch(/Backend: training on webgpu \(WebGPU through Dawn on .+\) \(chosen by name, not automatically\)/);
    const cpu = await lab([...args, '--backend', 'cpu'], dataDir);
    expect(cpu.code).toBe(0);
    const ids = [gpu, cpu].map((r) => /Starting run (\S+)/.exec(r.stdout)![1]!);
    const [onGpu, onCpu] = await Promise.all(ids.map((id) => stepLosses(dataDir, id)));
    expect(onGpu).toHaveLength(20);
    onGpu!.forEach((loss, i) => expect(Math.abs(loss - onCpu![i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(onCpu![i]!))));
  }, 180_000);

  test('a short run end to end', async () => {
    const dataDir = await tempDir();
    const common = ['--data', 'synthetic:6x6', '--model', 'tiny', '--input', '16', '--batch', '4', '--optimizer', 'adam', '--lr', '0.001', '--backend', 'cpu'];
    const trained = await lab(['train', ...common, '--epochs', '3', '--max-steps', '5', '--activation', 'relu', '--layer', 'group1.b=prelu'], dataDir);
    expect(trained.stderr).toBe('');
    expect(trained.code).toBe(0);
    expect(trained.stdout).toMatch(/Starting run (\S+) at step 0 of 5/);
    expect(trained.stdout).toMatch(/Backend: training on cpu/);
    expect(trained.stdout).toMatch(/stopped at step 5 \(reached the step limit \(maxSteps 5\)\)/);
    expect(trained.stdout).toMatch(/Held-out images: loss \d+\.\d{4}, accuracy \d+\.\d% \(\d+ images\)/);
    expect(trained.stdout).toMatch(/Continue it with: npm run lab -- resume \S+ --max-steps <more>/);
    const runId = /Starting run (\S+)/.exec(trained.stdout)![1]!;

    const runs = await lab(['runs'], dataDir);
    expect(runs.stdout).toContain(`${runId}  stopped, checkpoint at step 5  [tiny relu @16px on Synthetic faces`);

    const resumed = await lab(['resume', runId.slice(0, 22), '--max-steps', '7'], dataDir);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/Resuming run .* at step 5 of 7/);
    expect(resumed.stdout).toMatch(/stopped at step 7 \(reached the step limit \(maxSteps 7\)\)/);

    // A pairs file in LFW's format for the synthetic people.
    const pairs = ['2\t2', 'synthetic-001\t1\t2', 'synthetic-002\t1\t3', 'synthetic-001\t1\tsynthetic-002\t1', 'synthetic-002\t2\tsynthetic-003\t2', 'synthetic-004\t1\t2', 'synthetic-005\t2\t3', 'synthetic-004\t1\tsynthetic-005\t1', 'synthetic-005\t3\tsynthetic-006\t3', ''].join('\n');
    const pairsFile = join(dataDir, 'pairs.txt');
    await writeFile(pairsFile, pairs);
    const evaluated = await lab(['eval', runId, '--pairs', pairsFile], dataDir);
    expect(evaluated.stderr).toBe('');
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toMatch(/Pairs: .*pairs\.txt \(4 matched, 4 mismatched, 2 folds\)/);
    expect(evaluated.stdout).toMatch(/Verification accuracy: \d+\.\d\d% ± \d+\.\d\d%/);
    expect(evaluated.stdout).toMatch(/ROC AUC: [01]\.\d{4}\s+EER: /);
    expect(evaluated.stdout).toMatch(/TAR @ FAR 1\.00%: /);
    expect(evaluated.stdout).toMatch(/Rank-1 identification on held-out images: /);
    expect((await lab(['runs'], dataDir)).stdout).toMatch(/verification \d+\.\d% at step 7/);

    const missingPairs = await lab(['eval', runId, '--pairs', join(dataDir, 'nope.txt')], dataDir);
    expect(missingPairs.code).toBe(1);
    expect(missingPairs.stderr).toMatch(/^error: The pairs file cannot be read \(ENOENT\)/);
  }, 120_000);

  test('summary prints the reference parameter count; info lists every backend with its reason', async () => {
    const dataDir = await tempDir();
    const summary = await lab(['summary', '--model', 'lightcnn9'], dataDir);
    expect(summary.stdout).toMatch(/5,480,864 without the classifier/);
    const info = await lab(['info'], dataDir);
    expect(info.stdout).toMatch(/tensorflow-gpu\s+no\s+tfjs-node-gpu not installed/);
    expect(info.stdout).toMatch(/wasm\s+train\s+wasm \(XNNPACK, \d threads?\) with the lab.s training kernels/);
    expect(info.stdout).toMatch(/cpu\s+-\s+not tried/);
    // The adapter is named with its limits; this machine's (Mesa's llvmpipe) is software, so not chosen.
    expect(info.stdout).toMatch(/webgpu\s+no\s+webgpu: only a software adapter, .*llvmpipe.* slower than wasm, so not chosen automatically/);
    expect(info.stdout).toMatch(/WebGPU adapters \(Dawn\):\n  .*llvmpipe.*: max buffer \d+ MiB, max storage binding \d+ MiB; software .*only with --backend webgpu/);
    expect(info.stderr).not.toMatch(/Hi, looks like/);
  }, 60_000);

  test('user errors: a bad activation, an unknown run, a model that cannot take the input size', async () => {
    const dataDir = await tempDir();
    const badActivation = await lab(['train', '--data', 'synthetic', '--activation', 'swishy'], dataDir);
    expect(badActivation.code).toBe(1);
    expect(badActivation.stderr).toMatch(/unknown activation "swishy"/);
    const noRun = await lab(['resume', 'nope'], dataDir);
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toMatch(/^error: .*nope/);
    const tooSmall = await lab(['train', '--data', 'synthetic:4x4', '--model', 'lightcnn4', '--input', '32', '--backend', 'cpu'], dataDir);
    expect(tooSmall.code).toBe(1);
    expect(tooSmall.stderr).toMatch(/^error: lightcnn4 cannot take 32x32 inputs.*the smallest input it takes is 57 px/);
    expect(tooSmall.stderr).not.toMatch(/\n\s+at /);
    expect((await lab(['runs'], dataDir)).stdout).toMatch(/^No runs yet/); // nothing left behind
    const forced = await lab(['train', '--data', 'synthetic:4x4', '--model', 'tiny', '--input', '16', '--backend', 'tensorflow'], dataDir);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/^error: The tensorflow backend cannot be used for training: tfjs-node not installed/);
  }, 60_000);
});

describe('lab presets and train --preset', () => {
  test('a preset sets the experiment; options typed on top override it; the run ends with the dead filters', async () => {
    const dataDir = await tempDir();
    const listed = await lab(['presets'], dataDir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^relu-high-lr\n  ReLU at a high learning rate: relu, tiny at 32 px, adam lr 0.01, clip 5/m);
    expect(listed.stdout).toMatch(/compare with: leaky-high-lr, prelu-high-lr, mfm-high-lr/);

    const trained = await lab(['train', '--preset', 'relu-high-lr', '--data', 'synthetic:6x6', '--batch', '4', '--input', '16', '--max-steps', '3', '--backend', 'cpu'], dataDir);
    expect(trained.stderr).toBe('');
    expect(trained.code).toBe(0);
    expect(trained.stdout).toMatch(/^Preset relu-high-lr: ReLU at a high learning rate/m);
    expect(trained.stdout).toMatch(/Dead since step 1 \(the window of 50 steps has not filled yet\), at step 3:\n {2}conv1\.act +relu +\d+\/\d+ filters dead, \d+\/\d+ units/);
    const runId = /Starting run (\S+)/.exec(trained.stdout)![1]!;
    const { config } = JSON.parse(await readFile(join(dataDir, 'runs', runId, 'run.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(config).toMatchObject({ activation: 'relu', lr: 0.01, optimizer: 'adam', clipNorm: 5, batch: 4, inputSize: 16, model: 'tiny' });

    // A layer that cannot die says what its negative share measures: the pre-activations (issue 14, 2.6, as the app's "Neg. input").
    const leaky = await lab(['train', '--activation', 'leaky_relu:0.1', '--model', 'tiny', '--data', 'synthetic:6x6', '--batch', '4', '--input', '16', '--max-steps', '2', '--backend', 'cpu'], dataDir);
    expect(leaky.code).toBe(0);
    expect(leaky.stdout).toMatch(/\n {2}conv1\.act +leaky_relu\S* +cannot die; \d+\/\d+ filters in the negative regime, [\d.]+% of pre-activations at or below 0\n/);

    const unknown = await lab(['train', '--preset', 'nope', '--data', 'synthetic'], dataDir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: no preset "nope"; the presets are relu-high-lr, /);
  }, 120_000);
});
