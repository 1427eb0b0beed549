// A lab model as PyTorch source: `model.py`, which `lab export --format pytorch` writes beside
// the state_dict and the torchrun folder (torchrun-folder.ts) trains with.
//
// The generated module is the lab's network written the way the reference writes it
// (AlfredXiangWu/LightCNN, light_cnn.py): every unit is an `mfm`-like module whose linear layer
// is `.filter` and whose activation is `.act`; groups hold `conv_a` and `conv`, residual blocks
// `conv1` and `conv2`; the module tree and so the state_dict's keys, their order and their shapes
// are exactly those of torchParams (models/torch-layout.ts), so a state_dict written by the lab
// loads with `load_state_dict(strict=True)`. forward(x) takes [N, 1, S, S] grey inputs in
// the lab's range ([0, 1]) and returns `(logits, embedding)` as the reference's `return out, fc`.
//
// In eval mode it computes what the lab computes (the interchange tests compare both to 1e-5):
//   conv padding as the block says (the lab's 'same' for stride 1 and pad (k-1)/2 is symmetric);
//   pools: 'max' ceil = nn.MaxPool2d(2, 2, ceil_mode=True), 'max+avg' = F.max_pool2d + F.avg_pool2d;
//   flatten C, H, W (torch's order; torch-layout permutes the fc's weights for it);
//   dropout (the run's rate) between the embedding and the classifier, in training only;
//   activations as models/activations: maxout over contiguous channel blocks, MFM 2/1 as the
//   reference's torch.split, MFM 3/2 as [max, median] of the thirds, PReLU per channel,
//   RReLU random in training and (lower + upper) / 2 in eval, GELU exact, swish = SiLU.
// In training the random draws (dropout masks, RReLU slopes) are torch's, not the lab's.
import type { ActivationSpec } from '../../../models/activations/spec';
import { formatActivation, inputChannels } from '../../../models/activations/spec';
import type { ActivationUnit, BuiltModel } from '../../../models/lightcnn';
import { traceSpatial, type Block } from '../../../models/lightcnn-blocks';
import { torchModuleOfUnits, torchParams } from '../../../models/torch-layout';

/** A JSON-like value as a Python literal. */
export function pyLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`no Python literal for ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value); // JSON's escapes are Python's too
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(', ')}}`;
  throw new Error(`no Python literal for a ${typeof value}`);
}

/** The header's comment lines (without '# '), one fact each. */
function describeConfig(built: BuiltModel): string[] {
  const { config, architecture } = built;
  const overrides = Object.entries(config.overrides);
  return [
    `architecture: ${architecture.name} (${architecture.title}; ${architecture.source})`,
    `input: ${config.inputSize}x${config.inputSize} grey, values in [0, 1], shape [N, 1, ${config.inputSize}, ${config.inputSize}]`,
    `width multiplier: ${config.widthMultiplier}`,
    `activation: ${formatActivation(config.activation)}${overrides.length > 0 ? `; overrides: ${overrides.map(([k, s]) => `${k}=${formatActivation(s)}`).join(', ')}` : ''}`,
    `embedding: ${built.embeddingSize}; classes: ${config.numClasses}; dropout: ${config.dropout}`,
    `initializer: ${config.initializer} (${config.initializer === 'pytorch' ? "PyTorch's default" : 'reproduced with nn.init in init_weights'}: the same distributions, not the lab's numbers; lab seed ${config.seed})`,
  ];
}

// ---------------------------------------------------------------- the fixed part

const IMPORTS = String.raw`import math

import torch
import torch.nn as nn
import torch.nn.functional as F
`;

