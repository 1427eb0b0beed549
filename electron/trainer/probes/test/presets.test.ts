// The seed's claims, reproducible: ReLU at a high learning rate kills filters on real faces;
// leaky ReLU at the same settings cannot die.
import { describe, expect, test } from 'vitest';
import { ORL, sharedDataset, tempDir } from '../../../../datasets/test/fixtures';
import { parseTrainConfig } from '../../training/config';
import { buildFromConfig } from '../../training/run-model';
import { TrainingSession, type TrainEvent } from '../../training/session';
import { findPreset, PRESETS } from '../presets';

type LayerStatsEvent = Extract<TrainEvent, { type: 'layerStats' }>;

test('every preset is a valid training config whose model builds, and names presets that exist', () => {
  for (const preset of PRESETS) {
    const config = parseTrainConfig({ ...preset.config, data: 'synthetic' });
    const built = buildFromConfig(config, 40); // the input size must suit the model (Model A needs >= 57 px)
    built.model.dispose();
    for (const other of preset.compareWith) expect(() => findPreset(other)).not.toThrow();
  }
  expect(() => findPreset('relu-low-lr')).toThrow(/no preset "relu-low-lr"; the presets are relu-high-lr/);
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
