// Builds a Light CNN from its blocks (lightcnn-architectures.ts) as a tfjs functional
// model: input [null, S, S, 1] -> logits, plus a model sharing the same layers that
// stops at the 256-d embedding.
//
// Layer names (what overrides, probes and checkpoints refer to):
//   unit U (a conv or dense followed by an activation):  U = the conv/dense, `U.act` = its activation;
//     the fc unit's activation is named `embedding`.
//   units: conv1..convN (plain convs), groupI.a (1x1) and groupI.b (k x k), resS_J.a / resS_J.b
//     (stage S, block J) with the add named resS_J, fc.
//   poolI (v2: poolI.max + poolI.avg, summed in poolI), flatten, embedding, dropout, classifier.
// An override key names a unit (`group1.b`), a group or residual block (`group1`, `res2_1`:
// both its units) or a residual stage (`res2`: all its blocks); the longest matching key wins.
import * as tf from '@tensorflow/tfjs';
import { createActivation } from './activations/index';
import { channelFactor, formatActivation, inputChannels, type ActivationSpec } from './activations/spec';
import { StepDropout } from './dropout';
import { mixSeed } from './seeds';
import { DEFAULT_INITIALIZER, INITIALIZERS, isInitializerName, layerInitializers, type InitializerName } from './initializers';
import { ARCHITECTURES, ARCHITECTURE_NAMES, isArchitectureName, type ArchitectureName } from './lightcnn-architectures';
import { activationUnits, firstEmptyStep, minimumInputSize, type Architecture, type Block, type BlockOf, type Unit } from './lightcnn-blocks';
import { summarizeModel, type LayerDescription, type ModelSummary } from './summary';

export { ARCHITECTURES, ARCHITECTURE_NAMES, REFERENCE_PARAMS, type ArchitectureName } from './lightcnn-architectures';

export const DEFAULT_INPUT_SIZE = 128;
/** MFM 2/1: the Light CNN's native activation. */
export const DEFAULT_ACTIVATION: ActivationSpec = { name: 'mfm', variant: '2/1' };
/** The reference applies `F.dropout(fc, training=self.training)`: PyTorch's default p = 0.5. */
export const DEFAULT_DROPOUT = 0.5;
export const DEFAULT_SEED = 1;

export interface ModelConfig {
  readonly architecture: ArchitectureName;
  /** Side of the square grey input; 128 as published, 64 or 32 on a CPU. */
  readonly inputSize?: number;
  /** Scales every conv and fc width (the embedding too), rounded to a multiple the activations need. */
  readonly widthMultiplier?: number;
  /** The activation of every unit unless overridden; MFM 2/1 by default. */
  readonly activation?: ActivationSpec;
  /** Per-unit activations, keyed by unit, block or stage name (see the header). */
  readonly overrides?: Readonly<Record<string, ActivationSpec>>;
  /** Identities the classifier tells apart. */
  readonly numClasses: number;
  /** Dropout rate between the embedding and the classifier. */
  readonly dropout?: number;
  /** Every kernel initializer draws from a seed derived from this one and the layer's name. */
  readonly seed?: number;
  /** How weights start (initializers.ts): PyTorch's default, as the reference trains, unless told. */
  readonly initializer?: InitializerName;
}

export interface ResolvedModelConfig {
  readonly architecture: ArchitectureName;
  readonly inputSize: number;
  readonly widthMultiplier: number;
  readonly activation: ActivationSpec;
  readonly overrides: Readonly<Record<string, ActivationSpec>>;
  readonly numClasses: number;
  readonly dropout: number;
  readonly seed: number;
  readonly initializer: InitializerName;
}

export interface ActivationUnit {
  /** The unit's name (what overrides name): `conv1`, `group1.a`, `res2_1.b`, `fc`. */
  readonly unit: string;
  /** The activation layer's name: `conv1.act`, ..., `embedding` for the fc. */
  readonly layer: string;
  /** The conv or dense layer that feeds it (same as `unit`). */
  readonly linear: string;
  readonly spec: ActivationSpec;
  /** Channels out of the activation (the unit's width). */
  readonly channels: number;
  /** Channels the conv/dense produces for the activation (k x channels for maxout, ...). */
  readonly preActivationChannels: number;
}

export interface BuiltModel {
  /** input [null, S, S, 1] -> logits [null, numClasses] (no softmax). */
  readonly model: tf.LayersModel;
  /** Same input -> the embedding [null, embeddingSize]; shares `model`'s layers. Dispose `model` only. */
  readonly embedding: tf.LayersModel;
  readonly embeddingSize: number;
  /** Every activation layer's name, in order from the input (v2's linear fc is not one). */
  readonly activationLayers: readonly string[];
  readonly units: readonly ActivationUnit[];
  readonly summary: ModelSummary;
  readonly config: ResolvedModelConfig;
  readonly architecture: Architecture;
}

