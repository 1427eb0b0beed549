// The building blocks of the Light CNN family, as data. The PyTorch reference
// (AlfredXiangWu/LightCNN, light_cnn.py) writes every network from three modules:
//   mfm(in, out, k, s, p)  a conv (or linear) producing 2 x out channels, then max-feature-map;
//   group(in, out, k)      mfm(in, in, 1x1) then mfm(in, out, k x k, stride 1, pad (k-1)/2);
//   resblock(ch)           two mfm(ch, ch, 3x3, pad 1) and an identity add.
// Here the activation is not baked into the block: a "unit" is a conv or dense layer
// followed by an activation chosen per run (MFM 2/1 is the native one), and the
// layer before the activation produces as many channels as the activation needs to
// keep the unit's *output* width (N + relu, k x N + maxout, 2N + MFM).

/** A conv unit: `mfm(in, out, kernel, stride, pad)` of the reference, activation free. */
export interface ConvBlock {
  readonly type: 'conv';
  readonly name: string;
  readonly out: number;
  readonly kernel: number;
  readonly stride: number;
  /** Zero padding on every side, as PyTorch's `padding`. */
  readonly pad: number;
}

/** `group(in, out, k)`: a 1x1 unit `name.a` (in -> in), then a k x k unit `name.b` (in -> out), stride 1, same size. */
export interface GroupBlock {
  readonly type: 'group';
  readonly name: string;
  readonly out: number;
  readonly kernel: number;
}

/** `resblock(ch)`: 3x3 units `name.a` and `name.b` (ch -> ch), plus the block's input. */
export interface ResBlock {
  readonly type: 'resblock';
  readonly name: string;
}

/**
 * 2x2 pooling with stride 2. `max` with ceil rounding is `nn.MaxPool2d(2, 2, ceil_mode=True)`
 * (and Caffe's pooling); `max+avg` with floor rounding is v2's `F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)`.
 */
export interface PoolBlock {
  readonly type: 'pool';
  readonly name: string;
  readonly mode: 'max' | 'max+avg';
  readonly rounding: 'ceil' | 'floor';
}

/** A fully connected unit over the flattened features; its output is the embedding. */
export interface FcBlock {
  readonly type: 'fc';
  readonly name: string;
  readonly out: number;
  /** false: a plain Linear with no activation (LightCNN-29 v2). */
  readonly activation: boolean;
}

export type Block = ConvBlock | GroupBlock | ResBlock | PoolBlock | FcBlock;

export interface Architecture {
  readonly name: string;
  readonly title: string;
  /** Where the definition comes from, for the summary and the UI. */
  readonly source: string;
  /** Feature blocks; the last one is the fc that gives the embedding. */
  readonly blocks: readonly Block[];
  /** The final classifier's bias (v2's `fc2` has none). */
  readonly classifierBias: boolean;
  /** How the PyTorch reference names its modules (torch-layout.ts maps the lab's layers onto them). */
  readonly torch: TorchNaming;
}

/**
 * The reference's module names. 'sequential' (network_9layers): the feature blocks are
 * `features.<index>` of one nn.Sequential, pools counted; 'modules' (network_29layers, v2): each
 * block is an attribute (`conv1`, `block2.0`, `group3`). `fc` is the embedding layer's name
 * (`fc1` in LightCNN-9, `fc` in LightCNN-29); the classifier is `fc2` in both.
 */
export interface TorchNaming {
  readonly layout: 'sequential' | 'modules';
  readonly fc: string;
}

// ---------------------------------------------------------------- constructors

export const conv = (name: string, out: number, kernel: number, stride = 1, pad = 0): ConvBlock => ({ type: 'conv', name, out, kernel, stride, pad });

export const group = (name: string, out: number, kernel = 3): GroupBlock => ({ type: 'group', name, out, kernel });

/** `count` residual blocks of stage `stage`, named res{stage}_1 .. res{stage}_{count}. */
export const resblocks = (stage: number, count: number): ResBlock[] =>
  Array.from({ length: count }, (_, i) => ({ type: 'resblock', name: `res${stage}_${i + 1}` }) as const);

/** `nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)`. */
export const maxPool = (name: string): PoolBlock => ({ type: 'pool', name, mode: 'max', rounding: 'ceil' });

/** `F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)` (floor rounding, PyTorch's default). */
export const maxAvgPool = (name: string): PoolBlock => ({ type: 'pool', name, mode: 'max+avg', rounding: 'floor' });

