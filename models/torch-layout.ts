// The lab's weights under the PyTorch reference's names and layouts (AlfredXiangWu/LightCNN,
// light_cnn.py), both ways: what `lab import` reads from a state_dict and what `lab export`
// writes into one, the ONNX graph and the generated model.py.
//
// Names. Every unit (a conv or dense layer, then its activation) is the reference's `mfm`
// module: its linear layer is `<module>.filter`, and an activation with weights (PReLU) is
// `<module>.act`. Where a unit sits follows the architecture's TorchNaming:
//   sequential (LightCNN-9, -4, tiny): features.<i> for a conv unit, features.<i>.conv_a and
//     features.<i>.conv for a group (1x1 then k x k), pools counted in <i>; fc1 for the embedding;
//   modules (LightCNN-29, v2): conv1, group<I>.conv_a / group<I>.conv, block<S>.<J-1>.conv1 /
//     .conv2 for residual block res<S>_<J>, fc for the embedding (v2: a plain nn.Linear, `fc`);
//   the classifier is fc2 in both.
// Layouts. tfjs is channels-last, PyTorch channels-first:
//   conv kernel  lab [kh, kw, in, out]   torch [out, in, kh, kw]
//   dense kernel lab [in, out]           torch [out, in]
//   the fc's input is the flattened map: the lab flattens H, W, C, PyTorch C, H, W, so the
//   fc kernel's input index is permuted as well.
import type { BuiltModel } from './lightcnn';
import type { Block, TorchNaming } from './lightcnn-blocks';

export type TorchConversion = 'conv-kernel' | 'dense-kernel' | 'flatten-dense-kernel' | 'vector';

export interface TorchParam {
  /** The state_dict key, e.g. `features.2.conv_a.filter.weight`. */
  readonly torch: string;
  /** The lab's weight (a tfjs variable's original name), e.g. `group1.a/kernel`. */
  readonly lab: string;
  readonly labShape: readonly number[];
  readonly torchShape: readonly number[];
  readonly conversion: TorchConversion;
  /** The map flattened into the fc (flatten-dense-kernel only): rows, columns, channels. */
  readonly flattened?: { readonly height: number; readonly width: number; readonly channels: number };
  /** The identity classifier (fc2), which an embedding-only file may lack. */
  readonly classifier: boolean;
  /** In words, for messages: "group1.a's 1x1 conv kernel (48 -> 96 channels)". */
  readonly what: string;
}

/**
 * Where each block's units sit in the reference's module tree (`group1.a` -> `features.2.conv_a`),
 * from the blocks alone. v2's plain fc is no unit, so it is not here (it is `fc`, a bare Linear).
 */
export function torchModulesOfBlocks(blocks: readonly Block[], naming: TorchNaming): Map<string, string> {
  const { layout, fc: fcName } = naming;
  const modules = new Map<string, string>();
  let index = 0;
  for (const block of blocks) {
    const base = block.type === 'fc' ? fcName : layout === 'sequential' ? `features.${index}` : moduleOf(block);
    if (block.type !== 'fc') index++;
    switch (block.type) {
      case 'conv':
        modules.set(block.name, base);
        break;
      case 'group':
        modules.set(`${block.name}.a`, `${base}.conv_a`);
        modules.set(`${block.name}.b`, `${base}.conv`);
        break;
      case 'resblock':
        modules.set(`${block.name}.a`, `${base}.conv1`);
        modules.set(`${block.name}.b`, `${base}.conv2`);
        break;
      case 'fc':
        if (block.activation) modules.set(block.name, base);
        break;
      case 'pool':
        break;
    }
  }
  return modules;
}

/** A block's attribute name in the 'modules' layout: res<S>_<J> is block<S>.<J-1>. */
function moduleOf(block: Block): string {
  const residual = /^res(\d+)_(\d+)$/.exec(block.name);
  if (block.type === 'resblock' && residual) return `block${residual[1]}.${Number(residual[2]) - 1}`;
  return block.name;
}

/** The reference's module path of each of the model's units (`group1.a` -> `features.2.conv_a`). */
export function torchModuleOfUnits(built: Pick<BuiltModel, 'architecture'>): ReadonlyMap<string, string> {
  return torchModulesOfBlocks(built.architecture.blocks, built.architecture.torch);
}

const shapeText = (shape: readonly number[]) => shape.join('x');

