// Experiments that make the textbook effects of activation functions visible on real faces
// within about a minute on a 2-core CPU (the tiny network at 32 px, 600-700 steps). Each is a
// training config; anything the user sets on top of a preset wins. Every preset names all the
// settings a recipe would otherwise choose (protocol/train-recipes.ts), so a change of recipe does not change
// an experiment. The claims say what the lab shows on ORL, and where that differs from the
// literature they say so: `npm run experiments` (bench/experiments.ts) runs every preset and
// checks each claim against the statistics it recorded (bench/NOTES.md, "Preset experiments").
import { ConfigError, type TrainConfigInput } from './config';

export interface Preset {
  readonly name: string;
  readonly title: string;
  /** What to look at, what the literature says you should see, and what the lab shows. */
  readonly claim: string;
  /** Presets to run beside this one to see the contrast. */
  readonly compareWith: readonly string[];
  /** The training config, without the dataset. */
  readonly config: Omit<TrainConfigInput, 'data'>;
}

/**
 * Adam at ten times the tiny recipe's rate (1e-2), constant, no warm-up, clipped only against
 * blow-ups: 600 steps on ORL. (Plain SGD at 0.1 with momentum 0.9 killed ReLU filters too, but
 * leaky ReLU stayed at chance, PReLU blew up and MFM diverged there: no fair comparison.)
 */
const HIGH_LR = { model: 'tiny', inputSize: 32, batch: 32, epochs: 60, optimizer: 'adam', lr: 0.01, clipNorm: 5, schedule: 'constant', warmupSteps: 0 } as const;

/**
 * The reference's SGD (lr 0.01, momentum 0.9: Light CNN's, AlexNet's and He et al. 2015's),
 * constant, no warm-up, clipped only against blow-ups: 700 steps on ORL.
 */
const REFERENCE_SGD = { model: 'tiny', inputSize: 32, batch: 32, epochs: 70, optimizer: 'sgd', lr: 0.01, momentum: 0.9, clipNorm: 5, schedule: 'constant', warmupSteps: 0 } as const;

const SPEED_CLAIM =
  'AlexNet (Krizhevsky et al. 2012, Figure 1): a ReLU network reaches the same training error about six times faster than the same network with tanh. ' +
  'speed-relu, speed-tanh and speed-sigmoid differ only in the activation (tiny at 32 px, the reference SGD); compare the steps each needs to bring the training loss to half of chance (ln C / 2). ' +
  "On ORL from PyTorch's initialisation this does not reproduce: tanh gets there first, ReLU later, and the sigmoid network does not leave chance within the run.";

