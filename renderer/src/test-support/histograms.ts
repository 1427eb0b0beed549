// Histograms and first-layer filters as the trainer streams and records them (protocol
// messages.ts: histogramSchema, firstFiltersSchema), for the tests of the histogram views.
import { HISTOGRAM_BINS, type FirstFilters, type Histogram, type LayerHistograms, type ServerMessage } from '#protocol/messages';

/** A histogram of `counts` over [min, max], every value counted unless `stride` says otherwise. */
export function histogram(counts: number[], min: number, max: number, { stride = 1 }: { stride?: number } = {}): Histogram {
  const counted = counts.reduce((a, b) => a + b, 0);
  return { min, max, counts, counted, total: counted * stride, stride };
}

/** A bell over HISTOGRAM_BINS bins whose spread grows with the step: [-w, w] with w = 0.1 + step / 1000. */
export function bell(step: number): Histogram {
  const w = 0.1 + step / 1000;
  const counts = Array.from({ length: HISTOGRAM_BINS }, (_, i) => Math.round(100 * Math.exp(-(((i - 14.5) / 6) ** 2))));
  return histogram(counts, -w, w);
}

/** Every layer's histograms at one step: weights a bell, activations [0, step] (ReLU-like). */
export function layerHistograms(layers: readonly string[], step: number): LayerHistograms[] {
  return layers.map((layer) => ({ layer, weights: bell(step), activations: histogram([50, 20, 10, 5, 1], 0, step) }));
}

/**
 * First-layer filters of `count` filters of height x width over `inChannels`: by default
 * filter f's weight at (y, x, c) is (f + 1) * 0.01 * (y - x) * (c + 1).
 */
export function firstFilters({
  height = 3,
  width = 3,
  inChannels = 1,
  count = 4,
  weight = (f: number, y: number, x: number, c: number) => (f + 1) * 0.01 * (y - x) * (c + 1),
}: { height?: number; width?: number; inChannels?: number; count?: number; weight?: (f: number, y: number, x: number, c: number) => number } = {}): FirstFilters {
  const values = new Array<number>(height * width * inChannels * count).fill(0);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < inChannels; c++) for (let f = 0; f < count; f++) values[((y * width + x) * inChannels + c) * count + f] = weight(f, y, x, c);
  return { layer: 'conv1', height, width, inChannels, count, values };
}

/** The streamed message at `step`. */
export function histogramsMessage(step: number, layers: readonly string[], filters: FirstFilters | null = null): ServerMessage {
  return { type: 'histograms', channel: 'histograms', items: [{ step, epoch: 0, layers: layerHistograms(layers, step), filters }] };
}

/** The metrics.jsonl row at `step` (filters only on some rows). */
export function histogramsRow(step: number, layers: readonly string[], filters?: FirstFilters): Record<string, unknown> {
  return { kind: 'histograms', step, epoch: 0, layers: layerHistograms(layers, step), ...(filters ? { filters } : {}) };
}