export class ModelConfigError extends Error {
  override readonly name = 'ModelConfigError';
}

// ---------------------------------------------------------------- configuration

/** The seed of one layer's initializer: a mix of the model seed and the layer's name. */
export function layerSeed(seed: number, layerName: string): number {
  return mixSeed(seed, layerName);
}

function overrideMatches(key: string, unit: string): boolean {
  return unit === key || unit.startsWith(`${key}.`) || unit.startsWith(`${key}_`);
}

/** Which activation each unit gets: the longest matching override key, else the global one. */
export function resolveActivations(
  architecture: Architecture,
  activation: ActivationSpec,
  overrides: Readonly<Record<string, ActivationSpec>>,
): Map<string, ActivationSpec> {
  const units = activationUnits(architecture.blocks);
  const keys = Object.keys(overrides);
  for (const key of keys) {
    if (units.some((u) => overrideMatches(key, u.name))) continue;
    const fcBlock = architecture.blocks.find((b) => b.type === 'fc' && b.name === key);
    if (fcBlock !== undefined)
      throw new ModelConfigError(`${architecture.name}'s ${key} is a plain linear layer with no activation, as in the reference; it takes no activation override`);
    throw new ModelConfigError(`${architecture.name} has no activation layer "${key}"; its layers are ${units.map((u) => u.name).join(', ')}`);
  }
  const result = new Map<string, ActivationSpec>();
  for (const unit of units) {
    const key = keys.filter((k) => overrideMatches(k, unit.name)).sort((a, b) => b.length - a.length)[0];
    result.set(unit.name, key === undefined ? activation : (overrides[key] ?? activation));
  }
  return result;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export function resolveConfig(config: ModelConfig): ResolvedModelConfig {
  if (!isArchitectureName(config.architecture))
    throw new ModelConfigError(`unknown architecture "${String(config.architecture)}"; choose one of ${ARCHITECTURE_NAMES.join(', ')}`);
  const inputSize = config.inputSize ?? DEFAULT_INPUT_SIZE;
  const widthMultiplier = config.widthMultiplier ?? 1;
  const dropout = config.dropout ?? DEFAULT_DROPOUT;
  const seed = config.seed ?? DEFAULT_SEED;
  const initializer = config.initializer ?? DEFAULT_INITIALIZER;
  if (!isInitializerName(initializer)) throw new ModelConfigError(`unknown initializer "${String(initializer)}"; choose one of ${INITIALIZERS.join(', ')}`);
  if (!Number.isInteger(inputSize) || inputSize < 1) throw new ModelConfigError(`the input size must be a whole number of pixels, got ${inputSize}`);
  if (!(Number.isFinite(widthMultiplier) && widthMultiplier > 0)) throw new ModelConfigError(`the width multiplier must be a positive number, got ${widthMultiplier}`);
  if (!(dropout >= 0 && dropout < 1)) throw new ModelConfigError(`the dropout rate must be in [0, 1), got ${dropout}`);
  if (!Number.isInteger(config.numClasses) || config.numClasses < 2)
    throw new ModelConfigError(`a classifier needs at least 2 identities, got ${config.numClasses}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ModelConfigError(`the seed must be a whole number in [0, 2^32), got ${seed}`);
  const architecture = ARCHITECTURES[config.architecture];
  const tooSmall = firstEmptyStep(architecture.blocks, inputSize);
  if (tooSmall !== undefined) {
    throw new ModelConfigError(
      `${architecture.name} cannot take ${inputSize}x${inputSize} inputs: its ${tooSmall.what} ${tooSmall.block} would turn a ${tooSmall.inputSize}x${tooSmall.inputSize} map into ${Math.max(0, tooSmall.outputSize)}x${Math.max(0, tooSmall.outputSize)}; the smallest input it takes is ${minimumInputSize(architecture.blocks)} px`,
    );
  }
  return {
    architecture: config.architecture,
    inputSize,
    widthMultiplier,
    activation: config.activation ?? DEFAULT_ACTIVATION,
    overrides: { ...(config.overrides ?? {}) },
    numClasses: config.numClasses,
    dropout,
    seed,
    initializer,
  };
}

// ---------------------------------------------------------------- building

/** What a block's builder works with: the graph so far and the model's helpers. */
interface BuildContext {
  /** The graph's output so far, and its channels. */
  x: tf.SymbolicTensor;
  channels: number;
  /** The fc's output (the embedding) and its width, once built. */
  embedding: { readonly tensor: tf.SymbolicTensor; readonly size: number } | undefined;
  readonly architecture: Architecture;
  /** A width of the reference, scaled by the width multiplier and rounded for the activations. */
  width(n: number): number;
  describe(layer: string, description: LayerDescription): void;
  /** The activation resolved for a unit (undefined: the unit takes none). */
  activationOf(unit: string): ActivationSpec | undefined;
  initOf(name: string, fanIn: number, spec: ActivationSpec | undefined): ReturnType<typeof layerInitializers>;
  /** The unit's activation layer on `x`, recorded as one of the model's units. */
  applyActivation(unit: Unit, out: number, pre: number, spec: ActivationSpec, layerName: string): void;
  /** A conv unit (PyTorch's `mfm(in, out, kernel, stride, pad)`, activation free) on `x`. */
  convUnit(name: string, outputs: number, kernel: number, stride: number, pad: number): void;
}

type Builder<B extends Block> = (block: B, ctx: BuildContext) => void;

/** How each block type is built (its other facts are its entry in lightcnn-blocks.ts' BLOCK_KINDS). */
const BUILDERS: { readonly [T in Block['type']]: Builder<BlockOf<T>> } = {
  conv: (block, ctx) => ctx.convUnit(block.name, ctx.width(block.out), block.kernel, block.stride, block.pad),
  group: (block, ctx) => {
    if (block.kernel % 2 !== 1) throw new ModelConfigError(`${block.name}: a group's kernel must be odd to keep the map's size, got ${block.kernel}`);
    ctx.convUnit(`${block.name}.a`, ctx.channels, 1, 1, 0);
    ctx.convUnit(`${block.name}.b`, ctx.width(block.out), block.kernel, 1, (block.kernel - 1) / 2);
  },
  resblock: (block, ctx) => {
    const shortcut = ctx.x;
    ctx.convUnit(`${block.name}.a`, ctx.channels, 3, 1, 1);
    ctx.convUnit(`${block.name}.b`, ctx.channels, 3, 1, 1);
    ctx.x = tf.layers.add({ name: block.name }).apply([ctx.x, shortcut]) as tf.SymbolicTensor;
    ctx.describe(block.name, { kind: 'add', detail: 'identity shortcut' });
  },
  pool: (block, ctx) => {
    const padding = block.rounding === 'ceil' ? 'same' : 'valid'; // k = s = 2: 'same' pads the end only, as ceil_mode does
    const detail = `${block.mode} 2x2/2 ${block.rounding}`;
    if (block.mode === 'max') {
      ctx.x = tf.layers.maxPooling2d({ name: block.name, poolSize: 2, strides: 2, padding }).apply(ctx.x) as tf.SymbolicTensor;
    } else {
      const max = tf.layers.maxPooling2d({ name: `${block.name}.max`, poolSize: 2, strides: 2, padding }).apply(ctx.x) as tf.SymbolicTensor;
      const avg = tf.layers.averagePooling2d({ name: `${block.name}.avg`, poolSize: 2, strides: 2, padding }).apply(ctx.x) as tf.SymbolicTensor;
      ctx.describe(`${block.name}.max`, { kind: 'pool', detail: `max 2x2/2 ${block.rounding}` });
      ctx.describe(`${block.name}.avg`, { kind: 'pool', detail: `avg 2x2/2 ${block.rounding}` });
      ctx.x = tf.layers.add({ name: block.name }).apply([max, avg]) as tf.SymbolicTensor;
    }
    ctx.describe(block.name, { kind: block.mode === 'max' ? 'pool' : 'add', detail });
  },
  fc: (block, ctx) => {
    if (ctx.embedding !== undefined) throw new ModelConfigError(`${ctx.architecture.name}: only the last block may be an fc`);
    ctx.x = tf.layers.flatten({ name: 'flatten' }).apply(ctx.x) as tf.SymbolicTensor;
    const features = ctx.x.shape[1] ?? 0;
    ctx.describe('flatten', { kind: 'flatten' });
    const outputs = ctx.width(block.out);
    const spec = block.activation ? ctx.activationOf(block.name) : undefined;
    const denseUnits = spec === undefined ? outputs : inputChannels(spec, outputs);
    ctx.x = tf.layers
      .dense({ name: block.name, units: denseUnits, ...ctx.initOf(block.name, features, spec) })
      .apply(ctx.x) as tf.SymbolicTensor;
    ctx.describe(block.name, { kind: 'dense', detail: `${features} -> ${denseUnits}` });
    if (spec !== undefined) {
      ctx.applyActivation({ name: block.name, block: block.name, layer: 'dense' }, outputs, denseUnits, spec, 'embedding');
    } else {
      // v2: the linear fc's output is the embedding; an identity layer gives it the common name.
      ctx.x = tf.layers.activation({ name: 'embedding', activation: 'linear' }).apply(ctx.x) as tf.SymbolicTensor;
      ctx.describe('embedding', { kind: 'identity', detail: 'linear fc output' });
      ctx.channels = outputs;
    }
    ctx.embedding = { tensor: ctx.x, size: outputs };
  },
};


/** Build a Light CNN. Throws ModelConfigError for a configuration it cannot build. */
export function buildModel(config: ModelConfig): BuiltModel {
  const resolved = resolveConfig(config);
  const architecture = ARCHITECTURES[resolved.architecture];
  const activations = resolveActivations(architecture, resolved.activation, resolved.overrides);

  // Widths are rounded to a multiple every activation in the network can split (MFM 3/2: even),
  // so a residual block's width suits both its units whatever they use.
  const multiple = [...activations.values()].map((s) => channelFactor(s).den).reduce((a, b) => (a * b) / gcd(a, b), 1);
  const width = (n: number): number => Math.max(multiple, Math.round((n * resolved.widthMultiplier) / multiple) * multiple);

  const describe = new Map<string, LayerDescription>();
  const units: ActivationUnit[] = [];
  const initOf = (name: string, fanIn: number, spec: ActivationSpec | undefined) => layerInitializers(resolved.initializer, fanIn, spec, layerSeed(resolved.seed, name));

  const input = tf.input({ shape: [resolved.inputSize, resolved.inputSize, 1], name: 'input' });
  describe.set('input', { kind: 'input', detail: 'grey' });

  const ctx: BuildContext = {
    x: input,
    channels: 1,
    embedding: undefined,
    architecture,
    width,
    describe: (layer, description) => describe.set(layer, description),
    activationOf: (unit) => activations.get(unit),
    initOf,
    applyActivation(unit, out, pre, spec, layerName) {
      ctx.x = createActivation(spec, layerName).apply(ctx.x) as tf.SymbolicTensor;
      describe.set(layerName, { kind: 'activation', detail: formatActivation(spec) });
      units.push({ unit: unit.name, layer: layerName, linear: unit.name, spec, channels: out, preActivationChannels: pre });
      ctx.channels = out;
    },
    convUnit(name, outputs, kernel, stride, pad) {
      const spec = activations.get(name);
      if (spec === undefined) throw new Error(`internal: no activation resolved for ${name}`);
      const filters = inputChannels(spec, outputs);
      let padding: 'same' | 'valid' = 'valid';
      if (pad > 0 && stride === 1 && 2 * pad === kernel - 1) padding = 'same';
      else if (pad > 0) {
        ctx.x = tf.layers.zeroPadding2d({ padding: pad, name: `${name}.pad` }).apply(ctx.x) as tf.SymbolicTensor;
        describe.set(`${name}.pad`, { kind: 'pad', detail: `${pad}` });
      }
      ctx.x = tf.layers
        .conv2d({ name, filters, kernelSize: kernel, strides: stride, padding, ...initOf(name, ctx.channels * kernel * kernel, spec) })
        .apply(ctx.x) as tf.SymbolicTensor;
      describe.set(name, { kind: 'conv', detail: `${kernel}x${kernel}/${stride}${pad > 0 ? ` pad ${pad}` : ''}` });
      ctx.applyActivation({ name, block: name, layer: 'conv' }, outputs, filters, spec, `${name}.act`);
    },
  };
  for (const block of architecture.blocks) (BUILDERS[block.type] as Builder<Block>)(block, ctx);
  if (ctx.embedding === undefined) throw new ModelConfigError(`${architecture.name} has no fc block to give an embedding`);
  const { tensor: embedding, size: embeddingSize } = ctx.embedding;

  const x = new StepDropout({ rate: resolved.dropout, name: 'dropout' }).apply(embedding) as tf.SymbolicTensor;
  describe.set('dropout', { kind: 'dropout', detail: `rate ${resolved.dropout}` });
  const logits = tf.layers
    .dense({
      name: 'classifier',
      units: resolved.numClasses,
      useBias: architecture.classifierBias,
      ...initOf('classifier', embeddingSize, undefined),
    })
    .apply(x) as tf.SymbolicTensor;
  describe.set('classifier', { kind: 'dense', detail: `${embeddingSize} -> ${resolved.numClasses} logits${architecture.classifierBias ? '' : ', no bias'}` });

  const model = tf.model({ inputs: input, outputs: logits, name: architecture.name });
  const embeddingModel = tf.model({ inputs: input, outputs: embedding, name: `${architecture.name}_embedding` });
  return {
    model,
    embedding: embeddingModel,
    embeddingSize,
    activationLayers: units.map((u) => u.layer),
    units,
    summary: summarizeModel(model, describe, 'classifier'),
    config: resolved,
    architecture,
  };
}

/** The summary of a configuration (builds the model, reads it, disposes it). */
export function describeModel(config: ModelConfig): ModelSummary {
  const built = buildModel(config);
  try {
    return built.summary;
  } finally {
    built.model.dispose();
  }
}
