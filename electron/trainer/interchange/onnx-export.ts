// A lab model as an ONNX model (`lab export --format onnx`): the network from a grey image to
// the embedding, as PyTorch would run it, for onnxruntime and the tools that read ONNX.
//
//   input   image      float32 [N, 1, S, S]  (NCHW, the batch N dynamic; the lab's pixel values)
//   output  embedding  float32 [N, E]        (the fc's output after its activation; v2: the plain fc's)
//           logits     float32 [N, classes]  (only with `classifier: true`: fc2 on the embedding)
//
// The weights are the PyTorch reference's (torch-layout.ts): its state_dict names for the
// initializers (`features.0.filter.weight`), its layouts (conv [out, in, kh, kw], linear
// [out, in], the fc's inputs in C, H, W order, which ONNX's Flatten of an NCHW map gives), so
// the graph reads like the PyTorch model. Nodes are named after the reference's modules too
// (`features.0.filter` the conv, `features.0.act` its activation); the lab's layer is in each
// node's doc string.
//
// Evaluation mode: no dropout; RReLU is the leaky ReLU of slope (lower + upper) / 2. Opset 13
// (IR 7): GELU is built from Erf and Mish from Softplus, which that opset has; maxout and MFM
// are Split along the channels (contiguous blocks, as the lab's layers take them) then Max
// (and Min for MFM 3/2's median).
import { formatActivation, type ActivationSpec } from '../../../models/activations/spec';
import type { ActivationUnit, BuiltModel } from '../../../models/lightcnn';
import type { Architecture, Block } from '../../../models/lightcnn-blocks';
import { labToTorch, torchModuleOfUnits, torchParams, type TorchParam } from '../../../models/torch-layout';
import { floatValueInfo, GraphBuilder, IR_VERSION, onnx, OPSET } from './onnx-graph';

export { IR_VERSION as ONNX_IR_VERSION, OPSET as ONNX_OPSET } from './onnx-graph';

export const ONNX_PRODUCER = 'Face CNN Lab';
export const ONNX_INPUT = 'image';
export const ONNX_EMBEDDING = 'embedding';
export const ONNX_LOGITS = 'logits';
/** The name of the dynamic batch dimension. */
export const ONNX_BATCH = 'N';
/** The metadata_props key of the lab's configuration (JSON). */
export const ONNX_CONFIG_KEY = 'face_cnn_lab.config';

export interface OnnxExportOptions {
  /** Add the identity classifier (fc2) and its `logits` output; false by default. */
  readonly classifier?: boolean;
  /** The model's producer_name; 'Face CNN Lab' unless given. */
  readonly producer?: string;
}

/** tfjs' SELU constants (the lab's selu is tfjs'): alpha and scale. */
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

interface TorchWeight {
  readonly param: TorchParam;
  /** Values in PyTorch's layout. */
  readonly values: Float32Array;
}

/** Every weight the graph needs, by state_dict name, in PyTorch's layout. */
async function readWeights(built: BuiltModel, classifier: boolean): Promise<Map<string, TorchWeight>> {
  const variables = new Map(built.model.weights.map((w) => [w.originalName, w]));
  const weights = new Map<string, TorchWeight>();
  for (const param of torchParams(built)) {
    if (param.classifier && !classifier) continue;
    const variable = variables.get(param.lab);
    if (variable === undefined) throw new Error(`internal: the model has no weight ${param.lab} (${param.torch})`);
    const data = await variable.read().data();
    weights.set(param.torch, { param, values: labToTorch(param, Float32Array.from(data as ArrayLike<number>)) });
  }
  return weights;
}

/** The reference's module of each block: `features.<i>` in a sequential network, else the block's attribute. */
function blockModules(architecture: Architecture): Map<string, string> {
  const modules = new Map<string, string>();
  let index = 0;
  for (const block of architecture.blocks) {
    if (block.type === 'fc') {
      modules.set(block.name, architecture.torch.fc);
      continue;
    }
    const residual = /^res(\d+)_(\d+)$/.exec(block.name);
    const attribute = block.type === 'resblock' && residual ? `block${residual[1]}.${Number(residual[2]) - 1}` : block.name;
    modules.set(block.name, architecture.torch.layout === 'sequential' ? `features.${index}` : attribute);
    index++;
  }
  return modules;
}

