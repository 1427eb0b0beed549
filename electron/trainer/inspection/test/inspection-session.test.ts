// An inspection pass over the small synthetic set with the tiny model at 32 px: numbers for
// every layer, a layer dead on purpose reported all dead, the weights unchanged to the bit,
// run.json and the checkpoint untouched, what is kept in the run, a run another process holds,
// a stop, and no tensor left behind.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { listSnapshots, readSnapshotHeader } from '../../probes/snapshots';
import { openRun } from '../../runs/run-store';
import type { TrainEvent } from '../../training/session';
import { TrainingSession } from '../../training/session';
import { InspectionSession, type InspectionOptions } from '../inspection-session';
import { importedRun } from './imported-run';

const DATA = 'synthetic:4x4';
const SOURCE = expect.stringMatching(/^synthetic:4x4\b/);
let dataDir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dataDir = await tempDir('fcl-inspect-');
});

async function inspect(runId: string, options: Partial<InspectionOptions> = {}, during?: (session: InspectionSession, event: TrainEvent) => void) {
  const events: TrainEvent[] = [];
  let opened: InspectionSession | undefined;
  const session = await InspectionSession.open(runId, {
    dataDir,
    data: { spec: DATA },
    backend: 'cpu',
    prefetch: 0,
    batch: 5,
    onEvent: (event) => {
      events.push(event);
      if (opened) during?.(opened, event);
    },
    ...options,
  });
  opened = session;
  try {
    const outcome = await session.train();
    const state = await session.core.getState();
    return { outcome, events, state };
  } finally {
    await session.core.dispose();
    session.dispose();
  }
}

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('an inspection pass over a dataset', () => {
  test('an imported run: numbers for every layer, the weights, run.json and the checkpoint unchanged, the pass kept in the run', async () => {
    const runId = await importedRun(dataDir, { name: 'plain' });
    const run = await openRun(dataDir, runId);
    const checkpoint = await run.loadLatestCheckpoint();
    const checkpointFile = join(run.dir, checkpoint!.file);
    const [runJson, checkpointHash] = [await readFile(run.runFile, 'utf8'), await sha256(checkpointFile)];

    const { outcome, events, state } = await inspect(runId);

    expect(outcome).toMatchObject({ runId, state: 'finished', step: 0, batches: 4, images: 16, data: { images: 16 } });
    expect(outcome.layers.map((l) => l.layer)).toEqual(['conv1.act', 'group1.a.act', 'group1.b.act', 'embedding']);
    for (const layer of outcome.layers) {
      expect(layer.deadFilters).toEqual(expect.any(Number));
      expect(layer.deadUnits).toEqual(expect.any(Number));
      expect(Number.isFinite(layer.mean) && Number.isFinite(layer.std)).toBe(true);
      expect(layer.pieceWinRates).toHaveLength(2); // MFM 2/1: two pieces
      // Nothing flowed backwards: the numbers that need a gradient are not made up.
      expect([layer.gradOutputMeanAbs, layer.gradWeightMeanAbs, layer.updateRatio]).toEqual([null, null, null]);
      expect(layer.weightNorm).toBeGreaterThan(0);
    }
    // Events as training's, labelled as a pass, without a loss.
    expect(events.find((e) => e.type === 'started')).toMatchObject({ runId, step: 0, totalSteps: 4, inspection: { images: 16, batches: 4, checkpointStep: 0, source: SOURCE } });
    expect(events.some((e) => e.type === 'progress' || e.type === 'checkpoint' || e.type === 'epoch')).toBe(false);
    const stats = events.filter((e) => e.type === 'layerStats');
    expect(stats.map((e) => e.step)).toEqual([1, 2, 3, 4, 4]);
    expect(stats.every((e) => e.window === 4)).toBe(true);
    expect(events.filter((e) => e.type === 'histograms').map((e) => e.step)).toEqual([1, 4]);
    expect(events.find((e) => e.type === 'probes')).toMatchObject({ images: expect.any(Array) });
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'finished', message: expect.stringMatching(/looked at 16 images of .* in 4 batches with the weights of step 0; kept in metrics\.jsonl and snapshots\/step-000000\.fclf/) });

    // The weights after the pass are the checkpoint's, to the bit.
    const weights = state.arrays.filter((a) => a.name.startsWith('weights/'));
    expect(weights.map((w) => w.name)).toEqual([...checkpoint!.arrays.keys()].filter((n) => n.startsWith('weights/')));
    for (const w of weights) expect(Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength).equals(Buffer.from(checkpoint!.arrays.get(w.name)!.values.buffer))).toBe(true);
    expect(await readFile(run.runFile, 'utf8')).toBe(runJson);
    expect(await sha256(checkpointFile)).toBe(checkpointHash);

    const { rows } = await run.readMetrics();
    const layersRow = rows.find((r) => r['kind'] === 'layers');
    expect(layersRow).toMatchObject({ step: 0, epoch: 0, window: 4, inspection: { data: expect.any(String), source: SOURCE, images: 16, batches: 4 } });
    expect(layersRow?.['layers']).toEqual(JSON.parse(JSON.stringify(outcome.layers)));
    expect(rows.find((r) => r['kind'] === 'histograms')).toMatchObject({ step: 0, inspection: { source: SOURCE } });
    const snapshot = await readSnapshotHeader(join(run.dir, 'snapshots', 'step-000000.fclf'));
    expect(snapshot).toMatchObject({ step: 0, layers: outcome.layers.map((l) => l.layer), inspection: { source: SOURCE } });
    // Listed as a pass's, so the Runs view's snapshot viewer does not show it as training's.
    expect((await listSnapshots(run.dir)).snapshots).toEqual([expect.objectContaining({ step: 0, inspection: { data: expect.any(String), at: expect.any(String) } })]);
    expect(outcome.saved).toEqual({ metrics: 'metrics.jsonl', snapshot: 'snapshots/step-000000.fclf' });
  }, 60_000);

  test('a ReLU layer whose biases are far below zero is reported dead on every image, filter by filter', async () => {
    const runId = await importedRun(dataDir, { name: 'dead', activation: 'relu', deadBias: true });
    const { outcome } = await inspect(runId);
    const conv1 = outcome.layers.find((l) => l.layer === 'conv1.act');
    expect(conv1).toMatchObject({ rule: 'zero', filters: 8, deadFilters: 8, neverFiredFilters: 8, zeroFraction: 1, mean: 0 });
    expect(conv1?.deadUnits).toBe(conv1?.units);
    expect(conv1?.deadFilterIndices).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The same network without the bias: the first layer lives.
    const alive = await inspect(await importedRun(dataDir, { name: 'alive', activation: 'relu' }));
    expect(alive.outcome.layers.find((l) => l.layer === 'conv1.act')?.deadFilters).toBeLessThan(8);
  }, 60_000);

  test('a run the lab trained: training\'s snapshot of that step is kept, the rows are marked at its checkpoint', async () => {
    const training = await TrainingSession.start({ data: DATA, model: 'tiny', inputSize: 32, batch: 8, maxSteps: 2 }, { dataDir, backend: 'cpu', prefetch: 0 });
    await training.train();
    training.dispose();
    const runId = training.run.id;
    const { outcome, events } = await inspect(runId, { data: { spec: 'synthetic:5x3' } });
    expect(outcome).toMatchObject({ state: 'finished', step: 2, images: 15, saved: { metrics: 'metrics.jsonl', snapshot: null } });
    expect(events.some((e) => e.type === 'warning' && /step 2 already has training's/.test(e.message))).toBe(true);
    const snapshot = await readSnapshotHeader(join(training.run.dir, 'snapshots', 'step-000002.fclf'));
    expect(snapshot.inspection).toBeUndefined();
    const { rows } = await (await openRun(dataDir, runId)).readMetrics();
    const marked = rows.filter((r) => r['inspection'] !== undefined);
    expect(marked.map((r) => [r['kind'], r.step])).toEqual([['layers', 2], ['histograms', 2]]);
  }, 60_000);

  test('a run another process holds is looked at but not written to', async () => {
    const runId = await importedRun(dataDir, { name: 'held' });
    const holder = await openRun(dataDir, runId);
    const release = await holder.acquireLock();
    try {
      const before = await readFile(holder.metricsFile, 'utf8').catch(() => '');
      const { outcome, events } = await inspect(runId);
      expect(outcome.state).toBe('finished');
      expect(outcome.saved).toBeNull();
      expect(outcome.notSaved).toMatch(/being trained by process/);
      expect(events.some((e) => e.type === 'warning' && /not kept in the run/.test(e.message))).toBe(true);
      expect(await readFile(holder.metricsFile, 'utf8').catch(() => '')).toBe(before);
    } finally {
      await release();
    }
  }, 60_000);

  test('a pass holds no lock while it runs: the run can be trained, resumed or deleted meanwhile', async () => {
    const runId = await importedRun(dataDir, { name: 'unheld' });
    // Held after batch 1 while another writer takes the lock and lets it go, as a resume would.
    let midPass: Promise<string> | undefined;
    const { outcome } = await inspect(runId, {}, (session, event) => {
      if (event.type !== 'layerStats' || event.step !== 1 || midPass) return;
      session.pause();
      midPass = openRun(dataDir, runId)
        .then(async (run) => (await run.acquireLock())())
        .then(() => 'taken', (error: Error) => error.message)
        .finally(() => session.resume());
    });
    expect(await midPass).toBe('taken');
    expect(outcome.saved).not.toBeNull();
  }, 60_000);

  test('a stop ends the pass between batches and keeps nothing', async () => {
    const runId = await importedRun(dataDir, { name: 'stopped' });
    const { outcome } = await inspect(runId, {}, (session, event) => {
      if (event.type === 'layerStats' && event.step === 1) session.stop();
    });
    expect(outcome).toMatchObject({ state: 'stopped', saved: null, message: expect.stringMatching(/after batch 1 of 4.*nothing was saved/) });
    const { rows } = await (await openRun(dataDir, runId)).readMetrics();
    expect(rows).toEqual([]);
  }, 60_000);

  test('refusals say why and what to do', async () => {
    const runId = await importedRun(dataDir, { name: 'refusals' });
    await expect(InspectionSession.open(runId, { dataDir, backend: 'cpu', data: { spec: DATA, layout: 'flat', identityRegex: '^no group$' } })).rejects.toThrow(/identity regex.*group/i);
    await expect(InspectionSession.open(runId, { dataDir, backend: 'cpu', data: { spec: join(dataDir, 'no-such-folder') } })).rejects.toThrow(/no-such-folder/);
    await expect(InspectionSession.open('no-such-run', { dataDir, backend: 'cpu', data: { spec: DATA } })).rejects.toThrow(/no-such-run/);
    // The lock is released after a refusal: the run can be written again.
    const release = await (await openRun(dataDir, runId)).acquireLock();
    await release();
  }, 60_000);

  test('leaves no tensor behind', async () => {
    const runId = await importedRun(dataDir, { name: 'leak' });
    await inspect(runId); // first use: one-time kernels and caches
    const before = tf.memory().numTensors;
    let frames = 0;
    await inspect(runId, {}, (session, event) => {
      if (event.type === 'started') void session.subscribe({ layers: new Set(['conv1.act', 'embedding']), preActivation: new Set(['group1.a.act']), fullMaps: [] });
      if (event.type === 'layerStats' && event.step === 2) void session.probeNow();
      if (event.type === 'frames') frames += event.frames.length;
    });
    expect(frames).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});
