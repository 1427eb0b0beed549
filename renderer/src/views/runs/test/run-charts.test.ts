import { describe, expect, it } from 'vitest';
import { mergeLayerOrder, parseRunDetail } from '../../../lib/run-records';
import { compareCharts, runCharts, shortRunLabel, shortRunLabels, thinKeeping } from '../run-charts';
import { base64ToBytes, mosaicLayout, paintMosaic, silentChannels, tileOrigin } from '../snapshot-draw';
import { FLAT_DARK, FLAT_LIGHT } from '../../../draw/visual-constants';
import { decodeFrame, encodeFrame } from '#protocol/frames';
import { getRunReply, metricsRows, PRELU_ID, RELU_ID, runRecord, snapshotReply } from './fixtures';

function detail(id: string, rows?: Record<string, unknown>[]) {
  const reply = getRunReply(id);
  const parsed = parseRunDetail(rows ? { ...reply, metrics: rows } : reply);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.run;
}

describe('chart data', () => {
  it('thins dense series but keeps every point of a sparse one', () => {
    const x = Array.from({ length: 1000 }, (_, i) => i + 1);
    const dense = x.map((v) => v);
    const sparse = x.map((v) => (v % 250 === 7 ? v : null));
    const thinned = thinKeeping(x, [dense, sparse], 100);
    expect(thinned.x.length).toBeLessThanOrEqual(106);
    expect(thinned.x.at(-1)).toBe(1000);
    expect(thinned.ys[1]?.filter((v) => v !== null)).toEqual([7, 257, 507, 757]);
  });

  it("keeps a long run's epoch points when its steps are thinned", () => {
    const charts = runCharts(detail(RELU_ID, metricsRows('relu', 4000)));
    expect(charts.loss.x.length).toBeLessThanOrEqual(1502);
    const val = charts.loss.series.find((s) => s.label === 'val loss');
    expect(val?.values.filter((v) => v !== null)).toHaveLength(2);
    expect(charts.dead.series.map((s) => s.label)).toEqual(['conv1.act (relu, of 16)', 'conv2.act (relu, of 32)', 'fc1.act (relu, of 64)']);
    expect(charts.negative.series).toEqual([]);
    expect(charts.window).toBe(50);
  });

  it('overlays runs: one series per run, dead and negative-regime totals, and per-layer charts for shared layers', () => {
    const charts = compareCharts([
      { id: RELU_ID, run: detail(RELU_ID) },
      { id: PRELU_ID, run: detail(PRELU_ID) },
    ]);
    // Legends get short names (activation · the id's last part); the full id is the series' title.
    expect(charts.loss.series.map((s) => s.label)).toEqual(['relu +1 · a1b2', 'prelu · c3d4']);
    expect(charts.loss.series.map((s) => s.title)).toEqual([`${RELU_ID} · relu +1`, `${PRELU_ID} · prelu`]);
    expect(charts.dead.series.map((s) => s.title)).toEqual([`${RELU_ID} · relu +1: dead`, `${PRELU_ID} · prelu: negative regime`]);
    expect(charts.perLayer[0]?.data.series.map((s) => s.label)).toEqual(['relu +1 · a1b2: relu', 'prelu · c3d4: prelu (negative regime)']);
    expect(charts.loss.series[0]?.colour).not.toBe(charts.loss.series[1]?.colour);
    expect(charts.dead.series.map((s) => [s.label.split(': ')[1], s.dash ?? false])).toEqual([
      ['dead', false],
      ['negative regime', true],
    ]);
    expect(charts.perLayer.map((p) => p.layer)).toEqual(['conv1.act', 'conv2.act', 'fc1.act']);
    expect(charts.valAccuracy.x).toEqual([20, 40]);
  });

  it('leaves a run without layer rows out of the dead chart, not the others', () => {
    const bare = parseRunDetail({ record: runRecord('bare', 'relu'), metrics: metricsRows('relu').filter((r) => r['kind'] !== 'layers'), warnings: [] });
    if (!bare.ok) throw new Error(bare.reason);
    const charts = compareCharts([
      { id: 'bare', run: bare.run },
      { id: RELU_ID, run: detail(RELU_ID) },
    ]);
    expect(charts.dead.series.map((s) => s.label)).toEqual(['relu +1 · a1b2: dead']);
    expect(charts.perLayer).toEqual([]);
  });

  it('issue 14, 2.4: dead counts are % of the layer (the count in the legend note) in Run detail and Compare, and Compare keeps the layers in model order', () => {
    const one = runCharts(detail(RELU_ID));
    const conv2 = one.dead.series.find((s) => s.label.startsWith('conv2.act'))!;
    // Step 40: floor(40 / 10) * 2 = 8 of conv2's 32 filters dead: 25%.
    expect(conv2.values.at(-1)).toBe(25);
    expect(conv2.notes?.at(-1)).toBe('8 of 32 filters');
    expect(one.lrLog).toBe(true);
    // Compare: per run, % of the filters of all its layers that can die, not a sum of counts.
    const compared = compareCharts([
      { id: RELU_ID, run: detail(RELU_ID) },
      { id: PRELU_ID, run: detail(PRELU_ID) },
    ]);
    const dead = compared.dead.series[0]!;
    // 4 + 8 + 12 = 24 of 16 + 32 + 64 = 112 filters.
    expect(dead.values.at(-1)).toBeCloseTo((100 * 24) / 112, 9);
    expect(dead.notes?.at(-1)).toBe('24 of 112 filters');
    expect(compared.perLayer[1]!.data.series[0]!.values.at(-1)).toBe(25);
    // A layer one model has and the other lacks stays in its model's place, not after the embedding.
    const layersRow = (names: string[]) => ({ kind: 'layers', step: 10, epoch: 0, window: 5, layers: names.map((layer) => ({ layer, activation: 'relu', rule: 'zero', filters: 8, deadFilters: 1, units: 8, deadUnits: 1 })) });
    const tiny = detail('tiny', [layersRow(['conv1.act', 'group1.a.act', 'embedding'])]);
    const lcnn9 = detail('lcnn9', [layersRow(['conv1.act', 'group1.a.act', 'group2.a.act', 'group2.b.act', 'embedding'])]);
    const order = compareCharts([
      { id: 'tiny', run: tiny },
      { id: 'lcnn9', run: lcnn9 },
    ]);
    expect(order.perLayer.map((p) => p.layer)).toEqual(['conv1.act', 'group1.a.act', 'embedding']);
    expect(mergeLayerOrder([['conv1.act', 'group1.a.act', 'embedding'], ['conv1.act', 'group1.a.act', 'group2.a.act', 'group2.b.act', 'embedding']])).toEqual([
      'conv1.act',
      'group1.a.act',
      'group2.a.act',
      'group2.b.act',
      'embedding',
    ]);
  });

  it('issue 14, 2.3: Run detail and Compare leave out dead counts taken before the stats window filled, as the Train view does', () => {
    // 80 steps, window 50: the rows of steps 1..40 are "not fired since step 1".
    const long = runCharts(detail(RELU_ID, metricsRows('relu', 80)));
    expect(long.dead.x[0]).toBe(50);
    const compared = compareCharts([{ id: RELU_ID, run: detail(RELU_ID, metricsRows('relu', 80)) }]);
    expect(compared.dead.x[0]).toBe(50);
    // A run shorter than its window keeps its rows (the window never filled): 40 steps here.
    expect(runCharts(detail(RELU_ID)).dead.x[0]).toBe(1);
  });

  it('names runs short, and in full where two short names would read alike', () => {
    expect(shortRunLabel(PRELU_ID, detail(PRELU_ID).record)).toBe('prelu · c3d4');
    expect(shortRunLabel('plain', detail(PRELU_ID).record)).toBe('prelu · plain');
    const twin = '2026-11-27T10-00-00_tiny_prelu_c3d4';
    expect(
      shortRunLabels([
        { id: PRELU_ID, run: detail(PRELU_ID) },
        { id: twin, run: detail(PRELU_ID) },
        { id: RELU_ID, run: detail(RELU_ID) },
      ]),
    ).toEqual([`${PRELU_ID} · prelu`, `${twin} · prelu`, 'relu +1 · a1b2']);
  });
});

