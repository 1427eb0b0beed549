import { describe, expect, it } from 'vitest';
import {
  canResume,
  deadCellText,
  deadUnitsCellText,
  finalNumbers,
  formatBytes,
  formatNumber,
  formatPercent,
  histogramLayerNames,
  layerHistogramHistory,
  layerNames,
  layerSeries,
  parseMetricsRows,
  parseRunDetail,
  parseRunList,
  parseRunRecord,
  runConfig,
  runLabel,
  runOutcome,
  tarAt,
  totalSeries,
} from '../run-records';
import { firstFilters, histogram, histogramsRow } from '../../test-support/histograms';
import { evaluation, getRunReply, listEntries, metricsRows, PRELU_ID, RELU_ID, runRecord } from '../../views/runs/test/fixtures';
import { inspectionHistogramsRow, inspectionLayersRow, inspectionRows, mark } from '../../views/runs/test/inspection-fixtures';

describe('run records', () => {
  it('reads a record as the run store writes it', () => {
    const parsed = parseRunRecord(runRecord(RELU_ID, 'relu', { layers: { 'conv1.act': 'mfm:2/1' } }));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(runConfig(parsed.record)).toMatchObject({ model: 'tiny', activation: 'relu', inputSize: 32, lr: 0.1, layerOverrides: { 'conv1.act': 'mfm:2/1' } });
    expect(runOutcome(parsed.record)).toEqual({ steps: 40, epochs: 2, trainLoss: 2.31, trainAccuracy: 0.42, valLoss: 2.58, valAccuracy: 0.37 });
    expect(runLabel(RELU_ID, parsed.record)).toBe(`${RELU_ID} · relu +1`);
  });

  it('ignores unknown fields and fields of the wrong type, but not a record without its state', () => {
    const record = { ...runRecord(RELU_ID, 'relu'), futureField: { x: 1 }, backend: 42, dataset: 'odd', summary: { lastEpoch: 'broken' } };
    const parsed = parseRunRecord(record);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.record.backend).toBeUndefined();
      expect(parsed.record.dataset).toBeUndefined();
      expect(runOutcome(parsed.record)).toMatchObject({ steps: 40, trainLoss: null, valAccuracy: null });
    }
    const { state: _state, ...stateless } = runRecord(RELU_ID, 'relu');
    const broken = parseRunRecord(stateless);
    expect(broken).toEqual({ ok: false, reason: expect.stringContaining('state') });
  });

  it('lists readable, unreadable and malformed entries without throwing', () => {
    const entries = parseRunList([...listEntries(), { ok: true, id: 'weird', record: { id: 'weird' } }, 'garbage']);
    expect(entries.map((e) => [e.id, e.ok])).toEqual([
      [PRELU_ID, true],
      [RELU_ID, true],
      ['2026-11-25T17-00-00_tiny_mfm_ffff', false],
      ['weird', false],
      ['(entry 5)', false],
    ]);
    expect(entries[2]).toMatchObject({ reason: expect.stringContaining('not valid JSON') });
    expect(parseRunList(null)).toEqual([]);
  });

  it('takes a validation at the step limit after the last epoch end as the latest', () => {
    const record = runRecord(RELU_ID, 'relu', { state: 'stopped' });
    record.summary = { ...record.summary, stoppedAt: { step: 55, valLoss: 2.1, valAccuracy: 0.5 } } as typeof record.summary;
    const parsed = parseRunRecord(record);
    expect(parsed.ok && runOutcome(parsed.record)).toMatchObject({ steps: 55, valLoss: 2.1, valAccuracy: 0.5, trainLoss: 2.31 });
  });

  it('resumes stopped, failed and interrupted runs only', () => {
    const entry = (state: string, interrupted = false) => {
      const parsed = parseRunRecord(runRecord(RELU_ID, 'relu', { state }));
      if (!parsed.ok) throw new Error(parsed.reason);
      return { record: parsed.record, interrupted };
    };
    expect(canResume(entry('stopped'))).toBe(true);
    expect(canResume(entry('failed'))).toBe(true);
    expect(canResume(entry('running'))).toBe(false);
    expect(canResume(entry('running', true))).toBe(true);
    expect(canResume(entry('finished'))).toBe(false);
  });
});

