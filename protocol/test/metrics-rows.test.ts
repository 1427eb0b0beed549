import { describe, expect, it } from 'vitest';
import {
  epochRowSchema,
  histogramsRowReader,
  histogramsRowSchema,
  layerCountReader,
  layerHistogramsReader,
  layersRowSchema,
  metricsRowKind,
  metricsRowSchema,
  readFilters,
  stepRowReader,
  stepRowSchema,
} from '../metrics-rows';

/** A row written to metrics.jsonl and read back: NaN and Infinity become null. */
const throughJson = (row: object): unknown => JSON.parse(JSON.stringify(row));

const stepRow = { kind: 'step', step: 3, epoch: 0, loss: 2.9, accuracy: 0.25, lr: 0.1, gradNorm: 1.2, imagesPerSecond: 800, stepMs: 40 };
const layerStats = {
  layer: 'conv1.act',
  activation: 'relu',
  rule: 'zero',
  filters: 16,
  filterSpace: 'output',
  units: 1024,
  deadFilters: 2,
  deadUnits: 128,
  deadFilterIndices: [3, 7],
  neverFiredFilters: 0,
  neverFiredUnits: 0,
  died: 0,
  revived: 0,
  mean: 0.1,
  std: 0.2,
  zeroFraction: 0.4,
  saturatedFraction: null,
  negativeFraction: 0.3,
  gradOutputMeanAbs: 0.001,
  gradWeightMeanAbs: 0.001,
  weightNorm: 3.2,
  updateRatio: 0.001,
};
const histogram = { min: -1, max: 1, counts: [1, 2, 3], counted: 6, total: 6, stride: 1 };
const filters = { layer: 'conv1', height: 1, width: 1, inChannels: 1, count: 2, values: [0.5, -0.5] };

function issuePath(result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }): string {
  expect(result.success).toBe(false);
  return result.error?.issues[0]?.path.map(String).join('.') ?? '';
}

describe('metrics.jsonl rows', () => {
  it('accepts each kind as the training session writes it', () => {
    expect(stepRowSchema.parse(throughJson({ ...stepRow, loss: NaN }))).toMatchObject({ step: 3, loss: null });
    expect(epochRowSchema.parse({ kind: 'epoch', step: 20, epoch: 0, trainLoss: 2.4, trainAccuracy: 0.3, valLoss: null, valAccuracy: null })).toMatchObject({ kind: 'epoch' });
    expect(layersRowSchema.parse({ kind: 'layers', step: 10, epoch: 0, window: 50, layers: [layerStats] }).layers[0]?.deadFilters).toBe(2);
    expect(histogramsRowSchema.parse({ kind: 'histograms', step: 1, epoch: 0, layers: [{ layer: 'conv1.act', weights: histogram, activations: null }], filters })).toMatchObject({ filters });
    expect(histogramsRowSchema.parse({ kind: 'histograms', step: 2, epoch: 0, layers: [] }).filters).toBeUndefined();
  });

  it('refuses a bad row naming the field', () => {
    expect(issuePath(stepRowSchema.safeParse({ ...stepRow, lr: 'fast' }))).toBe('lr');
    expect(issuePath(stepRowSchema.safeParse({ ...stepRow, step: -1 }))).toBe('step');
    expect(issuePath(layersRowSchema.safeParse({ kind: 'layers', step: 10, epoch: 0, window: 50, layers: [{ ...layerStats, rule: 'sometimes' }] }))).toBe('layers.0.rule');
    expect(issuePath(histogramsRowSchema.safeParse({ kind: 'histograms', step: 1, epoch: 0, layers: [{ layer: 'a', weights: { min: 0 }, activations: null }] }))).toMatch(/^layers\.0\.weights\./);
  });

  it('reads rows written before kinds existed as step rows, and keeps any row with a step and an epoch', () => {
    const { kind: _kind, ...old } = stepRow;
    expect(metricsRowKind(old)).toBe('step');
    expect(stepRowSchema.parse(old)).toEqual(old);
    expect(metricsRowKind({ kind: 'something-new', step: 1, epoch: 0 })).toBeNull();
    expect(metricsRowSchema.parse({ kind: 'something-new', step: 1, epoch: 0, extra: [1] })).toEqual({ kind: 'something-new', step: 1, epoch: 0, extra: [1] });
    expect(issuePath(metricsRowSchema.safeParse({ kind: 'something-new', step: 1.5, epoch: 0 }))).toBe('step');
  });
});

describe('the lenient row readers (viewers)', () => {
  it('need the step; any other field that cannot be read is undefined (an epoch, 0)', () => {
    expect(stepRowReader.parse({ step: 4, epoch: 'x', loss: 'big', lr: 0.1 })).toEqual({ step: 4, epoch: 0, loss: undefined, lr: 0.1 });
    expect(stepRowReader.safeParse({ step: 'late', epoch: 0 }).success).toBe(false);
    expect(histogramsRowReader.parse({ kind: 'histograms', step: 5, epoch: 0, layers: ['junk'], filters: 'none' })).toEqual({ kind: 'histograms', step: 5, epoch: 0, layers: ['junk'], filters: undefined });
  });

  it("read a layer's counts and histograms one entry at a time", () => {
    expect(layerCountReader.parse({ layer: 'a', filters: 4, deadFilters: 1 })).toEqual({ layer: 'a', filters: 4, deadFilters: 1 });
    expect(layerCountReader.safeParse({ filters: 4 }).success).toBe(false);
    expect(layerHistogramsReader.safeParse({ layer: 'a', weights: histogram, activations: null }).success).toBe(true);
    // A range that runs backwards cannot be drawn.
    expect(layerHistogramsReader.safeParse({ layer: 'a', weights: { ...histogram, min: 2, max: 1 }, activations: null }).success).toBe(false);
  });

  it('keep filters only when their values fill their shape', () => {
    expect(readFilters(filters)).toEqual(filters);
    expect(readFilters({ ...filters, values: [1] })).toBeNull();
    expect(readFilters(null)).toBeNull();
  });
});
