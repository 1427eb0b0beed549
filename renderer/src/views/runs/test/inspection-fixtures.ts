// An inspection pass's rows as electron/trainer/inspection/inspection-record.ts appends them to
// metrics.jsonl: a 'layers' row and a 'histograms' row at the checkpoint's step, both marked
// `inspection` (protocol/metrics-rows.ts inspectionMarkSchema); the layers row's window is the
// pass's batches, its dead counts are over every image of the pass, its gradient numbers null.
import type { InspectionMark } from '#protocol/metrics-rows';
import { layerHistograms } from '../../../test-support/histograms';
import { runRecord } from './fixtures';

export const IMPORTED_ID = '2026-11-27T10-00-00_lightcnn9_imported_9f9f';
export const CHECKPOINT = '/models/LightCNN_9Layers_checkpoint.pth.tar';

export function mark(overrides: Partial<InspectionMark> = {}): InspectionMark {
  return { data: 'lfw', source: '/data/lfw', hash: 'feed1234', images: 500, batches: 16, at: '2026-11-28T10:00:00.000Z', ...overrides };
}

/** Layers as [name, activation, filters, dead filters] ('prelu' cannot die: its count is negative-regime filters). */
export type PassLayer = [string, string, number, number];

export const PASS_LAYERS: PassLayer[] = [
  ['conv1.act', 'relu', 16, 8],
  ['conv2.act', 'relu', 32, 3],
  ['fc1.act', 'prelu', 64, 16],
];

export function inspectionLayersRow(step: number, inspection: InspectionMark, layers: PassLayer[] = PASS_LAYERS, epoch = 1): Record<string, unknown> {
  return {
    kind: 'layers',
    step,
    epoch,
    window: inspection.batches,
    layers: layers.map(([layer, activation, filters, dead]) => {
      const cannotDie = activation === 'prelu';
      return {
        layer,
        activation,
        rule: cannotDie ? 'cannot-die' : 'zero',
        filters,
        filterSpace: 'output',
        units: filters * 64,
        deadFilters: cannotDie ? null : dead,
        deadUnits: cannotDie ? null : dead * 64 + 1,
        deadFilterIndices: [],
        ...(cannotDie ? { negativeRegimeFilters: dead } : {}),
        neverFiredFilters: 0,
        neverFiredUnits: 0,
        died: 0,
        revived: 0,
        mean: 0.1,
        std: 0.2,
        zeroFraction: 0.4,
        saturatedFraction: null,
        negativeFraction: 0.3,
        gradOutputMeanAbs: null,
        gradWeightMeanAbs: null,
        weightNorm: 3.2,
        updateRatio: null,
      };
    }),
    inspection,
  };
}

export function inspectionHistogramsRow(step: number, inspection: InspectionMark, layers: readonly string[] = PASS_LAYERS.map(([name]) => name), epoch = 1): Record<string, unknown> {
  return { kind: 'histograms', step, epoch, layers: layerHistograms(layers, step), inspection };
}

/** Both rows of one pass. */
export function inspectionRows(step: number, inspection: InspectionMark, layers: PassLayer[] = PASS_LAYERS): Record<string, unknown>[] {
  return [
    inspectionLayersRow(step, inspection, layers),
    inspectionHistogramsRow(
      step,
      inspection,
      layers.map(([name]) => name),
    ),
  ];
}

/** An imported run's run.json, as lab import writes it. */
export function importedRecord() {
  const base = runRecord(IMPORTED_ID, 'mfm:2/1');
  return {
    ...base,
    config: { ...base.config, data: 'imported:LightCNN_9Layers_checkpoint.pth.tar' },
    dataset: { name: 'none (imported weights)', source: CHECKPOINT, hash: '', identities: 79077, images: 0, synthetic: false },
    origin: { kind: 'imported', file: CHECKPOINT, sha256: 'ab'.repeat(32), format: 'legacy', classifier: true, notes: [] },
    summary: {},
  };
}
