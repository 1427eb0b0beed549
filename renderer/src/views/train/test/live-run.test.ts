import { describe, expect, test, vi } from 'vitest';
import type { LayerStatsMessage, ServerMessage } from '#protocol/messages';
import { LiveRun } from '../../../lib/live-run.svelte';
import { ScriptedTrainer } from '../../../test-support/scripted-trainer';
import { firstFilters, histogram, histogramsMessage, histogramsRow } from '../../../test-support/histograms';
import { frame, LAYERS, progress, progressWithLoss, startedRunReply, statsMessage } from './fixtures';

/** A LiveRun whose flushes the test runs by hand (no animation frames). */
function setup(options: ConstructorParameters<typeof LiveRun>[1] = {}, handlers: ConstructorParameters<typeof ScriptedTrainer>[0] = {}) {
  const trainer = new ScriptedTrainer(handlers);
  const flushes: (() => void)[] = [];
  const live = new LiveRun(trainer.client, { schedule: (f) => flushes.push(f), ...options });
  const flush = () => {
    for (const f of flushes.splice(0)) f();
  };
  return { trainer, live, flush, flushes };
}

describe('LiveRun', () => {
  test('accumulates steps and publishes them once per flush, not once per message', () => {
    const { trainer, live, flush, flushes } = setup();
    trainer.push(progress(1, 3));
    trainer.push(progress(4, 4));
    trainer.push(statsMessage(4));
    expect(flushes).toHaveLength(1); // one scheduled flush for everything that arrived
    expect(live.progressVersion).toBe(0);
    flush();
    expect(live.progressVersion).toBe(1);
    expect(live.statsVersion).toBe(1);
    expect(live.framesVersion).toBe(0);
    const v = live.progressView();
    expect(v.x).toEqual([1, 2, 3, 4]);
    expect(v.loss[1]).toBeCloseTo(1);
    expect(live.latest?.step).toBe(4);
    // The client still acked every streamed message at once: the trainer never waits for a redraw.
    expect(trainer.received.filter((m) => m.type === 'ack').map((m) => (m as { channel: string }).channel)).toEqual(['progress', 'progress', 'layerStats']);
  });

  test('a null loss (diverged step) is a gap', () => {
    const { trainer, live, flush } = setup();
    trainer.push(progress(1, 2, { loss: null }));
    flush();
    expect(live.progressView().loss).toEqual([null, null]);
  });

  test('memory stays bounded on a 100k-step run, and the chart data stays small', () => {
    const { trainer, live, flush } = setup({ maxSteps: 4096 });
    for (let s = 1; s <= 100_000; s += 500) trainer.push(progress(s, s + 499));
    flush();
    expect(live.progressSize.rows).toBeLessThanOrEqual(4096);
    expect(live.progressSize.grain).toBeGreaterThanOrEqual(32);
    const v = live.progressView(1500);
    expect(v.x.length).toBeLessThanOrEqual(1500);
    expect(v.x.at(-1)).toBe(100_000);
    expect(v.x[0]).toBeLessThan(200);
  });

  test('dead counts per layer over time, with the window; cannot-die layers give their negative-regime filters', () => {
    const { trainer, live, flush } = setup();
    trainer.push(statsMessage(1, {}, 10));
    trainer.push(statsMessage(2, { 'conv1.act': [1, 2], 'conv2.act': [0] }, 10));
    trainer.push(statsMessage(3, { 'conv1.act': [1, 2, 5], 'conv2.act': [0, 3], 'conv3.act': [4] }, 10));
    flush();
    expect(live.window).toBe(10);
    expect(live.statsStep).toBe(3);
    const counts = live.deadView('filters', false);
    expect(counts.x).toEqual([1, 2, 3]);
    expect(counts.layers.map((l) => [l.layer, l.rule, l.values])).toEqual([
      ['conv1.act', 'zero', [0, 2, 3]],
      ['conv2.act', 'cannot-die', [0, 1, 2]],
      ['conv3.act', 'pieces', [0, 0, 1]],
    ]);
    const percent = live.deadView('filters', true);
    expect(percent.layers[0]!.values.at(-1)).toBeCloseTo((100 * 3) / 8);
    expect(live.deadView('units', false).layers[1]!.values).toEqual([null, null, null]); // cannot die: no dead units
    expect(live.layerStats('conv1.act')?.deadFilterIndices).toEqual([1, 2, 5]);
  });

  test('keeps the newest frame per layer and kind, the full-size map, a global range and per-filter history', () => {
    const { trainer, live, flush } = setup();
    trainer.push(frame('conv1.act', { step: 5, channels: 8, probes: 2 }));
    trainer.push(frame('conv1.act', { step: 6, channels: 8, probes: 2 }));
    trainer.push(frame('conv1.act', { step: 6, channels: 8, probes: 2, kind: 'preactivation' }));
    trainer.push(frame('conv1.act', { step: 6, channels: 1, probes: 1, side: 8, full: { filter: 3, probe: 1 } }));
    flush();
    expect(live.frame('conv1.act', 'activation')?.header.step).toBe(6);
    expect(live.frame('conv1.act', 'preactivation')?.header.kind).toBe('preactivation');
    expect(live.frame('conv2.act', 'activation')).toBeNull();
    expect(live.fullMap({ layer: 'conv1.act', kind: 'activation', filter: 3, probe: 1 })?.header.width).toBe(8);
    expect(live.fullMap({ layer: 'conv1.act', kind: 'activation', filter: 2, probe: 1 })).toBeNull();
    // Map (p, c) spans [p + c, p + c + 1]: 2 probes x 8 channels -> [0, 9].
    expect(live.globalRange('activation')).toEqual({ min: 0, max: 9 });
    const h = live.filterHistory('conv1.act', 'activation', 3);
    expect(h?.steps).toEqual([5, 6]);
    expect(h?.mean).toEqual([
      [3.5, 3.5],
      [4.5, 4.5],
    ]);
  });

  test('frames of many layers: only the newest few are kept', () => {
    const { trainer, live, flush } = setup({ keepFrames: 2 });
    for (const layer of ['a', 'b', 'c']) trainer.push(frame(layer, { channels: 2 }));
    flush();
    expect(live.frame('a', 'activation')).toBeNull();
    expect(live.frame('c', 'activation')).not.toBeNull();
  });

  test('a new run resets everything; a resumed one keeps its history up to the checkpoint', () => {
    const { trainer, live, flush } = setup();
    trainer.event({ type: 'started', runId: 'r1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    trainer.push(progress(1, 20));
    trainer.push(statsMessage(20));
    trainer.push(frame('conv1.act'));
    trainer.event({ type: 'epoch', step: 10, epoch: 0, trainLoss: 1, trainAccuracy: 0.5, valLoss: 1.2, valAccuracy: 0.4 });
    flush();
    expect(live.runId).toBe('r1');
    expect(live.epochs).toHaveLength(1);

    // Resumed from the checkpoint at step 10: steps 11..20 will come again.
    trainer.event({ type: 'started', runId: 'r1', step: 10, totalSteps: 100, backend: 'cpu', resumed: true });
    flush();
    expect(live.progressView().x.at(-1)).toBe(10);
    trainer.push(progress(11, 12));
    flush();
    expect(live.progressView().x.slice(-3)).toEqual([10, 11, 12]);

    trainer.event({ type: 'started', runId: 'r2', step: 0, totalSteps: 50, backend: 'cpu', resumed: false });
    flush();
    expect(live.runId).toBe('r2');
    expect(live.progressView().x).toEqual([]);
    expect(live.epochs).toEqual([]);
    expect(live.layerStats('conv1.act')).toBeNull();
    expect(live.frame('conv1.act', 'activation')).toBeNull();
    expect(live.deadView('filters', false).x).toEqual([]);
  });

  test('backfills what it missed from the run record, before the live steps', async () => {
    const metrics = [
      ...Array.from({ length: 5 }, (_, i) => ({ kind: 'step', step: i + 1, epoch: 0, loss: 1, accuracy: 0.1, lr: 0.1, gradNorm: 1, imagesPerSecond: 10, stepMs: 5 })),
      { kind: 'layers', step: 1, epoch: 0, window: 50, layers: (statsMessage(1, { 'conv1.act': [0] }) as LayerStatsMessage).layers },
      { kind: 'epoch', step: 5, epoch: 0, trainLoss: 1, trainAccuracy: 0.1, valLoss: 1.5, valAccuracy: 0.05 },
    ];
    const { trainer, live, flush } = setup({}, { getRun: () => ({ record: {}, metrics, warnings: [] }) });
    trainer.push(progress(6, 7));
    await live.backfill('r1');
    flush();
    expect(live.progressView().x).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(live.epochs.map((e) => e.valLoss)).toEqual([1.5]);
    expect(live.deadView('filters', false).layers[0]!.values).toEqual([1]);
    expect(live.layerStats('conv1.act')?.deadFilters).toBe(1);
    expect(trainer.commands('getRun')).toEqual([{ name: 'getRun', runId: 'r1' }]);
    await live.backfill('r1'); // once per run
    expect(trainer.commands('getRun')).toHaveLength(1);
  });

  test('histograms: acked at once, kept per layer over the steps, with the newest first-layer filters', () => {
    const { trainer, live, flush } = setup();
    const filters = firstFilters({ count: 3 });
    trainer.push(histogramsMessage(10, ['conv1.act', 'conv2.act'], filters));
    trainer.push(histogramsMessage(20, ['conv1.act', 'conv2.act']));
    expect(trainer.received.filter((m) => m.type === 'ack').map((m) => (m as { channel: string }).channel)).toEqual(['histograms', 'histograms']);
    expect(live.histogramsVersion).toBe(0);
    flush();
    expect(live.histogramsVersion).toBe(1);
    const weights = live.histogramHistory('conv1.act', 'weights');
    expect(weights.map((e) => e.step)).toEqual([10, 20]);
    expect(weights[1]!.histogram?.max).toBeCloseTo(0.12);
    expect(live.histogramHistory('conv2.act', 'activations').map((e) => e.histogram?.max)).toEqual([10, 20]);
    expect(live.histogramHistory('conv9.act', 'weights')).toEqual([]);
    expect(live.histogramsStep).toBe(20);
    // The filters of step 10 stay the newest until others come.
    expect(live.firstFilters).toEqual({ step: 10, epoch: 0, filters });
  });

  test('histograms keep at most maxHistogramSteps rows, spread over the whole run, the newest always', () => {
    const { trainer, live, flush } = setup({ maxHistogramSteps: 8 });
    for (let step = 1; step <= 100; step++) trainer.push(histogramsMessage(step, ['conv1.act']));
    flush();
    const steps = live.histogramHistory('conv1.act', 'weights').map((e) => e.step);
    expect(steps.length).toBeLessThanOrEqual(9);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(100);
    expect(steps[4]! - steps[0]!).toBeGreaterThan(40); // not only the recent end
  });

  test('backfills histograms and filters from the recorded rows before the live ones, without duplicates', async () => {
    const recordedFilters = firstFilters({ count: 2 });
    const rewritten = { ...histogramsRow(20, ['conv1.act']), layers: [{ layer: 'conv1.act', weights: histogram([9], -1, 1), activations: null }] };
    const metrics = [
      histogramsRow(10, ['conv1.act'], recordedFilters),
      histogramsRow(20, ['conv1.act']),
      rewritten, // a resumed run wrote step 20 again: its last row counts
      histogramsRow(30, ['conv1.act']), // the live stream has step 30 too: the live one is kept
      { kind: 'histograms', step: 'bad', layers: [] },
    ];
    const { trainer, live, flush } = setup({}, { getRun: () => ({ record: {}, metrics, warnings: [] }) });
    const at30 = histogramsMessage(30, ['conv1.act']) as Extract<ServerMessage, { type: 'histograms' }>;
    trainer.push({ ...at30, items: [{ ...at30.items[0]!, layers: [{ layer: 'conv1.act', weights: histogram([5, 5], -2, 2), activations: null }] }] });
    trainer.push(histogramsMessage(40, ['conv1.act']));
    await live.backfill('r1');
    flush();
    const weights = live.histogramHistory('conv1.act', 'weights');
    expect(weights.map((e) => e.step)).toEqual([10, 20, 30, 40]);
    expect(weights[1]!.histogram?.counts).toEqual([9]);
    expect(weights[2]!.histogram?.counts).toEqual([5, 5]);
    // No live filters yet: the newest recorded ones.
    expect(live.firstFilters?.step).toBe(10);
    expect(live.firstFilters?.filters.values).toEqual(recordedFilters.values);
    const liveFilters = firstFilters({ count: 5 });
    trainer.push(histogramsMessage(50, ['conv1.act'], liveFilters));
    flush();
    expect(live.firstFilters).toMatchObject({ step: 50, filters: { count: 5 } });
  });

  test('histograms of a resumed run go back to the checkpoint; a new run starts empty', () => {
    const { trainer, live, flush } = setup();
    trainer.event({ type: 'started', runId: 'r1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    trainer.push(progress(1, 30));
    trainer.push(histogramsMessage(10, ['conv1.act']));
    trainer.push(histogramsMessage(20, ['conv1.act'], firstFilters()));
    flush();
    trainer.event({ type: 'started', runId: 'r1', step: 10, totalSteps: 100, backend: 'cpu', resumed: true });
    flush();
    expect(live.histogramHistory('conv1.act', 'weights').map((e) => e.step)).toEqual([10]);
    expect(live.firstFilters).toBeNull(); // step 20's filters belong to the discarded steps, and there were no others
    trainer.event({ type: 'started', runId: 'r2', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    flush();
    expect(live.histogramHistory('conv1.act', 'weights')).toEqual([]);
    expect(live.histogramsStep).toBeNull();
  });

  test('after a resume drops the newest filters, the ones before the checkpoint are shown; several items in one message all count', () => {
    const { trainer, live, flush } = setup();
    trainer.event({ type: 'started', runId: 'r1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    trainer.push(progress(1, 30));
    const first = histogramsMessage(1, ['conv1.act'], firstFilters({ count: 2 })) as Extract<ServerMessage, { type: 'histograms' }>;
    const later = [histogramsMessage(10, ['conv1.act']), histogramsMessage(20, ['conv1.act'], firstFilters({ count: 3 }))] as Extract<ServerMessage, { type: 'histograms' }>[];
    trainer.push(first);
    trainer.push({ ...first, items: later.flatMap((m) => m.items) }); // a slow viewer's backlog, in one message
    flush();
    expect(live.histogramHistory('conv1.act', 'weights').map((e) => e.step)).toEqual([1, 10, 20]);
    expect(live.firstFilters).toMatchObject({ step: 20, filters: { count: 3 } });
    trainer.event({ type: 'started', runId: 'r1', step: 15, totalSteps: 100, backend: 'cpu', resumed: true });
    flush();
    expect(live.firstFilters).toMatchObject({ step: 1, filters: { count: 2 } });
  });

  test('a trainer that cannot answer getRun leaves the live data alone', async () => {
    const { trainer, live, flush } = setup();
    trainer.push(progress(1, 2));
    await live.backfill('r1');
    flush();
    expect(live.progressView().x).toEqual([1, 2]);
  });

  test("takes the run's record when a run starts (one getRun), and forgets it for the next run", async () => {
    const { trainer, live } = setup({}, { getRun: (c) => startedRunReply(c.runId, { identities: c.runId === 'r1' ? 40 : 12, config: { warmupSteps: 7 } }) });
    trainer.event({ type: 'started', runId: 'r1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    await vi.waitFor(() => expect(live.record?.dataset?.identities).toBe(40));
    expect(live.record?.config['warmupSteps']).toBe(7);
    trainer.push(progress(1, 5));
    // Resumed: the same run, its record already known.
    trainer.event({ type: 'started', runId: 'r1', step: 3, totalSteps: 100, backend: 'cpu', resumed: true });
    expect(trainer.commands('getRun')).toHaveLength(1);
    trainer.event({ type: 'started', runId: 'r2', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    expect(live.record).toBeNull();
    await vi.waitFor(() => expect(live.record?.dataset?.identities).toBe(12));
    expect(trainer.commands('getRun').map((c) => c.runId)).toEqual(['r1', 'r2']);
  });

  test('a record of another run is not taken', async () => {
    const { trainer, live } = setup({}, { getRun: () => startedRunReply('someone-else') });
    trainer.event({ type: 'started', runId: 'r1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
    await vi.waitFor(() => expect(trainer.commands('getRun')).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(live.record).toBeNull();
  });

  test('the mean loss of the last steps, and whether the stored steps reach back over the window', () => {
    const { trainer, live, flush } = setup();
    expect(live.recentLoss(20)).toBeNull();
    trainer.push(progressWithLoss(1, 10, (step) => step));
    flush();
    expect(live.recentLoss(20)).toEqual({ step: 10, mean: 5.5, full: false });
    trainer.push(progressWithLoss(11, 30, (step) => (step === 25 ? Number.NaN : step)));
    flush();
    // Steps 11..30 without the diverged step 25.
    const sum = Array.from({ length: 20 }, (_, i) => 11 + i).filter((s) => s !== 25).reduce((a, b) => a + b, 0);
    expect(live.recentLoss(20)).toEqual({ step: 30, mean: sum / 19, full: true });
  });

  test('the mean loss of the last steps holds past the store ceiling, where rows are means of several steps', () => {
    const { trainer, live, flush } = setup({ maxSteps: 64 });
    trainer.push(progressWithLoss(1, 1000, (step) => (step > 900 ? 1 : 5)));
    flush();
    expect(live.progressSize.grain).toBeGreaterThan(1);
    const recent = live.recentLoss(20);
    expect(recent?.full).toBe(true);
    expect(recent?.mean).toBeCloseTo(1);
  });

  test('dispose stops listening', () => {
    const trainer = new ScriptedTrainer();
    const flushes: (() => void)[] = [];
    const live = new LiveRun(trainer.client, { schedule: (f) => flushes.push(f) });
    live.dispose();
    trainer.push(progress(1, 1));
    expect(flushes).toHaveLength(0);
  });

  test('layer names of the fixtures cover every dead rule the view labels', () => {
    expect(new Set(LAYERS.map((l) => l.rule))).toEqual(new Set(['zero', 'cannot-die', 'pieces']));
  });
});
