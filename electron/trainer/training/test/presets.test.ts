// The presets as data: each is a valid, fully specified training config whose model builds,
// names presets that exist, and has an experiment check (`npm run experiments` runs them and
// checks their claims; bench/experiment-checks.ts). One bounded run on ORL: ReLU at a high
// learning rate kills filters where leaky ReLU at the same settings cannot die.
import { describe, expect, test } from 'vitest';
import { CHECKS, learnsCheck, stepsToLoss } from '../../../../bench/experiment-checks';
import type { RunRecord } from '../../../../bench/experiment-run';
import { ORL, sharedDataset, tempDir } from '../../../../datasets/test/fixtures';
import { parseTrainConfig } from '../config';
import { RECIPE_KEYS } from '#protocol/train-recipes';
import { buildFromConfig } from '../run-model';
import { TrainingSession, type TrainEvent } from '../session';
import { findPreset, PRESETS } from '../presets';

type LayerStatsEvent = Extract<TrainEvent, { type: 'layerStats' }>;

test('every preset is a valid training config whose model builds, and names presets that exist', () => {
  for (const preset of PRESETS) {
    const config = parseTrainConfig({ ...preset.config, data: 'synthetic' });
    const built = buildFromConfig(config, 40); // the input size must suit the model (Model A needs >= 57 px)
    built.model.dispose();
    for (const other of preset.compareWith) expect(() => findPreset(other)).not.toThrow();
    expect(preset.compareWith).not.toContain(preset.name);
  }
  expect(() => findPreset('relu-low-lr')).toThrow(/no preset "relu-low-lr"; the presets are relu-high-lr/);
});

