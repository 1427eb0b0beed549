// A model's layers, output shapes, parameters and multiply-accumulates per image:
// printed by `lab summary`, sent to the UI as data.
import type * as tf from '@tensorflow/tfjs';

export type LayerKind = 'input' | 'conv' | 'dense' | 'activation' | 'pool' | 'add' | 'pad' | 'flatten' | 'dropout' | 'identity';

export interface LayerSummary {
  readonly name: string;
  readonly kind: LayerKind;
  /** What the layer is, briefly: "5x5/1 same", "mfm:2/1", "max 2x2 ceil". */
  readonly detail: string;
  /** One image's output shape (no batch axis): [H, W, C] or [C]. */
  readonly outputShape: readonly number[];
  readonly params: number;
  /** Multiply-accumulates per image: conv outH*outW*outC*kH*kW*inC, dense in*out; others 0. */
  readonly macs: number;
}

export interface ModelSummary {
  readonly layers: readonly LayerSummary[];
  readonly totalParams: number;
  readonly trainableParams: number;
  /** Everything up to the embedding: what the published parameter counts measure. */
  readonly paramsWithoutClassifier: number;
  readonly macsPerImage: number;
}

export interface LayerDescription {
  readonly kind: LayerKind;
  readonly detail?: string;
}

const product = (shape: readonly (number | null)[]): number => shape.reduce<number>((acc, d) => acc * (d ?? 1), 1);

function kindFromClass(className: string): LayerKind {
  switch (className) {
    case 'InputLayer':
      return 'input';
    case 'Conv2D':
      return 'conv';
    case 'Dense':
      return 'dense';
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return 'pool';
    case 'Add':
      return 'add';
    case 'ZeroPadding2D':
      return 'pad';
    case 'Flatten':
      return 'flatten';
    case 'Dropout':
      return 'dropout';
    default:
      return 'activation';
  }
}

function outputShapeOf(layer: tf.layers.Layer): number[] {
  const raw = layer.outputShape;
  const shape = (Array.isArray(raw[0]) ? raw[0] : raw) as (number | null)[];
  return shape.slice(1).map((d) => d ?? 0);
}

function macsOf(layer: tf.layers.Layer, outputShape: readonly number[]): number {
  const kernel = layer.weights[0];
  if (kernel === undefined) return 0;
  const className = layer.getClassName();
  // Conv2D kernel [kH, kW, inC, outC]: every output pixel does kH*kW*inC*outC MACs.
  if (className === 'Conv2D') return product(outputShape.slice(0, -1)) * product(kernel.shape);
  // Dense kernel [in, out].
  if (className === 'Dense') return product(kernel.shape);
  return 0;
}

/**
 * Summarise a built model. `describe` gives each layer's kind and detail (the builder
 * knows them); layers it does not name get a kind from their class.
 */
export function summarizeModel(
  model: tf.LayersModel,
  describe: ReadonlyMap<string, LayerDescription> = new Map(),
  classifierName = 'classifier',
): ModelSummary {
  const layers: LayerSummary[] = model.layers.map((layer) => {
    const outputShape = outputShapeOf(layer);
    const known = describe.get(layer.name);
    return {
      name: layer.name,
      kind: known?.kind ?? kindFromClass(layer.getClassName()),
      detail: known?.detail ?? '',
      outputShape,
      params: layer.countParams(),
      macs: macsOf(layer, outputShape),
    };
  });
  const totalParams = layers.reduce((sum, l) => sum + l.params, 0);
  const trainableParams = model.trainableWeights.reduce((sum, w) => sum + product(w.shape), 0);
  const classifier = layers.find((l) => l.name === classifierName);
  return {
    layers,
    totalParams,
    trainableParams,
    paramsWithoutClassifier: totalParams - (classifier?.params ?? 0),
    macsPerImage: layers.reduce((sum, l) => sum + l.macs, 0),
  };
}

const grouped = (n: number): string => n.toLocaleString('en-US');

function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** A plain-text table for the command line. */
export function formatSummary(summary: ModelSummary): string {
  const header = ['layer', 'kind', 'detail', 'output', 'params', 'MACs'];
  const rows = summary.layers.map((l) => [l.name, l.kind, l.detail, l.outputShape.join('x'), l.params === 0 ? '' : grouped(l.params), l.macs === 0 ? '' : compact(l.macs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rightAligned = new Set([4, 5]);
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const classifierParams = summary.totalParams - summary.paramsWithoutClassifier;
  return [
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `parameters: ${grouped(summary.totalParams)} (${grouped(summary.paramsWithoutClassifier)} without the classifier's ${grouped(classifierParams)}; trainable ${grouped(summary.trainableParams)})`,
    `MACs per image: ${grouped(summary.macsPerImage)} (${compact(summary.macsPerImage)})`,
  ].join('\n');
}
