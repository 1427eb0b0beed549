// Which activation a layer uses, as data: parsed from the command line
// (`relu`, `leaky_relu:0.1`, `maxout:3`, `mfm:3/2`, `rrelu:0.125:0.333`), stored in
// run.json, shown in the UI. The layer itself is made by `createActivation`.

export const ACTIVATION_NAMES = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'prelu', 'rrelu', 'maxout', 'mfm', 'elu', 'selu', 'gelu', 'swish', 'mish'] as const;
export type ActivationName = (typeof ACTIVATION_NAMES)[number];

export type ActivationSpec =
  | { readonly name: 'sigmoid' | 'tanh' | 'relu' | 'prelu' | 'elu' | 'selu' | 'gelu' | 'swish' | 'mish' }
  /** Slope for x < 0; ours defaults to 0.01 (tfjs' layer defaults to 0.3). */
  | { readonly name: 'leaky_relu'; readonly alpha: number }
  /** PyTorch's convention: training slope ~ U(lower, upper), evaluation slope (lower + upper) / 2. */
  | { readonly name: 'rrelu'; readonly lower: number; readonly upper: number }
  /** Max over k linear pieces: the layer before produces k x N channels. */
  | { readonly name: 'maxout'; readonly k: number }
  /** Max-feature-map: 2/1 keeps the larger of two halves; 3/2 keeps the top two of three thirds. */
  | { readonly name: 'mfm'; readonly variant: '2/1' | '3/2' };

export const LEAKY_RELU_DEFAULT_ALPHA = 0.01;
export const RRELU_DEFAULT_LOWER = 1 / 8;
export const RRELU_DEFAULT_UPPER = 1 / 3;

export class ActivationSpecError extends Error {
  override readonly name = 'ActivationSpecError';
}

export function parseActivation(text: string): ActivationSpec {
  const [rawName, ...args] = text.trim().toLowerCase().split(':');
  const name = rawName === 'leakyrelu' || rawName === 'leaky' ? 'leaky_relu' : rawName === 'silu' ? 'swish' : rawName;
  const number = (value: string | undefined, what: string): number => {
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n)) throw new ActivationSpecError(`"${text}": ${what} must be a number`);
    return n;
  };
  switch (name) {
    case 'leaky_relu': {
      const alpha = args[0] === undefined ? LEAKY_RELU_DEFAULT_ALPHA : number(args[0], 'the slope');
      if (!(alpha > 0 && alpha < 1)) throw new ActivationSpecError(`"${text}": the leaky slope must be between 0 and 1`);
      return { name, alpha };
    }
    case 'rrelu': {
      const lower = args[0] === undefined ? RRELU_DEFAULT_LOWER : number(args[0], 'the lower slope');
      const upper = args[1] === undefined ? RRELU_DEFAULT_UPPER : number(args[1], 'the upper slope');
      if (!(lower >= 0 && lower < upper && upper < 1)) throw new ActivationSpecError(`"${text}": need 0 <= lower < upper < 1`);
      return { name, lower, upper };
    }
    case 'maxout': {
      const k = args[0] === undefined ? 2 : number(args[0], 'k');
      if (!Number.isInteger(k) || k < 2 || k > 5) throw new ActivationSpecError(`"${text}": maxout takes k = 2..5 pieces`);
      return { name, k };
    }
    case 'mfm': {
      const variant = args.length === 0 ? '2/1' : args.join(':');
      if (variant !== '2/1' && variant !== '3/2') throw new ActivationSpecError(`"${text}": MFM is 2/1 or 3/2`);
      return { name, variant };
    }
    case 'sigmoid':
    case 'tanh':
    case 'relu':
    case 'prelu':
    case 'elu':
    case 'selu':
    case 'gelu':
    case 'swish':
    case 'mish':
      if (args.length > 0) throw new ActivationSpecError(`"${text}": ${name} takes no parameters`);
      return { name };
    default:
      throw new ActivationSpecError(`unknown activation "${text}"; choose one of ${ACTIVATION_NAMES.join(', ')}`);
  }
}

export function formatActivation(spec: ActivationSpec): string {
  switch (spec.name) {
    case 'leaky_relu':
      return `leaky_relu:${spec.alpha}`;
    case 'rrelu':
      return `rrelu:${spec.lower}:${spec.upper}`;
    case 'maxout':
      return `maxout:${spec.k}`;
    case 'mfm':
      return `mfm:${spec.variant}`;
    default:
      return spec.name;
  }
}

/**
 * How many channels the layer before must produce for N outputs: N x num / den.
 * Keeping every layer's *output* width fixed keeps runs with different activations comparable.
 */
export function channelFactor(spec: ActivationSpec): { readonly num: number; readonly den: number } {
  if (spec.name === 'maxout') return { num: spec.k, den: 1 };
  if (spec.name === 'mfm') return spec.variant === '2/1' ? { num: 2, den: 1 } : { num: 3, den: 2 };
  return { num: 1, den: 1 };
}

/** Channels the layer before must produce for `outputs` channels out of the activation. */
export function inputChannels(spec: ActivationSpec, outputs: number): number {
  const { num, den } = channelFactor(spec);
  if ((outputs * num) % den !== 0) throw new ActivationSpecError(`${formatActivation(spec)} needs a width divisible by ${den}, got ${outputs}`);
  return (outputs * num) / den;
}