test('preset names and titles are unique, and every preset has a title and a claim', () => {
  expect(new Set(PRESETS.map((p) => p.name)).size).toBe(PRESETS.length);
  expect(new Set(PRESETS.map((p) => p.title)).size).toBe(PRESETS.length);
  for (const preset of PRESETS) {
    expect(preset.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(preset.title).not.toBe('');
    expect(preset.claim.length).toBeGreaterThan(40);
  }
});

test('every preset sets what a recipe would otherwise choose, and its input size, so that a new recipe does not change the experiment', () => {
  for (const preset of PRESETS) {
    const config = preset.config as Record<string, unknown>;
    const missing = [...RECIPE_KEYS, 'model', 'inputSize', 'activation'].filter((key) => config[key] === undefined);
    expect(missing, preset.name).toEqual([]);
    // The same config whatever backend decides the defaults.
    expect(parseTrainConfig({ ...preset.config, data: 'synthetic' }, { backend: 'wasm' })).toEqual(parseTrainConfig({ ...preset.config, data: 'synthetic' }, { backend: 'tensorflow-gpu' }));
  }
});

test('the presets run about a minute on a 2-core CPU: the tiny network at 32 px, at most 700 steps on ORL (320 training images)', () => {
  for (const preset of PRESETS) {
    const config = parseTrainConfig({ ...preset.config, data: 'synthetic' });
    expect(config.model, preset.name).toBe('tiny');
    expect(config.inputSize, preset.name).toBeLessThanOrEqual(32);
    expect(Math.floor(320 / config.batch) * config.epochs, preset.name).toBeLessThanOrEqual(700);
  }
});

test('every preset has an experiment check of its claim, and every check reads presets that exist', () => {
  for (const preset of PRESETS) expect(CHECKS.some((c) => c.needs.includes(preset.name)), preset.name).toBe(true);
  for (const check of CHECKS) for (const name of check.needs) expect(() => findPreset(name)).not.toThrow();
});

describe('experiment checks', () => {
  const record = (losses: number[], valAccuracy: number, classes = 40): RunRecord =>
    ({
      name: 'x',
      classes,
      steps: losses.map((loss, i) => ({ step: i + 1, epoch: 0, loss, accuracy: 0, lr: 0.01, gradNorm: 1, t: i })),
      epochs: [{ step: losses.length, epoch: 0, trainLoss: 0, trainAccuracy: 0, valLoss: 0, valAccuracy, t: 0 }],
      layerStats: [],
      warnings: [],
      outcome: { state: 'finished', step: losses.length },
      seconds: 1,
      stoppedByBudget: false,
      totalSteps: losses.length,
    }) as unknown as RunRecord;

  test('stepsToLoss: the first step whose 10-step mean loss is at or below the target', () => {
    const losses = [...Array(20).fill(3.7), ...Array(20).fill(1)];
    // The mean of the last 10 falls below 2 once 6 of them are 1: (4 x 3.7 + 6) / 10 = 2.08, (3 x 3.7 + 7) / 10 = 1.81.
    expect(stepsToLoss(record(losses, 0.5), 2)).toBe(27);
    expect(stepsToLoss(record(losses, 0.5), 0.5)).toBeNull();
  });

  test('learns: the loss clearly below ln C and held-out accuracy well above 1/C, or says why not', () => {
    expect(learnsCheck(record(Array(10).fill(1), 0.8)).holds).toBe(true);
    expect(learnsCheck(record(Array(10).fill(3.6), 0.8)).holds).toBe(false); // loss at chance
    expect(learnsCheck(record(Array(10).fill(1), 0.1)).holds).toBe(false); // 4 x chance on 40 classes
    const diverged = { ...record([3.7], 0), outcome: { state: 'failed', step: 5, failure: 'diverged', message: 'the loss became NaN' } } as RunRecord;
    expect(learnsCheck(diverged)).toMatchObject({ holds: false, figure: expect.stringMatching(/^diverged at step 5/) });
  });
});

async function lastLayerStats(presetName: string, dataDir: string): Promise<LayerStatsEvent> {
  let last: LayerStatsEvent | undefined;
  // Bounded: 30 steps of batch 16, dead counted over the last 10 (the preset's other settings as they are).
  const session = await TrainingSession.start({ ...findPreset(presetName).config, data: ORL, batch: 16, maxSteps: 30 }, {
    dataDir,
    backend: 'cpu',
    prefetch: 0,
    // A window shorter than the run, so filters that died after the first steps count.
    probes: { window: 10 },
    onEvent: (e) => {
      if (e.type === 'layerStats') last = e;
    },
  });
  try {
    const outcome = await session.train();
    expect(outcome.state).toBe('stopped'); // at --max-steps, not diverged
  } finally {
    session.dispose();
  }
  return last!;
}

describe.skipIf(!sharedDataset(ORL))('presets on ORL', () => {
  test('ReLU at a high learning rate ends with strictly more dead filters than leaky ReLU', async () => {
    const dataDir = await tempDir();
    const relu = await lastLayerStats('relu-high-lr', dataDir);
    const leaky = await lastLayerStats('leaky-high-lr', dataDir);
    const dead = (s: LayerStatsEvent) => s.layers.reduce((n, l) => n + (l.deadFilters ?? 0), 0);
    const line = (s: LayerStatsEvent) => s.layers.map((l) => `${l.layer} ${l.deadFilters ?? `cannot die (${l.negativeRegimeFilters} negative-regime)`}/${l.filters}`).join(', ');
    console.log(`after ${relu.step} steps on ORL (window ${relu.window}): relu-high-lr dead ${line(relu)}; leaky-high-lr ${line(leaky)}`);
    expect(relu.layers.every((l) => l.rule === 'zero')).toBe(true);
    expect(leaky.layers.every((l) => l.rule === 'cannot-die' && l.deadFilters === null)).toBe(true);
    expect(dead(relu)).toBeGreaterThan(dead(leaky));
    // Not only the 256-unit fc: the conv layers lose filters too.
    expect(relu.layers.filter((l) => l.layer !== 'embedding').reduce((n, l) => n + l.deadFilters!, 0)).toBeGreaterThan(0);
  }, 300_000);
});
