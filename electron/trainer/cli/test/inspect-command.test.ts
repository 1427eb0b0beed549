// lab inspect, run as a user runs it: an imported run looked at with the synthetic set prints
// every activation layer's dead filters and units over the pass and where it was kept; a layer
// dead on purpose says so; a missing --data and a bad identity regex are refused with the way out.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { importedRun } from '../../inspection/test/imported-run';
import { lab } from './run-lab';

let dataDir = '';
let deadRun = '';

beforeAll(async () => {
  await tf.setBackend('cpu');
  dataDir = await tempDir();
  deadRun = await importedRun(dataDir, { name: 'dead-relu', activation: 'relu', deadBias: true });
}, 60_000);

describe('lab inspect', () => {
  test('prints every layer dead over the pass and where it was kept', async () => {
    const result = await lab(['inspect', deadRun, '--data', 'synthetic:4x4', '--batch', '6', '--backend', 'cpu'], dataDir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Looking inside run ${deadRun} \\(the weights of step 0\\) with .* \\(synthetic:4x4.*; 16 images\\) in 3 batches`));
    expect(result.stdout).toMatch(/Dead on every image of the pass \(16 images of .*\), with the weights of step 0:/);
    expect(result.stdout).toMatch(/conv1\.act\s+relu\s+8\/8 filters dead, \d+\/\d+ units; mean 0, std 0, zeros 100\.0%/);
    for (const layer of ['group1.a.act', 'group1.b.act', 'embedding']) expect(result.stdout).toMatch(new RegExp(`${layer.replace(/\./g, '\\.')}\\s+relu\\s+\\d+/\\d+ filters dead`));
    expect(result.stdout).toContain('Not measured in a pass (no gradient flows, no weight changes): gradient flow and update ratio.');
    expect(result.stdout).toContain('Kept in the run: metrics.jsonl ("layers" and "histograms" rows marked inspection, at step 0) and snapshots/step-000000.fclf');
  }, 60_000);

  test('without --data it is refused by name; a bad identity regex says how to write one', async () => {
    const missing = await lab(['inspect', deadRun], dataDir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/required option '--data <path>' not specified/);
    const regex = await lab(['inspect', deadRun, '--data', 'synthetic:4x4', '--layout', 'flat', '--identity-regex', 'nogroup', '--backend', 'cpu'], dataDir);
    expect(regex.code).toBe(1);
    expect(regex.stderr).toMatch(/^error: The identity regex .*group.*Write a regular expression whose one group is the person/s);
  }, 60_000);
});
