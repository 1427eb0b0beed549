// Realistic runs for the Runs and Evaluate view tests: run.json records as the run store
// writes them (electron/trainer/runs/run-store.ts), metrics.jsonl rows as the training session
// writes them (step rows, 'epoch' rows, 'layers' rows every 10 steps), an evaluation as the
// trainer's evaluateRun returns it, and snapshot frames encoded with the protocol's own encoder.
import { encodeFrame, type FrameHeader } from '#protocol/frames';
import type { EvaluationView, PairView } from '#protocol/workbench';

export const RELU_ID = '2026-11-26T08-50-12_tiny_relu_a1b2';
export const PRELU_ID = '2026-11-26T09-10-40_tiny_prelu_c3d4';
export const BROKEN_ID = '2026-11-25T17-00-00_tiny_mfm_ffff';

const LAYERS = ['conv1.act', 'conv2.act', 'fc1.act'] as const;
const FILTERS: Record<(typeof LAYERS)[number], number> = { 'conv1.act': 16, 'conv2.act': 32, 'fc1.act': 64 };

export function runRecord(id: string, activation: string, options: { state?: string; createdAt?: string; layers?: Record<string, string>; steps?: number } = {}) {
  const steps = options.steps ?? 40;
  return {
    format: 1,
    id,
    createdAt: options.createdAt ?? '2026-11-26T08:50:12.000Z',
    updatedAt: '2026-11-26T09:02:40.000Z',
    config: {
      data: 'synthetic:20x10',
      layout: 'auto',
      model: 'tiny',
      inputSize: 32,
      width: 1,
      activation,
      layers: options.layers ?? {},
      optimizer: 'sgd',
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
      batch: 32,
      epochs: 2,
      schedule: 'step',
      stepEpochs: 10,
      gamma: 0.457,
      clipNorm: 0,
      dropout: 0.5,
      holdOut: 0.2,
      seed: 1,
      checkpointEvery: 0,
      maxSteps: 0,
    },
    dataset: { name: 'synthetic', source: 'synthetic:20x10', hash: 'ab12cd34', identities: 20, images: 200, synthetic: true },
    backend: 'cpu',
    versions: { lab: '0.1.0', node: '20.11.0', tfjs: '4.22.0' },
    state: options.state ?? 'finished',
    lastCheckpoint: { file: `checkpoints/step-${String(steps).padStart(6, '0')}.ckpt`, step: steps },
    summary: {
      backend: 'training on cpu',
      lastEpoch: { step: steps, epoch: 1, trainLoss: 2.31, trainAccuracy: 0.42, valLoss: 2.58, valAccuracy: 0.37 },
    },
  };
}

/**
 * metrics.jsonl rows of a 2-epoch run of `steps` steps: a step row per step, an 'epoch' row at
 * each epoch end, and a 'layers' row at step 1 and every 10 steps. ReLU kills filters as it goes;
 * PReLU cannot die, so its counts are null and it reports negative-regime filters instead.
 */
export function metricsRows(activation: 'relu' | 'prelu', steps = 40): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const perEpoch = steps / 2;
  const rule = activation === 'relu' ? 'zero' : 'cannot-die';
  for (let step = 1; step <= steps; step++) {
    const epoch = step <= perEpoch ? 0 : 1;
    const loss = 3.0 - step * (activation === 'relu' ? 0.02 : 0.03);
    rows.push({ kind: 'step', step, epoch, loss, accuracy: Math.min(1, step / 60), lr: 0.1, gradNorm: 1.2, imagesPerSecond: 800, stepMs: 40 });
    if (step === 1 || step % 10 === 0) {
      rows.push({
        kind: 'layers',
        step,
        epoch,
        window: 50,
        layers: LAYERS.map((layer, i) => ({
          layer,
          activation,
          rule,
          filters: FILTERS[layer],
          filterSpace: 'output',
          units: FILTERS[layer] * 64,
          deadFilters: activation === 'relu' ? Math.floor(step / 10) * (i + 1) : null,
          deadUnits: activation === 'relu' ? Math.floor(step / 10) * (i + 1) * 64 : null,
          deadFilterIndices: [],
          ...(activation === 'prelu' ? { negativeRegimeFilters: Math.floor(step / 20) } : {}),
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
        })),
      });
    }
    if (step % perEpoch === 0) {
      rows.push({ kind: 'epoch', step, epoch, trainLoss: loss + 0.1, trainAccuracy: step / 80, valLoss: loss + 0.3, valAccuracy: step / 100 });
    }
  }
  return rows;
}