describe('metrics rows', () => {
  it('splits step, epoch and layers rows', () => {
    const metrics = parseMetricsRows(metricsRows('relu'));
    expect(metrics.steps).toHaveLength(40);
    expect(metrics.epochs.map((e) => e.step)).toEqual([20, 40]);
    expect(metrics.layers.map((l) => l.step)).toEqual([1, 10, 20, 30, 40]);
    expect(metrics.skipped).toBe(0);
    expect(layerNames(metrics)).toEqual(['conv1.act', 'conv2.act', 'fc1.act']);
    expect(layerSeries(metrics, 'conv2.act', 'dead')).toEqual({ x: [1, 10, 20, 30, 40], y: [0, 2, 4, 6, 8] });
    expect(totalSeries(metrics, 'dead').y).toEqual([0, 6, 12, 18, 24]);
    expect(totalSeries(metrics, 'negative').y).toEqual([null, null, null, null, null]);
  });

  it('keeps steps in order, the last row of a repeated step, nulls for non-finite numbers, and counts what it skips', () => {
    const metrics = parseMetricsRows([
      { step: 2, epoch: 0, loss: 2.5, accuracy: 0.1, lr: 0.01 },
      { step: 1, epoch: 0, loss: null, accuracy: 0.1, lr: 0.01 },
      { step: 2, epoch: 0, loss: 2.4, accuracy: 0.2, lr: 0.01 },
      { kind: 'something-new', step: 2, epoch: 0 },
      { kind: 'layers', step: 2, epoch: 0, window: 50, layers: [{ layer: 'a', filters: 4, deadFilters: 1 }, 'junk'] },
      'junk',
    ]);
    expect(metrics.steps).toEqual([
      { step: 1, epoch: 0, loss: null, accuracy: 0.1, lr: 0.01 },
      { step: 2, epoch: 0, loss: 2.4, accuracy: 0.2, lr: 0.01 },
    ]);
    expect(metrics.layers[0]?.layers).toEqual([{ layer: 'a', activation: '?', rule: '?', filters: 4, deadFilters: 1, units: null, deadUnits: null, negativeRegimeFilters: null }]);
    expect(metrics.skipped).toBe(1); // 'junk'; a row of an unknown kind is ignored, not reported
  });

  it('reads histograms rows: per layer over steps, filters by step, bad rows counted and bad entries left out', () => {
    const filters = firstFilters({ count: 2 });
    const metrics = parseMetricsRows([
      histogramsRow(10, ['conv1.act', 'conv2.act'], filters),
      histogramsRow(20, ['conv1.act', 'conv2.act']),
      { kind: 'histograms', step: 30, epoch: 0, layers: [{ layer: 'conv1.act', weights: null, activations: histogram([1, 2], 0, 3) }, { layer: 'conv2.act', weights: { min: 0 } }] },
      // Filters whose values do not fill their shape are left off the row, not the histograms.
      { ...histogramsRow(40, ['conv1.act']), filters: { ...filters, values: [1, 2] } },
      { kind: 'histograms', step: 'late', layers: [] },
      { kind: 'histograms', step: 50, epoch: 0, layers: 'none' },
      // A histogram whose range runs backwards cannot be drawn: its entry is left out.
      { kind: 'histograms', step: 60, epoch: 0, layers: [{ layer: 'conv1.act', weights: histogram([1], 2, 1), activations: null }] },
    ]);
    expect(metrics.skipped).toBe(2);
    expect(metrics.histograms.map((p) => [p.step, p.layers.map((l) => l.layer)])).toEqual([
      [10, ['conv1.act', 'conv2.act']],
      [20, ['conv1.act', 'conv2.act']],
      [30, ['conv1.act']],
      [40, ['conv1.act']],
      [60, []],
    ]);
    expect(histogramLayerNames(metrics)).toEqual(['conv1.act', 'conv2.act']);
    const weights = layerHistogramHistory(metrics.histograms, 'conv1.act', 'weights');
    expect(weights.map((e) => e.step)).toEqual([10, 20, 30, 40]);
    expect(weights[2]!.histogram).toBeNull(); // NaN or infinity in the tensor: kept as null
    expect(weights[0]!.histogram?.max).toBeCloseTo(0.11);
    expect(layerHistogramHistory(metrics.histograms, 'conv1.act', 'activations')[2]!.histogram?.counts).toEqual([1, 2]);
    expect(layerHistogramHistory(metrics.histograms, 'conv2.act', 'weights').map((e) => e.step)).toEqual([10, 20]);
    expect(metrics.filters.map((f) => f.step)).toEqual([10]);
    expect(metrics.filters[0]!.filters.values).toEqual(filters.values);
  });

  it('a resumed run rewriting a step keeps its last histograms row, and that row\'s filters or none', () => {
    const metrics = parseMetricsRows([
      histogramsRow(10, ['a'], firstFilters({ count: 1 })),
      histogramsRow(20, ['a'], firstFilters({ count: 2 })),
      // Resumed from step 10: 20 comes again, this time without filters.
      { ...histogramsRow(20, ['a']), layers: [{ layer: 'a', weights: histogram([7], -1, 1), activations: null }] },
    ]);
    expect(metrics.histograms.map((p) => p.step)).toEqual([10, 20]);
    expect(metrics.histograms[1]!.layers[0]!.weights?.counts).toEqual([7]);
    expect(metrics.filters.map((f) => [f.step, f.filters.count])).toEqual([[10, 1]]);
    const detail = parseRunDetail({ ...getRunReply(RELU_ID), metrics: [...metricsRows('relu'), { kind: 'histograms', step: -1, layers: [] }] });
    expect(detail.ok && detail.run.warnings).toEqual(['1 metrics row was not understood and left out']);
  });

  it('gives a run cannot-die counts as negative-regime filters', () => {
    const metrics = parseMetricsRows(metricsRows('prelu'));
    expect(totalSeries(metrics, 'dead').y.every((v) => v === null)).toBe(true);
    expect(totalSeries(metrics, 'negative').y).toEqual([0, 0, 3, 3, 6]);
  });

  it('computes the final numbers of a run', () => {
    const parsed = parseRunDetail(getRunReply(RELU_ID));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const final = finalNumbers(parsed.run);
    expect(final.step).toBe(40);
    // issue 14, 2.5: one definition with the Runs table: the last completed epoch's means, as run.json records them.
    const outcome = runOutcome(parsed.run.record);
    expect(final.loss).toBe(outcome.trainLoss);
    expect(final.accuracy).toBe(outcome.trainAccuracy);
    expect(final.accuracy).toBe(0.42);
    // A record without that summary: the last epoch row (step 40: accuracy 40 / 80).
    const bare = { ...parsed.run, record: { ...parsed.run.record, summary: {} } };
    expect(finalNumbers(bare).accuracy).toBeCloseTo(0.5, 9);
    // Before any epoch completed there is none, in every view.
    expect(finalNumbers({ ...bare, metrics: { ...bare.metrics, epochs: [] } }).accuracy).toBeNull();
    expect(final.valAccuracy).toBeCloseTo(0.4, 6);
    expect(final.window).toBe(50);
    expect(final.layers.map((l) => [l.layer, l.deadFilters])).toEqual([
      ['conv1.act', 4],
      ['conv2.act', 8],
      ['fc1.act', 12],
    ]);
    expect(parseRunDetail({ record: null }).ok).toBe(false);
    expect(parseRunDetail(getRunReply(PRELU_ID)).ok).toBe(true);
  });
});

