// An inspection pass in the live streams: its batches are its own series, the run's recorded
// training (and an earlier pass's rows) are not backfilled into it, and training after a pass
// starts afresh.
import { expect, test } from 'vitest';
import type { LayerStatsMessage } from '#protocol/messages';
import { LiveRun } from '../../../lib/live-run.svelte';
import { ScriptedTrainer } from '../../../test-support/scripted-trainer';
import { progress, statsMessage } from './fixtures';

const INSPECTION = { data: 'LFW', source: '/data/lfw', images: 40, batches: 2, checkpointStep: 30 };

test('a pass keeps only its batches: no training rows backfilled, and the next training run starts afresh', async () => {
  const metrics = [
    { kind: 'step', step: 30, epoch: 0, loss: 1, accuracy: 0.1, lr: 0.1, gradNorm: 1, imagesPerSecond: 10, stepMs: 5 },
    { kind: 'layers', step: 30, epoch: 0, window: 50, layers: (statsMessage(30, { 'conv1.act': [0, 1] }) as LayerStatsMessage).layers },
  ];
  const trainer = new ScriptedTrainer({ getRun: () => ({ record: {}, metrics, warnings: [] }) });
  const flushes: (() => void)[] = [];
  const live = new LiveRun(trainer.client, { schedule: (f) => flushes.push(f) });
  const flush = () => {
    for (const f of flushes.splice(0)) f();
  };
  trainer.event({ type: 'started', runId: 'r1', step: 0, totalSteps: 2, backend: 'cpu', resumed: false, inspection: INSPECTION });
  await new Promise((r) => setTimeout(r, 0));
  trainer.push(statsMessage(1, { 'conv1.act': [0] }, 2));
  trainer.push(statsMessage(2, { 'conv1.act': [0] }, 2));
  await live.backfill('r1'); // as a viewer joining the pass asks
  flush();
  expect(live.inspection).toEqual(INSPECTION);
  expect(live.deadView('filters', false).layers[0]!.values).toEqual([1, 1]);
  expect(live.statsStep).toBe(2);
  expect(live.progressView().x).toEqual([]);

  // Training the same run afterwards: a new series, the pass forgotten.
  trainer.event({ type: 'started', runId: 'r1', step: 30, totalSteps: 60, backend: 'cpu', resumed: true });
  trainer.push(progress(31, 31));
  await new Promise((r) => setTimeout(r, 0));
  flush();
  expect(live.inspection).toBeNull();
  expect(live.progressView().x).toContain(31);
});

test("training after a saved pass: the pass's marked rows are not backfilled as training's (dead counts, window, health, histograms)", async () => {
  const mark = { data: 'LFW', source: '/data/lfw', hash: 'h', images: 40, batches: 2, at: '2026-12-07T20:00:00.000Z' };
  const metrics = [
    { kind: 'step', step: 30, epoch: 0, loss: 1, accuracy: 0.1, lr: 0.1, gradNorm: 1, imagesPerSecond: 10, stepMs: 5 },
    { kind: 'layers', step: 29, epoch: 0, window: 50, layers: (statsMessage(29, { 'conv1.act': [0] }) as LayerStatsMessage).layers },
    // The pass, saved at the checkpoint's step with its own window: all of conv1 dead.
    { kind: 'layers', step: 30, epoch: 0, window: 2, inspection: mark, layers: (statsMessage(30, { 'conv1.act': [0, 1, 2, 3, 4, 5, 6, 7] }) as LayerStatsMessage).layers },
  ];
  const trainer = new ScriptedTrainer({ getRun: () => ({ record: {}, metrics, warnings: [] }) });
  const flushes: (() => void)[] = [];
  const live = new LiveRun(trainer.client, { schedule: (f) => flushes.push(f) });
  trainer.event({ type: 'started', runId: 'r1', step: 30, totalSteps: 60, backend: 'cpu', resumed: true });
  await new Promise((r) => setTimeout(r, 0));
  await live.backfill('r1');
  for (const f of flushes.splice(0)) f();
  expect(live.deadView('filters', false).x).toEqual([29]);
  expect(live.window).toBe(50);
  expect(live.statsStep).toBe(29);
});