describe('chance level', () => {
  it("draws ln C on a run's loss chart and 1/C on its accuracy chart, C its dataset's identities", () => {
    const charts = runCharts(detail(RELU_ID));
    expect(charts.loss.references).toEqual([{ label: 'chance (ln 20 = 3.00)', value: Math.log(20) }]);
    expect(charts.accuracy.references).toEqual([{ label: 'chance (1/20 = 0.05)', value: 1 / 20 }]);
    expect(charts.lr.references).toBeUndefined();
  });

  it('draws none for a record that does not say its identities', () => {
    const run = detail(RELU_ID);
    const charts = runCharts({ ...run, record: { ...run.record, dataset: undefined } });
    expect(charts.loss.references).toEqual([]);
    expect(charts.accuracy.references).toEqual([]);
  });

  it('compares runs on one line per identity count, named by it when the runs differ', () => {
    const same = compareCharts([
      { id: RELU_ID, run: detail(RELU_ID) },
      { id: PRELU_ID, run: detail(PRELU_ID) },
    ]);
    expect(same.loss.references?.map((r) => r.label)).toEqual(['chance (ln 20 = 3.00)']);
    expect(same.valAccuracy.references?.map((r) => r.label)).toEqual(['chance (1/20 = 0.05)']);
    const prelu = detail(PRELU_ID);
    const wider = { ...prelu, record: { ...prelu.record, dataset: { ...prelu.record.dataset, identities: 40 } } };
    const differ = compareCharts([
      { id: RELU_ID, run: detail(RELU_ID) },
      { id: PRELU_ID, run: wider },
    ]);
    expect(differ.loss.references?.map((r) => r.label)).toEqual(['chance, 20 identities (ln 20 = 3.00)', 'chance, 40 identities (ln 40 = 3.69)']);
    expect(differ.accuracy.references?.map((r) => r.value)).toEqual([1 / 20, 1 / 40]);
  });
});