/** Every weight of `built` with its state_dict name and layout, in the reference's module order. */
export function torchParams(built: BuiltModel): TorchParam[] {
  const { architecture, model } = built;
  const modules = torchModuleOfUnits(built);
  const params: TorchParam[] = [];
  const weightOf = (layer: string, suffix: string) => {
    const weight = model.getLayer(layer).weights.find((w) => w.originalName === `${layer}/${suffix}`);
    if (weight === undefined) throw new Error(`internal: ${layer} has no ${suffix}`);
    return { lab: weight.originalName, labShape: weight.shape as number[] };
  };
  const flattenShape = model.getLayer('flatten').input as { shape: readonly (number | null)[] } | undefined;
  for (const block of architecture.blocks) {
    const units = built.units.filter((u) => u.unit === block.name || u.unit.startsWith(`${block.name}.`));
    if (block.type === 'fc' && !block.activation) {
      // v2: a plain Linear, no unit.
      const module = architecture.torch.fc;
      params.push(...linearParams(block.name, module, weightOf, 'flatten-dense-kernel', flattenShape?.shape));
      continue;
    }
    for (const unit of units) {
      const module = modules.get(unit.unit);
      if (module === undefined) throw new Error(`internal: no reference module for ${unit.unit}`);
      const kind = block.type === 'fc' ? 'flatten-dense-kernel' : 'conv-kernel';
      params.push(...linearParams(unit.unit, `${module}.filter`, weightOf, kind, flattenShape?.shape));
      const act = model.getLayer(unit.layer).weights[0];
      if (act !== undefined) {
        params.push({
          torch: `${module}.act.weight`,
          lab: act.originalName,
          labShape: act.shape as number[],
          torchShape: act.shape as number[],
          conversion: 'vector',
          classifier: false,
          what: `${unit.unit}'s PReLU slopes (${act.shape[0]} channels)`,
        });
      }
    }
  }
  params.push(...linearParams('classifier', 'fc2', weightOf, 'dense-kernel', undefined).map((p) => ({ ...p, classifier: true })));
  return params;
}

type WeightOf = (layer: string, suffix: string) => { lab: string; labShape: number[] };

function linearParams(layer: string, module: string, weightOf: WeightOf, kind: 'conv-kernel' | 'dense-kernel' | 'flatten-dense-kernel', flattenShape: readonly (number | null)[] | undefined): TorchParam[] {
  const kernel = weightOf(layer, 'kernel');
  const params: TorchParam[] = [];
  if (kind === 'conv-kernel') {
    const [kh, kw, cin, cout] = kernel.labShape as [number, number, number, number];
    params.push({ torch: `${module}.weight`, ...kernel, torchShape: [cout, cin, kh, kw], conversion: kind, classifier: false, what: `${layer}'s ${kh}x${kw} conv kernel (${cin} -> ${cout} channels)` });
  } else {
    const [fanIn, fanOut] = kernel.labShape as [number, number];
    let flattened: TorchParam['flattened'];
    if (kind === 'flatten-dense-kernel') {
      const [, height, width, channels] = (flattenShape ?? []) as [unknown, number, number, number];
      flattened = { height, width, channels };
    }
    const from = flattened ? `${flattened.channels}x${flattened.height}x${flattened.width} = ${fanIn}` : `${fanIn}`;
    params.push({ torch: `${module}.weight`, ...kernel, torchShape: [fanOut, fanIn], conversion: kind, ...(flattened ? { flattened } : {}), classifier: false, what: `${layer}'s linear weights (${from} -> ${fanOut})` });
  }
  const bias = weightOfOptional(weightOf, layer, 'bias');
  if (bias) params.push({ torch: `${module}.bias`, ...bias, torchShape: bias.labShape, conversion: 'vector', classifier: false, what: `${layer}'s bias (${bias.labShape[0]})` });
  return params;
}

function weightOfOptional(weightOf: WeightOf, layer: string, suffix: string) {
  try {
    return weightOf(layer, suffix);
  } catch {
    return undefined;
  }
}

/** `param`'s values from the lab's layout (row-major `labShape`) to PyTorch's (`torchShape`). */
export function labToTorch(param: TorchParam, values: Float32Array): Float32Array {
  return permute(param, values, 'to-torch');
}

/** `param`'s values from PyTorch's layout to the lab's. */
export function torchToLab(param: TorchParam, values: Float32Array): Float32Array {
  return permute(param, values, 'to-lab');
}

function permute(param: TorchParam, values: Float32Array, direction: 'to-torch' | 'to-lab'): Float32Array {
  const size = param.labShape.reduce((a, b) => a * b, 1);
  if (values.length !== size) throw new Error(`${param.torch}: ${values.length} values for a ${shapeText(param.labShape)} tensor`);
  const out = new Float32Array(size);
  // index(lab) -> index(torch) for every element; the same map read both ways.
  const move = (labIndex: number, torchIndex: number) => {
    if (direction === 'to-torch') out[torchIndex] = values[labIndex] as number;
    else out[labIndex] = values[torchIndex] as number;
  };
  switch (param.conversion) {
    case 'vector':
      out.set(values);
      return out;
    case 'conv-kernel': {
      const [kh, kw, cin, cout] = param.labShape as [number, number, number, number];
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          for (let i = 0; i < cin; i++)
            for (let o = 0; o < cout; o++) move(((y * kw + x) * cin + i) * cout + o, ((o * cin + i) * kh + y) * kw + x);
      return out;
    }
    case 'dense-kernel': {
      const [fanIn, fanOut] = param.labShape as [number, number];
      for (let i = 0; i < fanIn; i++) for (let o = 0; o < fanOut; o++) move(i * fanOut + o, o * fanIn + i);
      return out;
    }
    case 'flatten-dense-kernel': {
      const [fanIn, fanOut] = param.labShape as [number, number];
      const { height, width, channels } = param.flattened ?? { height: 1, width: 1, channels: fanIn };
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++)
          for (let c = 0; c < channels; c++) {
            const labRow = (y * width + x) * channels + c;
            const torchColumn = (c * height + y) * width + x;
            for (let o = 0; o < fanOut; o++) move(labRow * fanOut + o, o * fanIn + torchColumn);
          }
      return out;
    }
  }
}
