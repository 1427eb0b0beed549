// Every activation the lab knows, one entry each: how its text is parsed and written, an
// example, what it does in a line, how many channels the layer before must produce for it
// (its pieces), what "dead" means for it, and whether it draws random numbers in training.
// Everything else (the command line, the config schema, the model builder, the probes, the
// trainer's labInfo, the UI through the protocol) asks this table; a new activation is one
// entry here and one layer in index.ts' LAYERS.
//
// Plain data and functions, no tfjs: the protocol and the renderer import it. The layers
// themselves are in index.ts.

/** How an activation's unit can be dead (DESIGN.md "Neurons, dead and alive"). */
export const DEAD_RULES = ['zero', 'saturation', 'pieces', 'cannot-die'] as const;
export type DeadRule = (typeof DEAD_RULES)[number];

export const ACTIVATION_NAMES = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'prelu', 'rrelu', 'maxout', 'mfm', 'elu', 'selu', 'gelu', 'swish', 'mish'] as const;
export type ActivationName = (typeof ACTIVATION_NAMES)[number];

/** The parameterless activations (tfjs' Activation layer, or our PReLU). */
type PlainName = 'sigmoid' | 'tanh' | 'relu' | 'prelu' | 'elu' | 'selu' | 'gelu' | 'swish' | 'mish';

export type ActivationSpec =
  | { readonly name: PlainName }
  /** Slope for x < 0; ours defaults to 0.01 (tfjs' layer defaults to 0.3). */
  | { readonly name: 'leaky_relu'; readonly alpha: number }
  /** PyTorch's convention: training slope ~ U(lower, upper), evaluation slope (lower + upper) / 2. */
  | { readonly name: 'rrelu'; readonly lower: number; readonly upper: number }
  /** Max over k linear pieces: the layer before produces k x N channels. */
  | { readonly name: 'maxout'; readonly k: number }
  /** Max-feature-map: 2/1 keeps the larger of two halves; 3/2 keeps the top two of three thirds. */
  | { readonly name: 'mfm'; readonly variant: '2/1' | '3/2' };

/** The spec of one activation by name. */
export type SpecOf<N extends ActivationName> = N extends PlainName ? { readonly name: N } : Extract<ActivationSpec, { name: N }>;

export const LEAKY_RELU_DEFAULT_ALPHA = 0.01;
export const RRELU_DEFAULT_LOWER = 1 / 8;
export const RRELU_DEFAULT_UPPER = 1 / 3;

export class ActivationSpecError extends Error {
  override readonly name = 'ActivationSpecError';
}

/** Reads the ":"-separated parameters of `text` (the whole text, for messages). */
type Parse<N extends ActivationName> = (args: readonly string[], text: string) => SpecOf<N>;

export interface ActivationEntry<N extends ActivationName = ActivationName> {
  /** One line: what it computes. */
  readonly description: string;
  /** How its text looks with parameters ('leaky_relu:0.1'); the name alone when it takes none. */
  readonly example: string;
  readonly rule: DeadRule;
  /** Draws random numbers in training (seeded per step through `stepSeed`). */
  readonly stochastic: boolean;
  readonly parse: Parse<N>;
  readonly format: (spec: SpecOf<N>) => string;
  /**
   * Channels the layer before produces for N outputs: N x num / den. Keeping every layer's
   * *output* width fixed keeps runs with different activations comparable.
   */
  readonly channelFactor: (spec: SpecOf<N>) => { readonly num: number; readonly den: number };
  /** How many pieces compete for one output (1 unless the rule is 'pieces'). */
  readonly pieces: (spec: SpecOf<N>) => number;
  /** How many of them pass through: 1 (the max), or all but the smallest (MFM 3/2 keeps the top two of three). */
  readonly kept: (spec: SpecOf<N>) => number;
}

function number(value: string | undefined, what: string, text: string): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n)) throw new ActivationSpecError(`"${text}": ${what} must be a number`);
  return n;
}

const ONE = { num: 1, den: 1 } as const;

/** An activation without parameters. */
function plain<N extends PlainName>(name: N, rule: DeadRule, description: string): ActivationEntry<N> {
  return {
    description,
    example: name,
    rule,
    stochastic: false,
    parse: (args, text) => {
      if (args.length > 0) throw new ActivationSpecError(`"${text}": ${name} takes no parameters`);
      return { name } as SpecOf<N>;
    },
    format: () => name,
    channelFactor: () => ONE,
    pieces: () => 1,
    kept: () => 1,
  };
}