const HELPERS = String.raw`def parse_activation(text):
    """'mfm:3/2' -> ('mfm', ['3/2']); 'leaky_relu:0.1' -> ('leaky_relu', ['0.1'])."""
    name, _, rest = text.partition(':')
    if name == 'mfm':
        return name, [rest or '2/1']
    return name, (rest.split(':') if rest else [])


def pre_activation_channels(activation, channels):
    """Channels the conv or linear layer before an activation makes for its output width."""
    name, args = parse_activation(activation)
    if name == 'maxout':
        return int(args[0]) * channels
    if name == 'mfm':
        return 2 * channels if args[0] == '2/1' else channels * 3 // 2
    return channels


class MaxFeatureMap(nn.Module):
    """MFM 2/1 (the reference's mfm): the larger of the two channel halves."""

    def forward(self, x):
        a, b = torch.split(x, x.shape[1] // 2, 1)
        return torch.max(a, b)


class MaxFeatureMap32(nn.Module):
    """MFM 3/2: of the thirds a, b, c of the channels, [max(a, b, c), median(a, b, c)]."""

    def forward(self, x):
        a, b, c = torch.split(x, x.shape[1] // 3, 1)
        high, low = torch.max(a, b), torch.min(a, b)
        return torch.cat([torch.max(high, c), torch.max(low, torch.min(high, c))], 1)


class Maxout(nn.Module):
    """Maxout over k contiguous channel blocks of N: out[:, c] = max_j in[:, j * N + c]."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        n = x.shape[1] // self.k
        return x.reshape(x.shape[0], self.k, n, *x.shape[2:]).amax(dim=1)

    def extra_repr(self):
        return 'k={}'.format(self.k)


def make_activation(activation, channels):
    """The activation module of the lab's spec text (models/activations), for 'channels' outputs."""
    name, args = parse_activation(activation)
    if name == 'sigmoid':
        return nn.Sigmoid()
    if name == 'tanh':
        return nn.Tanh()
    if name == 'relu':
        return nn.ReLU()
    if name == 'leaky_relu':
        return nn.LeakyReLU(float(args[0]) if args else 0.01)
    if name == 'prelu':
        return nn.PReLU(channels)  # one slope per channel, 0.25 at the start, as the lab
    if name == 'rrelu':
        lower = float(args[0]) if args else 1.0 / 8
        upper = float(args[1]) if len(args) > 1 else 1.0 / 3
        return nn.RReLU(lower, upper)  # random slopes in training, (lower + upper) / 2 in eval
    if name == 'elu':
        return nn.ELU()
    if name == 'selu':
        return nn.SELU()
    if name == 'gelu':
        return nn.GELU()  # exact (erf)
    if name == 'swish':
        return nn.SiLU()
    if name == 'mish':
        return nn.Mish()
    if name == 'maxout':
        return Maxout(int(args[0]) if args else 2)
    if name == 'mfm':
        if args[0] == '2/1':
            return MaxFeatureMap()
        if args[0] == '3/2':
            return MaxFeatureMap32()
    raise ValueError('unknown activation {!r}'.format(activation))


class ConvUnit(nn.Module):
    """The reference's mfm(in, out, kernel, stride, padding) with its activation chosen per unit."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, activation):
        super().__init__()
        self.activation = activation
        self.filter = nn.Conv2d(in_channels, pre_activation_channels(activation, out_channels), kernel_size, stride, padding)
        self.act = make_activation(activation, out_channels)

    def forward(self, x):
        return self.act(self.filter(x))


class LinearUnit(nn.Module):
    """The reference's mfm(in, out, type=0): a linear layer, then the activation."""

    def __init__(self, in_features, out_features, activation):
        super().__init__()
        self.activation = activation
        self.filter = nn.Linear(in_features, pre_activation_channels(activation, out_features))
        self.act = make_activation(activation, out_features)

    def forward(self, x):
        return self.act(self.filter(x))


class Group(nn.Module):
    """The reference's group: a 1x1 unit (conv_a), then a k x k unit (conv)."""

    def __init__(self, conv_a, conv):
        super().__init__()
        self.conv_a = conv_a
        self.conv = conv

    def forward(self, x):
        return self.conv(self.conv_a(x))


class ResBlock(nn.Module):
    """The reference's resblock: two 3x3 units and the identity shortcut."""

    def __init__(self, conv1, conv2):
        super().__init__()
        self.conv1 = conv1
        self.conv2 = conv2

    def forward(self, x):
        return self.conv2(self.conv1(x)) + x


class MaxAvgPool(nn.Module):
    """LightCNN-29 v2's pooling: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)."""

    def forward(self, x):
        return F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)
`;