export function listEntries() {
  return [
    { ok: true, id: PRELU_ID, record: runRecord(PRELU_ID, 'prelu', { createdAt: '2026-11-26T09:10:40.000Z' }), interrupted: false },
    { ok: true, id: RELU_ID, record: runRecord(RELU_ID, 'relu', { state: 'stopped', layers: { 'conv1.act': 'mfm:2/1' } }), interrupted: false },
    { ok: false, id: BROKEN_ID, reason: 'run.json is not valid JSON (Unexpected end of JSON input)' },
  ];
}

export function getRunReply(id: string) {
  const relu = id === RELU_ID;
  return {
    record: relu ? runRecord(RELU_ID, 'relu', { state: 'stopped', layers: { 'conv1.act': 'mfm:2/1' } }) : runRecord(PRELU_ID, 'prelu'),
    metrics: metricsRows(relu ? 'relu' : 'prelu'),
    warnings: [],
  };
}

/** A 1x1 grey PNG. */
export const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

function pair(score: number, a: [string, number], b: [string, number]): PairView {
  return { score, a: { identity: a[0], image: a[1], png: PNG }, b: { identity: b[0], image: b[1], png: PNG } };
}

export function evaluation(runId: string): EvaluationView {
  const far = [0, 0.001, 0.01, 0.05, 0.1, 0.3, 0.6, 1];
  return {
    runId,
    step: 40,
    pairsSource: 'generated: 300 matched + 300 mismatched identity-disjoint pairs (seed 1)',
    pairs: 600,
    matchedPairs: 300,
    mismatchedPairs: 300,
    accuracy: 0.8633,
    standardError: 0.0142,
    folds: 10,
    auc: 0.921,
    eer: 0.142,
    tarAtFar: [
      { far: 0.01, tar: 0.41 },
      { far: 0.001, tar: 0.18 },
    ],
    roc: { far, tar: [0, 0.18, 0.41, 0.62, 0.74, 0.9, 0.97, 1] },
    histogram: { edges: [-0.2, 0, 0.2, 0.4, 0.6, 0.8, 1], matched: [2, 10, 30, 80, 120, 58], mismatched: [40, 120, 90, 35, 12, 3] },
    rank1: { accuracy: 0.71, correct: 142, probes: 200 },
    hardestFalseMatches: [pair(0.91, ['id-0003', 12], ['id-0017', 170]), pair(0.88, ['id-0005', 51], ['id-0009', 93])],
    hardestFalseNonMatches: [pair(0.05, ['id-0011', 110], ['id-0011', 114])],
    notes: ['The pairs were generated from the held-out identities only.'],
  };
}

/** A recorded snapshot: one activation frame per layer for two probes, base64 as loadSnapshot sends it. */
export function snapshotReply(step: number) {
  const frames = (['conv1.act', 'conv2.act'] as const).map((layer, li) => {
    const channels = li === 0 ? 4 : 6;
    const size = li === 0 ? 8 : 4;
    const probes = [3, 57];
    const header: FrameHeader = {
      channel: `frame:${layer}`,
      kind: 'activation',
      layer,
      step,
      probes,
      channels,
      height: size,
      width: size,
      trueHeight: size,
      trueWidth: size,
      filterOffset: 0,
      capturedAt: 1_764_147_000_000,
    };
    const stats = new Float32Array(probes.length * channels * 4);
    const maps = new Uint8Array(probes.length * channels * size * size);
    for (let p = 0; p < probes.length; p++) {
      for (let c = 0; c < channels; c++) {
        const at = (p * channels + c) * 4;
        const constant = c === channels - 1; // the last filter is dead: a constant map
        stats.set(constant ? [0, 0, 0, 0] : [0, 2, 0.5, 2], at);
        if (!constant) for (let i = 0; i < size * size; i++) maps[(p * channels + c) * size * size + i] = (i * 37 + c * 11) % 256;
      }
    }
    const bytes = new Uint8Array(encodeFrame(header, stats, maps));
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary);
  });
  return { step, epoch: step <= 20 ? 0 : 1, probeLabels: ['id-0000', 'id-0005'], frames };
}