describe('snapshot drawing', () => {
  it('paints each map through the colour ramp and a flat map as the grey hatch (not red: red is "dead")', () => {
    const frame = decodeFrame(base64ToBytes(snapshotReply(20).frames[0] as string));
    const layout = mosaicLayout(frame.header.channels, frame.header.width, frame.header.height);
    expect(layout).toMatchObject({ columns: 4, rows: 1, width: 4 * 9 - 1, height: 8 });
    const pixels = new Uint8ClampedArray(layout.width * layout.height * 4);
    paintMosaic(pixels, frame, 0, layout);
    const at = (x: number, y: number) => [...pixels.subarray((y * layout.width + x) * 4, (y * layout.width + x) * 4 + 4)];
    expect(at(0, 0)).toEqual([68, 1, 84, 255]); // byte 0: the bottom of viridis
    expect(at(8, 0)).toEqual([0, 0, 0, 0]); // the gap
    // The last filter is flat: the Train grid's hatch, from its tile's corner.
    const { x, y } = tileOrigin(layout, 3);
    expect(x).toBe(27);
    expect(at(x, y)).toEqual([...FLAT_LIGHT, 255]);
    expect(at(x + 2, y)).toEqual([...FLAT_DARK, 255]);
    expect(at(x + 1, y + 1)).toEqual([...FLAT_DARK, 255]);
    expect(silentChannels(frame, 1)).toEqual([3]);
  });

  it('lays 1x1 maps out without gaps and calls only exact zeros silent', () => {
    expect(mosaicLayout(256, 1, 1)).toMatchObject({ columns: 32, rows: 8, gap: 0, width: 32, height: 8 });
    expect(mosaicLayout(6, 4, 4)).toMatchObject({ columns: 6, rows: 1, gap: 1, width: 29 });
    const header = { channel: 'frame:fc.act', kind: 'activation' as const, layer: 'fc.act', step: 5, probes: [0], channels: 3, height: 1, width: 1, trueHeight: 1, trueWidth: 1, filterOffset: 0, capturedAt: 0 };
    const stats = new Float32Array([0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.2, -0.2, -0.2, 0.2]);
    const frame = decodeFrame(encodeFrame(header, stats, new Uint8Array(3)));
    expect(silentChannels(frame, 0)).toEqual([0]);
    const layout = mosaicLayout(3, 1, 1);
    const pixels = new Uint8ClampedArray(layout.width * layout.height * 4);
    paintMosaic(pixels, frame, 0, layout, 'filter'); // 1x1 maps are layer-scaled whatever the choice
    expect([...pixels]).toEqual([...FLAT_LIGHT, 255, 253, 231, 37, 255, 68, 1, 84, 255]);
  });
});