/** The initializer as Python: nothing for PyTorch's default, nn.init for He and Glorot (initializers.ts). */
function initPython(initializer: BuiltModel['config']['initializer']): string {
  switch (initializer) {
    case 'pytorch':
      return String.raw`def init_weights(model):
    """The lab's 'pytorch' initializer is PyTorch's default reset_parameters(): nothing to do."""
    return model
`;
    case 'he':
      return String.raw`def _truncated_normal(weight, std):
    # tfjs' heNormal / leCunNormal: a normal truncated at 2 standard deviations.
    nn.init.trunc_normal_(weight, 0.0, std, -2.0 * std, 2.0 * std)


def init_weights(model):
    """The lab's 'he' initializer (models/initializers.ts): He-normal before rectifier-type and max
    activations, Glorot-uniform before sigmoid, tanh and linear layers (the classifier), LeCun-normal
    before SELU; zero biases. Same distributions, not the lab's numbers."""
    units = [m for m in model.modules() if isinstance(m, (ConvUnit, LinearUnit))]
    filters = {id(u.filter) for u in units}
    for unit in units:
        weight = unit.filter.weight
        fan_in = weight[0].numel()
        name = parse_activation(unit.activation)[0]
        if name in ('sigmoid', 'tanh'):
            nn.init.xavier_uniform_(weight)
        elif name == 'selu':
            _truncated_normal(weight, math.sqrt(1.0 / fan_in))
        else:
            _truncated_normal(weight, math.sqrt(2.0 / fan_in))
        nn.init.zeros_(unit.filter.bias)
    for module in model.modules():
        if isinstance(module, nn.Linear) and id(module) not in filters:
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model
`;
    case 'glorot':
      return String.raw`def init_weights(model):
    """The lab's 'glorot' initializer: Glorot-uniform weights, zero biases (same distribution, not the lab's numbers)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model
`;
  }
}

// ---------------------------------------------------------------- the network

interface UnitCode {
  /** The Python expression that makes the unit. */
  readonly code: string;
  /** What it is, for the comment beside it. */
  readonly note: string;
}

/** The whole model's code: the module tree of __init__ and the calls of forward. */
interface NetworkCode {
  readonly init: string[];
  readonly forward: string[];
}

function checkUnit(unit: ActivationUnit): void {
  if (inputChannels(unit.spec, unit.channels) !== unit.preActivationChannels)
    throw new Error(`internal: ${unit.unit} makes ${unit.preActivationChannels} channels, its activation wants ${inputChannels(unit.spec, unit.channels)}`);
}

