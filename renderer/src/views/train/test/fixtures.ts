// Messages a trainer would send, for the Train view's tests.
import type { LayerInfo, LayerStats, ProgressItem, ServerMessage } from '#protocol/messages';
import { encodeFrame, frameChannel, quantize, STATS_PER_MAP } from '#protocol/frames';

export const LAYERS: LayerInfo[] = [
  { layer: 'conv1.act', unit: 'conv1', activation: 'relu', rule: 'zero', channels: 8, preActivationChannels: 8, height: 16, width: 16 },
  { layer: 'conv2.act', unit: 'conv2', activation: 'leaky_relu', rule: 'cannot-die', channels: 4, preActivationChannels: 4, height: 8, width: 8 },
  { layer: 'conv3.act', unit: 'conv3', activation: 'mfm', rule: 'pieces', channels: 4, preActivationChannels: 8, height: 4, width: 4 },
];

export function progress(from: number, to: number, extra: Partial<ProgressItem> = {}): ServerMessage {
  const items: ProgressItem[] = [];
  for (let step = from; step <= to; step++) {
    items.push({ step, epoch: 0, loss: 2 / step, accuracy: Math.min(1, step / 100), lr: 0.1, gradNorm: 1, imagesPerSecond: 50, stepMs: 20, at: 1_700_000_000_000 + step, ...extra });
  }
  return { type: 'progress', channel: 'progress', items };
}

export function layerStats(info: LayerInfo, dead: number[], extra: Partial<LayerStats> = {}): LayerStats {
  const pieces = info.rule === 'pieces';
  const canDie = info.rule !== 'cannot-die';
  const filters = pieces ? info.preActivationChannels : info.channels;
  const unitsPerFilter = info.height * info.width;
  return {
    layer: info.layer,
    activation: info.activation,
    rule: info.rule,
    filters,
    filterSpace: pieces ? 'pieces' : 'output',
    units: filters * unitsPerFilter,
    deadFilters: canDie ? dead.length : null,
    deadUnits: canDie ? dead.length * unitsPerFilter : null,
    deadFilterIndices: canDie ? dead : [],
    ...(canDie ? {} : { negativeRegimeFilters: dead.length }),
    neverFiredFilters: canDie ? 0 : null,
    neverFiredUnits: canDie ? 0 : null,
    died: canDie ? dead.length : 0,
    revived: 0,
    mean: 0.25,
    std: 0.5,
    zeroFraction: 0.4,
    saturatedFraction: null,
    negativeFraction: 0.4,
    gradOutputMeanAbs: 0.001,
    gradWeightMeanAbs: 0.0002,
    weightNorm: 3.2,
    updateRatio: 0.004,
    ...(info.activation === 'prelu' ? { preluSlopes: [0.1, 0.25, 0.4] } : {}),
    ...(pieces ? { pieceWinRates: [0.55, 0.45] } : {}),
    ...extra,
  };
}

/** layerStats for every layer of LAYERS: `dead[layer]` its dead indices. */
export function statsMessage(step: number, dead: Record<string, number[]> = {}, window = 50): ServerMessage {
  return { type: 'layerStats', channel: 'layerStats', step, epoch: 0, window, layers: LAYERS.map((l) => layerStats(l, dead[l.layer] ?? [])) };
}

/**
 * A frame of `channels` maps (side x side) for `probes` faces: map (p, c) holds values
 * p + c + x/side, so each has its own range; channels in `zero` are all zeros (dead).
 */
export function frame(
  layer: string,
  {
    step = 1,
    channels = 8,
    probes = 2,
    side = 4,
    kind = 'activation',
    zero = [] as number[],
    full,
    averaged = true,
  }: {
    step?: number;
    channels?: number;
    probes?: number;
    side?: number;
    kind?: 'activation' | 'preactivation';
    zero?: number[];
    full?: { filter: number; probe: number };
    /** Whether the maps were averaged down from twice their size (else they are full size). */
    averaged?: boolean;
  } = {},
): ArrayBuffer {
  const stats = new Float32Array(probes * channels * STATS_PER_MAP);
  const maps = new Uint8Array(probes * channels * side * side);
  for (let p = 0; p < probes; p++) {
    for (let c = 0; c < channels; c++) {
      const m = p * channels + c;
      const dead = zero.includes(c);
      const lo = dead ? 0 : p + c;
      const hi = dead ? 0 : p + c + 1;
      stats.set([lo, hi, (lo + hi) / 2, Math.max(Math.abs(lo), Math.abs(hi))], m * STATS_PER_MAP);
      for (let i = 0; i < side * side; i++) maps[m * side * side + i] = dead ? 0 : quantize(lo + (i % side) / side, lo, hi);
    }
  }
  const channel = full ? `full:${layer}:${kind}:${full.filter}:${full.probe}` : frameChannel(layer, kind);
  return encodeFrame(
    { channel, kind, layer, step, probes: Array.from({ length: probes }, (_, i) => 100 + i), channels, height: side, width: side, trueHeight: averaged ? side * 2 : side, trueWidth: averaged ? side * 2 : side, filterOffset: full?.filter ?? 0, capturedAt: 0 },
    stats,
    maps,
  );
}

/** Progress of steps from..to with the loss `loss(step)` (accuracy and the rest as `progress` gives them). */
export function progressWithLoss(from: number, to: number, loss: (step: number) => number): ServerMessage {
  const message = progress(from, to) as Extract<ServerMessage, { type: 'progress' }>;
  return { ...message, items: message.items.map((item) => ({ ...item, loss: loss(item.step) })) };
}

/** getRun's reply for a run just started: its record (as the run store writes it) and no metrics yet. */
export function startedRunReply(runId: string, { identities = 40, config = {} }: { identities?: number; config?: Record<string, unknown> } = {}) {
  return {
    record: {
      format: 1,
      id: runId,
      createdAt: '2026-11-26T08:50:12.000Z',
      state: 'running',
      config: { data: '/data/orl', model: 'lightcnn9', inputSize: 64, activation: 'mfm:2/1', layers: {}, optimizer: 'sgd', lr: 0.01, batch: 32, epochs: 30, warmupSteps: 0, ...config },
      dataset: { name: 'orl', source: '/data/orl', hash: 'ab12', identities, images: identities * 10, synthetic: false },
      backend: 'wasm',
    },
    metrics: [],
    warnings: [],
  };
}