export const ACTIVATIONS: { readonly [N in ActivationName]: ActivationEntry<N> } = {
  sigmoid: plain('sigmoid', 'saturation', '1 / (1 + e^-x): saturates at 0 and 1'),
  tanh: plain('tanh', 'saturation', 'tanh(x): saturates at -1 and 1'),
  relu: plain('relu', 'zero', 'max(0, x): zero, and no gradient, below 0'),
  leaky_relu: {
    description: 'x above 0, alpha x below (alpha 0.01 unless given)',
    example: 'leaky_relu:0.1',
    rule: 'cannot-die',
    stochastic: false,
    parse: (args, text) => {
      const alpha = args[0] === undefined ? LEAKY_RELU_DEFAULT_ALPHA : number(args[0], 'the slope', text);
      if (!(alpha > 0 && alpha < 1)) throw new ActivationSpecError(`"${text}": the leaky slope must be between 0 and 1`);
      return { name: 'leaky_relu', alpha };
    },
    format: (spec) => `leaky_relu:${spec.alpha}`,
    channelFactor: () => ONE,
    pieces: () => 1,
    kept: () => 1,
  },
  prelu: plain('prelu', 'cannot-die', 'leaky ReLU whose negative slope is learned, one per channel'),
  rrelu: {
    description: 'leaky ReLU with a random slope in [lower, upper] in training, their mean in evaluation',
    example: 'rrelu:0.125:0.333',
    rule: 'cannot-die',
    stochastic: true,
    parse: (args, text) => {
      const lower = args[0] === undefined ? RRELU_DEFAULT_LOWER : number(args[0], 'the lower slope', text);
      const upper = args[1] === undefined ? RRELU_DEFAULT_UPPER : number(args[1], 'the upper slope', text);
      if (!(lower >= 0 && lower < upper && upper < 1)) throw new ActivationSpecError(`"${text}": need 0 <= lower < upper < 1`);
      return { name: 'rrelu', lower, upper };
    },
    format: (spec) => `rrelu:${spec.lower}:${spec.upper}`,
    channelFactor: () => ONE,
    pieces: () => 1,
    kept: () => 1,
  },
  maxout: {
    description: 'the max of k linear pieces (the layer before makes k x the channels)',
    example: 'maxout:3',
    rule: 'pieces',
    stochastic: false,
    parse: (args, text) => {
      const k = args[0] === undefined ? 2 : number(args[0], 'k', text);
      if (!Number.isInteger(k) || k < 2 || k > 5) throw new ActivationSpecError(`"${text}": maxout takes k = 2..5 pieces`);
      return { name: 'maxout', k };
    },
    format: (spec) => `maxout:${spec.k}`,
    channelFactor: (spec) => ({ num: spec.k, den: 1 }),
    pieces: (spec) => spec.k,
    kept: () => 1,
  },
  mfm: {
    description: "Light CNN's max-feature-map: 2/1 is maxout of 2 halves, 3/2 keeps the top two of three thirds",
    example: 'mfm:3/2',
    rule: 'pieces',
    stochastic: false,
    parse: (args, text) => {
      const variant = args.length === 0 ? '2/1' : args.join(':');
      if (variant !== '2/1' && variant !== '3/2') throw new ActivationSpecError(`"${text}": MFM is 2/1 or 3/2`);
      return { name: 'mfm', variant };
    },
    format: (spec) => `mfm:${spec.variant}`,
    channelFactor: (spec) => (spec.variant === '2/1' ? { num: 2, den: 1 } : { num: 3, den: 2 }),
    pieces: (spec) => (spec.variant === '2/1' ? 2 : 3),
    kept: (spec) => (spec.variant === '2/1' ? 1 : 2),
  },
  elu: plain('elu', 'saturation', 'x above 0, e^x - 1 below: saturates at -1'),
  selu: plain('selu', 'saturation', 'scaled ELU (self-normalising): saturates below 0'),
  gelu: plain('gelu', 'saturation', 'x Phi(x), exact (through erf)'),
  swish: plain('swish', 'saturation', 'x sigmoid(x) (SiLU)'),
  mish: plain('mish', 'saturation', 'x tanh(softplus(x))'),
};

/** The entry of `spec`'s activation. */
export function activationEntry(spec: ActivationSpec): ActivationEntry {
  // The table is keyed by name, so the entry found takes exactly this spec.
  return ACTIVATIONS[spec.name] as unknown as ActivationEntry;
}

/** Other names people type for an activation. */
const ALIASES: Readonly<Record<string, ActivationName>> = { leakyrelu: 'leaky_relu', leaky: 'leaky_relu', silu: 'swish' };

const isName = (name: string): name is ActivationName => (ACTIVATION_NAMES as readonly string[]).includes(name);

export function parseActivation(text: string): ActivationSpec {
  const [rawName = '', ...args] = text.trim().toLowerCase().split(':');
  const name = ALIASES[rawName] ?? rawName;
  if (!isName(name)) throw new ActivationSpecError(`unknown activation "${text}"; choose one of ${ACTIVATION_NAMES.join(', ')}`);
  return (ACTIVATIONS[name] as unknown as ActivationEntry).parse(args, text);
}

export function formatActivation(spec: ActivationSpec): string {
  return activationEntry(spec).format(spec);
}

export function channelFactor(spec: ActivationSpec): { readonly num: number; readonly den: number } {
  return activationEntry(spec).channelFactor(spec);
}

/** Channels the layer before must produce for `outputs` channels out of the activation. */
export function inputChannels(spec: ActivationSpec, outputs: number): number {
  const { num, den } = channelFactor(spec);
  if ((outputs * num) % den !== 0) throw new ActivationSpecError(`${formatActivation(spec)} needs a width divisible by ${den}, got ${outputs}`);
  return (outputs * num) / den;
}

export function deadRule(spec: ActivationSpec): DeadRule {
  return activationEntry(spec).rule;
}

/** How many pieces a pre-activation unit competes with (1 when the rule is not 'pieces'). */
export function pieceCount(spec: ActivationSpec): number {
  return activationEntry(spec).pieces(spec);
}

/** How many of an output's pieces pass through (see ActivationEntry.kept). */
export function piecesKept(spec: ActivationSpec): number {
  return activationEntry(spec).kept(spec);
}

/** True when the activation draws random numbers in training. */
export function isStochastic(spec: ActivationSpec): boolean {
  return activationEntry(spec).stochastic;
}