describe('inspection passes in metrics rows', () => {
  it('keeps a pass at the checkpoint step out of the training series and returns it apart', () => {
    const pass = mark();
    const metrics = parseMetricsRows([...metricsRows('relu'), ...inspectionRows(40, pass)]);
    // Training's 'layers' row at step 40 is still training's (the pass's does not replace it).
    expect(metrics.layers.map((l) => [l.step, l.window])).toEqual([
      [1, 50],
      [10, 50],
      [20, 50],
      [30, 50],
      [40, 50],
    ]);
    expect(metrics.layers.at(-1)?.layers.map((l) => l.deadFilters)).toEqual([4, 8, 12]);
    expect(metrics.histograms).toEqual([]);
    expect(metrics.filters).toEqual([]);
    expect(metrics.steps).toHaveLength(40);
    expect(metrics.skipped).toBe(0);
    expect(totalSeries(metrics, 'dead').y).toEqual([0, 6, 12, 18, 24]);
    expect(layerNames(metrics)).toEqual(['conv1.act', 'conv2.act', 'fc1.act']);
    expect(metrics.inspections).toHaveLength(1);
    const [inspection] = metrics.inspections;
    expect(inspection).toMatchObject({ step: 40, epoch: 1, window: 16, mark: pass });
    expect(inspection?.layers).toEqual([
      { layer: 'conv1.act', activation: 'relu', rule: 'zero', filters: 16, deadFilters: 8, units: 1024, deadUnits: 513, negativeRegimeFilters: null },
      { layer: 'conv2.act', activation: 'relu', rule: 'zero', filters: 32, deadFilters: 3, units: 2048, deadUnits: 193, negativeRegimeFilters: null },
      { layer: 'fc1.act', activation: 'prelu', rule: 'cannot-die', filters: 64, deadFilters: null, units: 4096, deadUnits: null, negativeRegimeFilters: 16 },
    ]);
    expect(inspection?.histograms?.step).toBe(40);
    expect(inspection?.histograms?.layers.map((l) => l.layer)).toEqual(['conv1.act', 'conv2.act', 'fc1.act']);
    // And the final numbers are training's.
    const detail = parseRunDetail({ ...getRunReply(RELU_ID), metrics: [...metricsRows('relu'), ...inspectionRows(40, pass)] });
    expect(detail.ok && finalNumbers(detail.run)).toMatchObject({ step: 40, window: 50 });
  });

  it('lists several passes newest first, pairs each histograms row with the layers row of the same pass, and reads older rows without the mark as training', () => {
    const early = mark({ data: 'orl', source: '/data/orl', images: 400, batches: 13, at: '2026-11-28T09:00:00.000Z' });
    const late = mark({ at: '2026-11-29T12:30:00.000Z' });
    const later = mark({ data: 'synthetic', source: 'synthetic:20x10', images: 200, batches: 7, at: '2026-11-30T08:00:00.000Z' });
    const filters = firstFilters({ count: 2 });
    const metrics = parseMetricsRows([
      ...metricsRows('relu'),
      inspectionLayersRow(40, late),
      inspectionLayersRow(40, early),
      { ...inspectionHistogramsRow(40, early), filters },
      inspectionHistogramsRow(40, late),
      // Training resumed after the passes, then a pass at the later checkpoint without histograms.
      { kind: 'step', step: 41, epoch: 2, loss: 2.0, accuracy: 0.5, lr: 0.01 },
      { kind: 'layers', step: 41, epoch: 2, window: 50, layers: [{ layer: 'conv1.act', filters: 16, deadFilters: 2 }] },
      histogramsRow(41, ['conv1.act']),
      inspectionLayersRow(41, later),
    ]);
    expect(metrics.inspections.map((p) => [p.step, p.mark.data, p.mark.at, p.window])).toEqual([
      [41, 'synthetic', later.at, 7],
      [40, 'lfw', late.at, 16],
      [40, 'orl', early.at, 13],
    ]);
    expect(metrics.inspections[0]?.histograms).toBeUndefined();
    expect(metrics.inspections[1]?.histograms?.step).toBe(40);
    expect(metrics.inspections[1]?.filters).toBeUndefined();
    expect(metrics.inspections[2]?.filters?.filters.count).toBe(2);
    expect(metrics.steps.at(-1)?.step).toBe(41);
    expect(metrics.layers.map((l) => l.step)).toEqual([1, 10, 20, 30, 40, 41]);
    expect(metrics.histograms.map((h) => h.step)).toEqual([41]);
    expect(metrics.filters).toEqual([]);
  });

  it('a mark it cannot fully read still keeps the row out of training; a null mark is a training row', () => {
    const metrics = parseMetricsRows([
      { ...inspectionLayersRow(10, mark()), inspection: { data: 'lfw', images: 'many' } },
      { ...inspectionLayersRow(20, mark()), inspection: null },
    ]);
    expect(metrics.layers.map((l) => l.step)).toEqual([20]);
    expect(metrics.inspections).toHaveLength(1);
    expect(metrics.inspections[0]?.mark).toEqual({ data: 'lfw', source: '?', hash: '', images: null, batches: null, at: '' });
  });

  it("an imported run's rows are only its passes: no training series", () => {
    const metrics = parseMetricsRows(inspectionRows(0, mark()));
    expect(metrics).toMatchObject({ steps: [], epochs: [], layers: [], histograms: [], filters: [], skipped: 0 });
    expect(metrics.inspections).toHaveLength(1);
  });

  it('formats a pass layer\'s dead units as % of its units with the count', () => {
    const [layer] = parseMetricsRows([inspectionLayersRow(1, mark())]).inspections[0]?.layers ?? [];
    expect(layer && deadUnitsCellText(layer)).toEqual({ text: '50.1%', title: '513 of 1024 units dead' });
    expect(layer && deadCellText(layer)).toEqual({ text: '50.0%', title: '8 of 16 filters dead' });
    expect(deadUnitsCellText({ layer: 'x', activation: 'prelu', rule: 'cannot-die', filters: 4, deadFilters: null, units: 64, deadUnits: null, negativeRegimeFilters: 1 })).toEqual({ text: '—', title: '' });
  });
});

describe('evaluation and formatting', () => {
  it('finds TAR at a FAR', () => {
    expect(tarAt(evaluation(RELU_ID), 0.01)).toBe(0.41);
    expect(tarAt(evaluation(RELU_ID), 0.0001)).toBeNull();
  });

  it('formats numbers, percentages and sizes', () => {
    expect(formatNumber(null)).toBe('—');
    expect(formatNumber(2.34567)).toBe('2.346');
    expect(formatNumber(0.00001)).toBe('1.00e-5');
    expect(formatPercent(0.8633)).toBe('86.3%');
    expect(formatBytes(1_234_567)).toBe('1.2 MB');
  });
});