export const PRESETS: readonly Preset[] = [
  {
    name: 'relu-high-lr',
    title: 'ReLU at a high learning rate',
    claim:
      'Large updates push filters into the region where ReLU outputs 0 for every face; with a zero gradient they rarely come back. Watch the dead-filter counts climb: on ORL most of the conv filters die within the run ' +
      '(CS231n: up to 40% of a network can die), against a few at the reference rate (speed-relu). On ORL the network still learns on the filters left alive; but a whole layer can die, and then nothing learns: ' +
      "on the synthetic set every filter of group1.b dies and the loss stays at chance (at lr 5e-3 it is ORL's network that dies and the synthetic one that learns: which layer dies first is luck).",
    compareWith: ['leaky-high-lr', 'prelu-high-lr', 'mfm-high-lr'],
    config: { ...HIGH_LR, activation: 'relu' },
  },
  {
    name: 'leaky-high-lr',
    title: 'Leaky ReLU at the same high learning rate',
    claim:
      "Leaky ReLU cannot die: below zero it still passes 1% of the gradient. Some filters sit in the negative regime (shown as negative-regime filters: the ones ReLU's rule would call dead), yet every layer keeps a gradient and the network learns.",
    compareWith: ['relu-high-lr'],
    config: { ...HIGH_LR, activation: 'leaky_relu:0.01' },
  },
  {
    name: 'prelu-high-lr',
    title: 'PReLU at the same high learning rate',
    claim:
      'PReLU learns its negative slope per channel: it cannot die either. Watch the slopes in the layer-health table: from 0.25, at this rate they fall with depth (the first conv layer keeps the largest), ' +
      'as He et al. 2015 found; at the reference rate (prelu-depth) they do not.',
    compareWith: ['relu-high-lr', 'prelu-depth'],
    config: { ...HIGH_LR, activation: 'prelu' },
  },
  {
    name: 'mfm-high-lr',
    title: 'MFM (max-feature-map) at the same high learning rate',
    claim:
      "MFM keeps the larger of two filters at each position: a piece dies only if it loses everywhere. The Light CNN's activation; compare its dead pieces with ReLU's dead filters: on ORL hardly any die. " +
      'Watch the win rates too: both halves of every layer keep winning, though not evenly (in one layer the smaller half wins only about a fifth of the positions).',
    compareWith: ['relu-high-lr'],
    config: { ...HIGH_LR, activation: 'mfm:2/1' },
  },
  {
    name: 'sigmoid-saturation',
    title: 'Sigmoid saturation and vanishing gradients',
    claim:
      "A sigmoid's derivative is at most 0.25 and near 0 once |x| is large. At this high rate the saturated fraction rises, most in the embedding (pushed against 0, as Glorot & Bengio 2010 saw in the top hidden layer) and on ORL in the last conv layer, " +
      'and the mean |gradient| shrinks layer by layer towards the input (compare conv1 with the embedding). On ORL the network stays at chance: saturation stops it learning.',
    compareWith: ['relu-high-lr', 'sigmoid-centring'],
    config: { ...HIGH_LR, activation: 'sigmoid' },
  },
  {
    name: 'sigmoid-centring',
    title: 'Sigmoid is not zero-centred',
    claim:
      "Sigmoid outputs are all positive, so the next layer's weight gradients share one sign per output and zig-zag (LeCun et al. 1998). Compare the activation means with tanh's: the conv layers' sit near 0.5, " +
      "while the embedding's is pushed towards 0 (Glorot & Bengio 2010). From PyTorch's initialisation at the reference rate the sigmoid network does not leave chance within the run; tanh learns.",
    compareWith: ['tanh-centring'],
    config: { ...REFERENCE_SGD, activation: 'sigmoid' },
  },
  {
    name: 'tanh-centring',
    title: 'Tanh is zero-centred',
    claim: 'Tanh outputs straddle zero (means near 0); otherwise it saturates like a sigmoid (its derivative peaks at 1, not 0.25). At the same settings as sigmoid-centring it learns.',
    compareWith: ['sigmoid-centring'],
    config: { ...REFERENCE_SGD, activation: 'tanh' },
  },
  {
    name: 'maxout-cost',
    title: 'What maxout costs',
    claim:
      'Maxout with k pieces needs k times the filters before each activation: compare `lab summary --model tiny --input 32 --activation maxout:3` with `--activation relu` (parameters and MACs). It cannot saturate, and its pieces can still die (never win).',
    compareWith: ['relu-high-lr'],
    config: { ...REFERENCE_SGD, activation: 'maxout:3' },
  },
  {
    name: 'speed-relu',
    title: 'Convergence speed: ReLU',
    claim: SPEED_CLAIM,
    compareWith: ['speed-tanh', 'speed-sigmoid'],
    config: { ...REFERENCE_SGD, activation: 'relu' },
  },
  {
    name: 'speed-tanh',
    title: 'Convergence speed: tanh',
    claim: SPEED_CLAIM,
    compareWith: ['speed-relu', 'speed-sigmoid'],
    config: { ...REFERENCE_SGD, activation: 'tanh' },
  },
  {
    name: 'speed-sigmoid',
    title: 'Convergence speed: sigmoid',
    claim: SPEED_CLAIM,
    compareWith: ['speed-relu', 'speed-tanh'],
    config: { ...REFERENCE_SGD, activation: 'sigmoid' },
  },
  {
    name: 'prelu-depth',
    title: 'PReLU slopes by depth',
    claim:
      'He et al. 2015 found the learned slopes larger in the first conv layers (0.68 and 0.60) than in the deep ones, which become more nonlinear. Here with their SGD (lr 0.01, momentum 0.9, slopes without weight decay) ' +
      'from 0.25; read the slopes by layer in the layer-health table. On ORL in the tiny network they grow with depth instead at this rate; at the high rate (prelu-high-lr) they fall with depth.',
    compareWith: ['prelu-high-lr'],
    config: { ...REFERENCE_SGD, activation: 'prelu' },
  },
  {
    name: 'rrelu-slopes',
    title: 'RReLU: random slopes in training, their mean in evaluation',
    claim:
      'Randomised leaky ReLU (Xu et al. 2015): in training every negative input gets its own slope drawn from U(1/8, 1/3), new at every step; in evaluation the slope is fixed at their mean, 11/48 = 0.229. Like leaky ReLU it cannot die.',
    compareWith: ['leaky-high-lr'],
    config: { ...REFERENCE_SGD, activation: 'rrelu' },
  },
];

export function findPreset(name: string): Preset {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) throw new ConfigError(`no preset "${name}"; the presets are ${PRESETS.map((p) => p.name).join(', ')}`);
  return preset;
}
