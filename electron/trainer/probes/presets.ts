// Experiments that make the textbook effects of activation functions visible on real faces
// within minutes on a CPU (tiny or Model A networks at 32 px). Each is a training config;
// anything the user sets on top of a preset wins. The claims are what the lab lets you check,
// not promises: the closing numbers depend on data, seed and steps.
import { ConfigError, type TrainConfigInput } from '../training/config';

export interface Preset {
  readonly name: string;
  readonly title: string;
  /** What to look at, and what the literature says you should see. */
  readonly claim: string;
  /** Presets to run beside this one to see the contrast. */
  readonly compareWith: readonly string[];
  /** The training config, without the dataset. */
  readonly config: Omit<TrainConfigInput, 'data'>;
}

/** Plain SGD with momentum at a learning rate ten times the reference's, clipped only against blow-ups. */
const HIGH_LR = { model: 'tiny', inputSize: 32, batch: 32, epochs: 10, optimizer: 'sgd', lr: 0.1, momentum: 0.9, clipNorm: 5, schedule: 'constant' } as const;
const GENTLE = { model: 'tiny', inputSize: 32, batch: 32, epochs: 10, optimizer: 'sgd', lr: 0.01, momentum: 0.9, schedule: 'constant' } as const;

export const PRESETS: readonly Preset[] = [
  {
    name: 'relu-high-lr',
    title: 'ReLU at a high learning rate',
    claim:
      'Large updates push filters into the region where ReLU outputs 0 for every face; with a zero gradient they never come back. Watch the dead-filter curves climb (CS231n: up to 40% of a network can die).',
    compareWith: ['leaky-high-lr', 'prelu-high-lr', 'mfm-high-lr'],
    config: { ...HIGH_LR, activation: 'relu' },
  },
  {
    name: 'leaky-high-lr',
    title: 'Leaky ReLU at the same high learning rate',
    claim:
      'Leaky ReLU cannot die: below zero it still passes 1% of the gradient. Its filters may sit in the negative regime (shown as negative-regime filters), yet they keep learning.',
    compareWith: ['relu-high-lr'],
    config: { ...HIGH_LR, activation: 'leaky_relu:0.01' },
  },
  {
    name: 'prelu-high-lr',
    title: 'PReLU at the same high learning rate',
    claim: 'PReLU learns its negative slope per channel: it cannot die either. Watch the slopes in the layer-health table.',
    compareWith: ['relu-high-lr'],
    config: { ...HIGH_LR, activation: 'prelu' },
  },
  {
    name: 'mfm-high-lr',
    title: 'MFM (max-feature-map) at the same high learning rate',
    claim:
      "MFM keeps the larger of two filters at each position: a piece dies only if it loses everywhere. The Light CNN's activation; compare its dead pieces and win rates with ReLU's dead filters.",
    compareWith: ['relu-high-lr'],
    config: { ...HIGH_LR, activation: 'mfm:2/1' },
  },
  {
    name: 'sigmoid-saturation',
    title: 'Sigmoid saturation and vanishing gradients',
    claim:
      "A sigmoid's derivative is at most 0.25 and near 0 once |x| is large: the saturated fraction rises at a high learning rate, and the mean |gradient| shrinks layer by layer towards the input (compare conv1 with the fc).",
    compareWith: ['relu-high-lr'],
    config: { ...HIGH_LR, model: 'lightcnn4', inputSize: 64, width: 0.25, activation: 'sigmoid', clipNorm: 0 }, // Model A needs >= 57 px
  },
  {
    name: 'sigmoid-centring',
    title: 'Sigmoid is not zero-centred',
    claim: "Sigmoid outputs are all positive (means near 0.5), so the next layer's weight gradients share one sign per step and zig-zag. Compare the activation means with tanh's.",
    compareWith: ['tanh-centring'],
    config: { ...GENTLE, activation: 'sigmoid' },
  },
  {
    name: 'tanh-centring',
    title: 'Tanh is zero-centred',
    claim: 'Tanh outputs straddle zero (means near 0); otherwise it saturates like a sigmoid (its derivative peaks at 1, not 0.25).',
    compareWith: ['sigmoid-centring'],
    config: { ...GENTLE, activation: 'tanh' },
  },
  {
    name: 'maxout-cost',
    title: 'What maxout costs',
    claim:
      'Maxout with k pieces needs k times the filters before each activation: compare `lab summary --model tiny --input 32 --activation maxout:3` with `--activation relu` (parameters and MACs). It cannot saturate, and its pieces can still die (never win).',
    compareWith: ['relu-high-lr'],
    config: { ...GENTLE, activation: 'maxout:3' },
  },
];

export function findPreset(name: string): Preset {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) throw new ConfigError(`no preset "${name}"; the presets are ${PRESETS.map((p) => p.name).join(', ')}`);
  return preset;
}