export const fc = (name: string, out: number, options: { activation?: boolean } = {}): FcBlock => ({ type: 'fc', name, out, activation: options.activation ?? true });

// ---------------------------------------------------------------- derived facts

/** A conv or dense layer followed by an activation: what an activation override names. */
export interface Unit {
  readonly name: string;
  readonly block: string;
  readonly layer: 'conv' | 'dense';
}

/** Every unit that takes an activation, in order (v2's plain fc is not one). */
export function activationUnits(blocks: readonly Block[]): Unit[] {
  return blocks.flatMap((block) => kindOf(block).units(block));
}

/** Output side of a k x k window with stride s and padding p, PyTorch's formula. */
export function convOutputSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

export function poolOutputSize(size: number, rounding: 'ceil' | 'floor'): number {
  return rounding === 'ceil' ? Math.ceil(size / 2) : Math.floor(size / 2);
}

export interface SpatialStep {
  readonly block: string;
  /** What the block does to the map, e.g. "9x9 conv" or "2x2 pool". */
  readonly what: string;
  readonly inputSize: number;
  readonly outputSize: number;
}

/** The side of the square map after every block, for a square input of `inputSize`. */
export function traceSpatial(blocks: readonly Block[], inputSize: number): SpatialStep[] {
  const steps: SpatialStep[] = [];
  let size = inputSize;
  for (const block of blocks) {
    const { outputSize, what } = kindOf(block).trace(block, size);
    steps.push({ block: block.name, what, inputSize: size, outputSize });
    size = outputSize;
  }
  return steps;
}

/** The first block whose output would be empty at `inputSize`, or undefined when all fit. */
export function firstEmptyStep(blocks: readonly Block[], inputSize: number): SpatialStep | undefined {
  return traceSpatial(blocks, inputSize).find((step) => step.outputSize < 1);
}

/** The smallest square input the blocks accept. */
export function minimumInputSize(blocks: readonly Block[]): number {
  for (let size = 1; size <= 4096; size++) if (firstEmptyStep(blocks, size) === undefined) return size;
  return Number.POSITIVE_INFINITY;
}

// ---------------------------------------------------------------- one entry per block type

/** What a block type means as data: its activation units and what it does to the map. (How it is built with tfjs is its entry in lightcnn.ts' BUILDERS.) */
export interface BlockKind<B extends Block> {
  units(block: B): Unit[];
  /** The map's side after the block, for `size` before it, and what the block does in a few words. */
  trace(block: B, size: number): { readonly outputSize: number; readonly what: string };
}

export type BlockOf<T extends Block['type']> = Extract<Block, { type: T }>;

/** Both units of a group or residual block. */
const pair = (block: GroupBlock | ResBlock): Unit[] => [
  { name: `${block.name}.a`, block: block.name, layer: 'conv' },
  { name: `${block.name}.b`, block: block.name, layer: 'conv' },
];

export const BLOCK_KINDS: { readonly [T in Block['type']]: BlockKind<BlockOf<T>> } = {
  conv: {
    units: (block) => [{ name: block.name, block: block.name, layer: 'conv' }],
    trace: (block, size) => ({ outputSize: convOutputSize(size, block.kernel, block.stride, block.pad), what: `${block.kernel}x${block.kernel} conv` }),
  },
  group: {
    units: pair,
    // 1x1, then k x k with padding (k - 1) / 2 and stride 1: the size is kept.
    trace: (block, size) => ({ outputSize: size, what: `${block.kernel}x${block.kernel} group` }),
  },
  resblock: {
    units: pair,
    trace: (_block, size) => ({ outputSize: size, what: '3x3 residual block' }),
  },
  pool: {
    units: () => [],
    trace: (block, size) => ({ outputSize: size >= 2 || block.rounding === 'ceil' ? poolOutputSize(size, block.rounding) : 0, what: '2x2 pool' }),
  },
  fc: {
    units: (block) => (block.activation ? [{ name: block.name, block: block.name, layer: 'dense' }] : []),
    trace: (_block, size) => ({ outputSize: size, what: 'fc' }),
  },
};

/** The entry of `block`'s type (the table is keyed by type, so it takes exactly this block). */
function kindOf(block: Block): BlockKind<Block> {
  return BLOCK_KINDS[block.type] as BlockKind<Block>;
}