/** Serialized ONNX ModelProto of `built`'s embedding network (and classifier, when asked). */
export async function onnxModel(built: BuiltModel, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const withClassifier = options.classifier ?? false;
  const weights = await readWeights(built, withClassifier);
  const { architecture, config } = built;
  const size = config.inputSize;
  const g = new GraphBuilder();
  const usedWeights = new Set<string>();

  /** The initializer of a state_dict entry (shape `dims`, PyTorch's own unless given). */
  const weight = (name: string, dims?: readonly number[]): string => {
    const found = weights.get(name);
    if (found === undefined) throw new Error(`internal: no weight ${name} for the ONNX graph`);
    usedWeights.add(name);
    return g.initializer(name, dims ?? found.param.torchShape, found.values, found.param.what);
  };
  const hasWeight = (name: string) => weights.has(name);

  const unitModules = torchModuleOfUnits(built);
  const blocks = blockModules(architecture);
  const units = new Map(built.units.map((u) => [u.unit, u]));
  const unitOf = (name: string): { unit: ActivationUnit; module: string } => {
    const unit = units.get(name);
    const module = unitModules.get(name);
    if (unit === undefined || module === undefined) throw new Error(`internal: no unit ${name} in the model`);
    return { unit, module };
  };

  let x = g.input(ONNX_INPUT);

  /** The linear layer's output through the unit's activation; the last node's output is `output` (default `<module>.act`). */
  const activate = (input: string, unit: ActivationUnit, module: string, kind: 'map' | 'vector', output?: string): string =>
    emitActivation(g, input, unit.spec, `${module}.act`, output ?? `${module}.act`, `lab ${unit.layer}: ${formatActivation(unit.spec)}`, () =>
      weight(`${module}.act.weight`, kind === 'map' ? [unit.channels, 1, 1] : [unit.channels]),
    );

  const convUnit = (name: string, kernel: number, stride: number, pad: number) => {
    const { unit, module } = unitOf(name);
    const bias = `${module}.filter.bias`;
    const inputs = [x, weight(`${module}.filter.weight`), ...(hasWeight(bias) ? [weight(bias)] : [])];
    x = g.op('Conv', `${module}.filter`, inputs, { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad] },
      `lab ${name}: ${kernel}x${kernel}/${stride} conv${pad > 0 ? ` pad ${pad}` : ''}, ${unit.preActivationChannels} channels`);
    x = activate(x, unit, module, 'map');
  };

  let embeddingDone = false;
  for (const block of architecture.blocks) {
    const base = blocks.get(block.name) ?? block.name;
    if (embeddingDone) throw new Error(`internal: ${architecture.name}: a block after the fc`);
    switch (block.type) {
      case 'conv':
        convUnit(block.name, block.kernel, block.stride, block.pad);
        break;
      case 'group':
        convUnit(`${block.name}.a`, 1, 1, 0);
        convUnit(`${block.name}.b`, block.kernel, 1, (block.kernel - 1) / 2);
        break;
      case 'resblock': {
        const shortcut = x;
        convUnit(`${block.name}.a`, 3, 1, 1);
        convUnit(`${block.name}.b`, 3, 1, 1);
        x = g.op('Add', `${base}.add`, [x, shortcut], {}, `lab ${block.name}: identity shortcut`);
        break;
      }
      case 'pool':
        x = emitPool(g, x, block, base);
        break;
      case 'fc': {
        const flat = g.op('Flatten', 'flatten', [x], { axis: 1 }, 'lab flatten (C, H, W order, as the fc weights are permuted)');
        if (!block.activation) {
          // v2: a plain nn.Linear; its output is the embedding.
          const inputs = [flat, weight(`${base}.weight`), ...(hasWeight(`${base}.bias`) ? [weight(`${base}.bias`)] : [])];
          x = g.op('Gemm', ONNX_EMBEDDING, inputs, { transB: 1 }, `lab ${block.name}: plain linear fc, the embedding`);
        } else {
          const { unit, module } = unitOf(block.name);
          const bias = `${module}.filter.bias`;
          const inputs = [flat, weight(`${module}.filter.weight`), ...(hasWeight(bias) ? [weight(bias)] : [])];
          const linear = g.op('Gemm', `${module}.filter`, inputs, { transB: 1 }, `lab ${block.name}: dense, ${unit.preActivationChannels} outputs`);
          x = activate(linear, unit, module, 'vector', ONNX_EMBEDDING);
        }
        embeddingDone = true;
        break;
      }
    }
  }
  if (!embeddingDone) throw new Error(`internal: ${architecture.name} has no fc block`);

  const outputs = [floatValueInfo(ONNX_EMBEDDING, [ONNX_BATCH, built.embeddingSize], `the ${built.embeddingSize}-d embedding`)];
  if (withClassifier) {
    const inputs = [x, weight('fc2.weight'), ...(hasWeight('fc2.bias') ? [weight('fc2.bias')] : [])];
    g.op('Gemm', ONNX_LOGITS, inputs, { transB: 1 }, 'lab classifier (fc2): logits, no softmax');
    outputs.push(floatValueInfo(ONNX_LOGITS, [ONNX_BATCH, config.numClasses], `${config.numClasses} identity logits (no softmax)`));
  }
  const unused = [...weights.keys()].filter((name) => !usedWeights.has(name));
  if (unused.length > 0) throw new Error(`internal: the ONNX graph left out ${unused.join(', ')}`);

  const summary = describe(built, unitModules, withClassifier);
  const docString =
    `${architecture.title} (${architecture.source}), exported by Face CNN Lab: grey ${size}x${size} image [N, 1, ${size}, ${size}] (NCHW) -> ` +
    `${built.embeddingSize}-d embedding${withClassifier ? ` and ${config.numClasses} logits` : ''}; activations ${summary.activationText}. ` +
    'Weights under the PyTorch reference\'s state_dict names (AlfredXiangWu/LightCNN light_cnn.py); evaluation mode (no dropout).';
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: options.producer ?? ONNX_PRODUCER,
    modelVersion: 1,
    docString,
    graph: {
      name: architecture.name,
      docString,
      node: g.nodes,
      initializer: g.initializers,
      input: [floatValueInfo(ONNX_INPUT, [ONNX_BATCH, 1, size, size], `grey ${size}x${size} images, NCHW, the pixel values the lab trains on`)],
      output: outputs,
    },
    metadataProps: [
      { key: ONNX_CONFIG_KEY, value: JSON.stringify(summary.config) },
      { key: 'architecture', value: architecture.name },
      { key: 'input_size', value: String(size) },
      { key: 'activations', value: summary.activationText },
      { key: 'embedding_size', value: String(built.embeddingSize) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The lab's configuration for the metadata, with activations written as the command line takes them. */
function describe(built: BuiltModel, unitModules: ReadonlyMap<string, string>, classifier: boolean) {
  const { config } = built;
  const overrides = Object.fromEntries(Object.entries(config.overrides).map(([key, spec]) => [key, formatActivation(spec)]));
  const overrideText = Object.entries(overrides).map(([key, spec]) => `${key}=${spec}`);
  const activationText = [formatActivation(config.activation), ...overrideText].join(', ');
  return {
    activationText,
    config: {
      architecture: config.architecture,
      inputSize: config.inputSize,
      widthMultiplier: config.widthMultiplier,
      activation: formatActivation(config.activation),
      overrides,
      numClasses: config.numClasses,
      dropout: config.dropout,
      seed: config.seed,
      initializer: config.initializer,
      embeddingSize: built.embeddingSize,
      classifier,
      input: { name: ONNX_INPUT, layout: 'NCHW', shape: [ONNX_BATCH, 1, config.inputSize, config.inputSize] },
      units: built.units.map((u) => ({ unit: u.unit, module: unitModules.get(u.unit), activation: formatActivation(u.spec), channels: u.channels })),
    },
  };
}

/** 2x2/2 pooling: max with ceil rounding, or max + avg with floor rounding (v2). */
function emitPool(g: GraphBuilder, x: string, block: Extract<Block, { type: 'pool' }>, base: string): string {
  const window = { kernel_shape: [2, 2], strides: [2, 2] };
  const ceil = block.rounding === 'ceil' ? 1 : 0;
  if (block.mode === 'max') return g.op('MaxPool', base, [x], { ...window, ceil_mode: ceil }, `lab ${block.name}: max 2x2/2 ${block.rounding}`);
  const max = g.op('MaxPool', `${base}.max`, [x], { ...window, ceil_mode: ceil }, `lab ${block.name}.max`);
  const avg = g.op('AveragePool', `${base}.avg`, [x], { ...window, ceil_mode: ceil }, `lab ${block.name}.avg`);
  return g.op('Add', base, [max, avg], {}, `lab ${block.name}: max + avg 2x2/2 ${block.rounding}`);
}

/**
 * The activation `spec` on `x` (channels on axis 1, for a conv map [N, C, H, W] and an fc
 * output [N, C] alike), as the lab computes it in evaluation. Intermediate values are named
 * `<name>/<step>`; the last node's output is `output`. `slope` makes the PReLU slopes' initializer.
 */
function emitActivation(g: GraphBuilder, x: string, spec: ActivationSpec, name: string, output: string, doc: string, slope: () => string): string {
  switch (spec.name) {
    case 'sigmoid':
      return g.op('Sigmoid', output, [x], {}, doc);
    case 'tanh':
      return g.op('Tanh', output, [x], {}, doc);
    case 'relu':
      return g.op('Relu', output, [x], {}, doc);
    case 'leaky_relu':
      return g.op('LeakyRelu', output, [x], { alpha: { float: spec.alpha } }, doc);
    case 'rrelu':
      // Evaluation: the fixed slope (lower + upper) / 2.
      return g.op('LeakyRelu', output, [x], { alpha: { float: (spec.lower + spec.upper) / 2 } }, `${doc} (evaluation: slope (lower + upper) / 2)`);
    case 'prelu':
      return g.op('PRelu', output, [x, slope()], {}, doc);
    case 'elu':
      return g.op('Elu', output, [x], { alpha: { float: 1 } }, doc);
    case 'selu':
      return g.op('Selu', output, [x], { alpha: { float: SELU_ALPHA }, gamma: { float: SELU_SCALE } }, doc);
    case 'gelu': {
      // Exact GELU as tfjs computes it: x * (0.5 * (1 + erf(x / sqrt 2))).
      const scaled = g.op('Div', `${name}/Div`, [x, g.scalar(Math.SQRT2, 'sqrt2')]);
      const erf = g.op('Erf', `${name}/Erf`, [scaled]);
      const plus = g.op('Add', `${name}/Add`, [erf, g.scalar(1, 'one')]);
      const cdf = g.op('Mul', `${name}/Cdf`, [plus, g.scalar(0.5, 'half')]);
      return g.op('Mul', output, [x, cdf], {}, doc);
    }
    case 'swish': {
      const sigmoid = g.op('Sigmoid', `${name}/Sigmoid`, [x]);
      return g.op('Mul', output, [sigmoid, x], {}, doc);
    }
    case 'mish': {
      const softplus = g.op('Softplus', `${name}/Softplus`, [x]);
      const tanh = g.op('Tanh', `${name}/Tanh`, [softplus]);
      return g.op('Mul', output, [x, tanh], {}, doc);
    }
    case 'maxout':
      // Contiguous blocks: out[c] = max_j in[j * C + c].
      return g.op('Max', output, g.opSplit('Split', `${name}/Split`, [x], spec.k, { axis: 1 }), {}, doc);
    case 'mfm': {
      if (spec.variant === '2/1') return g.op('Max', output, g.opSplit('Split', `${name}/Split`, [x], 2, { axis: 1 }), {}, doc);
      // 3/2: [max(a, b, c), median(a, b, c)] of the thirds, median = max(min(a, b), min(max(a, b), c)).
      const [a, b, c] = g.opSplit('Split', `${name}/Split`, [x], 3, { axis: 1 }) as [string, string, string];
      const hi = g.op('Max', `${name}/MaxAB`, [a, b]);
      const lo = g.op('Min', `${name}/MinAB`, [a, b]);
      const top = g.op('Max', `${name}/Top`, [hi, c]);
      const median = g.op('Max', `${name}/Median`, [lo, g.op('Min', `${name}/MinHiC`, [hi, c])]);
      return g.op('Concat', output, [top, median], { axis: 1 }, doc);
    }
  }
}