function networkCode(built: BuiltModel): NetworkCode {
  const { architecture, config } = built;
  const { blocks, torch } = architecture;
  const modules = torchModuleOfUnits(built);
  const unitOf = new Map(built.units.map((u) => [u.unit, u]));
  const spatial = traceSpatial(blocks, config.inputSize);
  const globalActivation = formatActivation(config.activation);
  const describeSpec = (spec: ActivationSpec) => {
    const text = formatActivation(spec);
    return text === globalActivation ? text : `${text}, overridden`;
  };

  let channels = 1;
  const convUnit = (name: string, kernel: number, stride: number, pad: number): UnitCode => {
    const unit = unitOf.get(name);
    if (unit === undefined) throw new Error(`internal: the model has no unit ${name}`);
    checkUnit(unit);
    const code = `ConvUnit(${channels}, ${unit.channels}, ${kernel}, ${stride}, ${pad}, ${pyLiteral(formatActivation(unit.spec))})`;
    const note = `${name}: ${kernel}x${kernel}/${stride}${pad > 0 ? ` pad ${pad}` : ''}, ${channels} -> ${unit.preActivationChannels} -> ${describeSpec(unit.spec)} -> ${unit.channels}`;
    channels = unit.channels;
    return { code, note };
  };
  /** The module path of a block, from where torch-layout puts its first unit. */
  const blockPath = (block: Block, unitSuffix: string, expectedLeaf: string): string => {
    const path = modules.get(`${block.name}${unitSuffix}`);
    if (path === undefined || !path.endsWith(`.${expectedLeaf}`)) throw new Error(`internal: no reference module for ${block.name}${unitSuffix}`);
    return path.slice(0, -expectedLeaf.length - 1);
  };

  const init: string[] = [];
  const forward: string[] = [];
  const sequential: string[] = []; // features.<i> items and their comments (sequential layout)
  let featureCount = 0;
  let stage: { name: string; items: string[]; count: number } | undefined; // block<S> = nn.Sequential(...) (modules layout)
  const flushStage = () => {
    if (stage === undefined) return;
    init.push(`self.${stage.name} = nn.Sequential(`, ...stage.items.map((item) => `    ${item}`), ')');
    forward.push(`x = self.${stage.name}(x)`);
    stage = undefined;
  };
  /** Places a non-fc block's module at `path` (`features.<i>`, `group1`, `block2.0`). */
  const place = (path: string, code: string, comment: string[]) => {
    const lines = [...comment.map((c) => `# ${c}`), code];
    if (torch.layout === 'sequential') {
      const expected = `features.${featureCount}`;
      if (path !== expected) throw new Error(`internal: ${path} where ${expected} was expected`);
      sequential.push(...lines.slice(0, -1), `${code},`);
      featureCount++;
      return;
    }
    const stageMatch = /^(block\d+)\.(\d+)$/.exec(path);
    if (stageMatch) {
      const [, name = '', index = ''] = stageMatch;
      if (stage?.name !== name) flushStage();
      stage ??= { name, items: [], count: 0 };
      if (Number(index) !== stage.count) throw new Error(`internal: ${path} out of order`);
      stage.items.push(...lines.slice(0, -1), `${code},`);
      stage.count++;
      return;
    }
    flushStage();
    if (path.includes('.')) throw new Error(`internal: unexpected module path ${path}`);
    init.push(...lines.slice(0, -1), `self.${path} = ${code}`);
    forward.push(`x = self.${path}(x)`);
  };

  let embedding: { init: string[]; forward: string } | undefined;
  blocks.forEach((block, i) => {
    const step = spatial[i];
    const size = step ? `${step.inputSize}x${step.inputSize} -> ${step.outputSize}x${step.outputSize}` : '';
    switch (block.type) {
      case 'conv': {
        const path = modules.get(block.name);
        if (path === undefined) throw new Error(`internal: no reference module for ${block.name}`);
        const unit = convUnit(block.name, block.kernel, block.stride, block.pad);
        place(path, unit.code, [`${unit.note}; ${size}`]);
        break;
      }
      case 'group': {
        const path = blockPath(block, '.a', 'conv_a');
        const a = convUnit(`${block.name}.a`, 1, 1, 0);
        const b = convUnit(`${block.name}.b`, block.kernel, 1, (block.kernel - 1) / 2);
        place(path, `Group(${a.code}, ${b.code})`, [`${block.name}: ${size}`, `  conv_a = ${a.note}`, `  conv   = ${b.note}`]);
        break;
      }
      case 'resblock': {
        const path = blockPath(block, '.a', 'conv1');
        const a = convUnit(`${block.name}.a`, 3, 1, 1);
        const b = convUnit(`${block.name}.b`, 3, 1, 1);
        place(path, `ResBlock(${a.code}, ${b.code})`, [`${block.name} (residual): ${size}`, `  conv1 = ${a.note}`, `  conv2 = ${b.note}`]);
        break;
      }
      case 'pool': {
        // sequential: counted in features; modules: an attribute under the block's name (no weights).
        const path = torch.layout === 'sequential' ? `features.${featureCount}` : block.name;
        const code = block.mode === 'max' ? `nn.MaxPool2d(2, 2${block.rounding === 'ceil' ? ', ceil_mode=True' : ''})` : 'MaxAvgPool()';
        if (block.mode === 'max+avg' && block.rounding !== 'floor') throw new Error(`internal: ${block.name}: max+avg pooling rounds down`);
        place(path, code, [`${block.name}: ${block.mode} 2x2/2 ${block.rounding}; ${size}`]);
        break;
      }
      case 'fc': {
        flushStage();
        const size = step ? step.inputSize : 1;
        const features = channels * size * size;
        const name = torch.fc;
        if (block.activation) {
          const unit = unitOf.get(block.name);
          if (unit === undefined) throw new Error(`internal: the model has no unit ${block.name}`);
          checkUnit(unit);
          embedding = {
            init: [`# ${block.name} (the embedding): flatten ${channels}x${size}x${size} = ${features} -> ${unit.preActivationChannels} -> ${describeSpec(unit.spec)} -> ${unit.channels}`, `self.${name} = LinearUnit(${features}, ${unit.channels}, ${pyLiteral(formatActivation(unit.spec))})`],
            forward: `fc = self.${name}(x)`,
          };
        } else {
          embedding = {
            init: [`# ${block.name} (the embedding): a plain linear layer, flatten ${channels}x${size}x${size} = ${features} -> ${built.embeddingSize}`, `self.${name} = nn.Linear(${features}, ${built.embeddingSize})`],
            forward: `fc = self.${name}(x)`,
          };
        }
        break;
      }
    }
  });
  flushStage();
  if (embedding === undefined) throw new Error(`internal: ${architecture.name} has no fc`);
  if (torch.layout === 'sequential') {
    init.unshift('self.features = nn.Sequential(', ...sequential.map((l) => `    ${l}`), ')');
    forward.unshift('x = self.features(x)');
  }
  init.push(...embedding.init);
  init.push(`# the identity classifier: ${built.embeddingSize} -> num_classes${architecture.classifierBias ? '' : ', no bias'}`);
  init.push(`self.fc2 = nn.Linear(${built.embeddingSize}, num_classes${architecture.classifierBias ? '' : ', bias=False'})`);
  forward.push('x = torch.flatten(x, 1)  # C, H, W order', embedding.forward, 'x = F.dropout(fc, p=DROPOUT, training=self.training)', 'out = self.fc2(x)', 'return out, fc');
  return { init, forward };
}

/**
 * `model.py` for `built`: `build_model()` returns the network (PyTorch's default initialisation,
 * or the run's initializer), whose state_dict keys, order and shapes are torchParams(built)'s and
 * whose `forward(x)` returns `(logits, embedding)`.
 */
export function modelPy(built: BuiltModel): string {
  const { config, architecture } = built;
  const params = torchParams(built);
  const network = networkCode(built);
  const indent = (lines: readonly string[], n: number) => lines.map((l) => (l === '' ? '' : `${' '.repeat(n)}${l}`)).join('\n');
  const unitsTable = built.units.map((u) => ({ unit: u.unit, activation: formatActivation(u.spec), channels: u.channels }));
  const modules = torchModuleOfUnits(built);
  const className = 'LabLightCNN';
  return `# model.py: a Face CNN Lab model in PyTorch (torch >= 1.13, no torchvision), generated by the lab.
#
${describeConfig(built)
  .map((line) => `#   ${line}`)
  .join('\n')}
#
# build_model() makes the network; its state_dict() has the keys and shapes of the lab's export
# (the names of AlfredXiangWu/LightCNN's light_cnn.py); forward(x) takes [N, 1, S, S] grey images
# in [0, 1] and returns (logits, embedding), as the reference's 'return out, fc'.
# In eval mode it computes what the lab computes; in training, dropout (and RReLU) draw torch's numbers.
#
# Units (the lab's name -> the module here, activation, output channels):
${built.units.map((u) => `#   ${u.unit.padEnd(10)} ${(modules.get(u.unit) ?? '').padEnd(22)} ${formatActivation(u.spec).padEnd(18)} ${u.channels}`).join('\n')}

${IMPORTS}
ARCHITECTURE = ${pyLiteral(architecture.name)}
INPUT_SIZE = ${config.inputSize}
WIDTH_MULTIPLIER = ${pyLiteral(config.widthMultiplier)}
ACTIVATION = ${pyLiteral(formatActivation(config.activation))}
OVERRIDES = ${pyLiteral(Object.fromEntries(Object.entries(config.overrides).map(([k, s]) => [k, formatActivation(s)])))}
UNITS = ${pyLiteral(unitsTable)}
NUM_CLASSES = ${config.numClasses}
EMBEDDING_SIZE = ${built.embeddingSize}
DROPOUT = ${pyLiteral(config.dropout)}
INITIALIZER = ${pyLiteral(config.initializer)}
SEED = ${config.seed}
# The state_dict's keys in order (the classifier's last).
STATE_DICT_KEYS = ${pyLiteral(params.map((p) => p.torch))}
LAB_CONFIG = ${pyLiteral({ architecture: architecture.name, inputSize: config.inputSize, widthMultiplier: config.widthMultiplier, activation: formatActivation(config.activation), overrides: Object.fromEntries(Object.entries(config.overrides).map(([k, s]) => [k, formatActivation(s)])), numClasses: config.numClasses, dropout: config.dropout, seed: config.seed, initializer: config.initializer })}


${HELPERS}

${initPython(config.initializer)}

class ${className}(nn.Module):
    """${architecture.title} as the lab built it (input ${config.inputSize} px)."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
${indent(network.init, 8)}

    def forward(self, x):
${indent(network.forward, 8)}


def build_model(num_classes=NUM_CLASSES) -> nn.Module:
    """The network with fresh weights (the run's initializer); load the lab's state_dict into it."""
    return init_weights(${className}(num_classes))


if __name__ == '__main__':
    net = build_model().eval()
    logits, embedding = net(torch.rand(2, 1, INPUT_SIZE, INPUT_SIZE))
    print(net)
    print('logits', tuple(logits.shape), 'embedding', tuple(embedding.shape))
    assert list(net.state_dict().keys()) == STATE_DICT_KEYS
`;
}
