// Activation texts as the training config holds them ("relu", "leaky_relu:0.1", "mfm:3/2",
// "rrelu:0.125:0.333"), split into a name and a parameter for the pickers, and checked
// against the shape of the trainer's example for that activation (labInfo.activations).
// The trainer has the last word: it validates the config again.
import type { LabInfo } from '#protocol/workbench';

export type ActivationOption = LabInfo['activations'][number];

export function splitActivation(text: string): { name: string; param: string } {
  const at = text.indexOf(':');
  if (at < 0) return { name: text.trim().toLowerCase(), param: '' };
  return { name: text.slice(0, at).trim().toLowerCase(), param: text.slice(at + 1).trim() };
}

export function joinActivation(name: string, param: string): string {
  return param.trim() === '' ? name : `${name}:${param.trim()}`;
}

/** The parameter of the example ("0.01" for "leaky_relu:0.01"), '' when the activation takes none. */
export function exampleParam(option: ActivationOption | undefined): string {
  return option ? splitActivation(option.example).param : '';
}

const NUMBER = String.raw`(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A pattern for an activation's parameter, shaped like its example: numbers stay numbers,
 * everything else stays as written. Trailing ":"-separated parts may be left out (the
 * trainer fills their defaults): "rrelu:0.2" fits the example "rrelu:0.125:0.333".
 */
export function parameterPattern(example: string): RegExp | null {
  const { param } = splitActivation(example);
  if (param === '') return null;
  const segments = param.split(':').map((segment) =>
    segment
      .split(/(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/)
      .map((piece, i) => (i % 2 === 1 ? NUMBER : escape(piece)))
      .join(''),
  );
  const [first, ...rest] = segments;
  const tail = rest.reduceRight((inner, segment) => `(?::${segment}${inner})?`, '');
  return new RegExp(`^${first}${tail}$`);
}

/** What is wrong with a parameter for an activation, or '' when it looks right. */
export function parameterProblem(option: ActivationOption | undefined, param: string): string {
  if (!option || param.trim() === '') return '';
  const pattern = parameterPattern(option.example);
  if (!pattern) return `${option.name} takes no parameter`;
  return pattern.test(param.trim()) ? '' : `expected a parameter like ${exampleParam(option)} (as in ${option.example})`;
}

/** What "dead" means for an activation, in a line (DESIGN.md "Neurons, dead and alive"). */
export const RULE_TEXT: Record<ActivationOption['rule'], string> = {
  zero: 'a unit is dead when its output is exactly 0 for every input in the window',
  saturation: 'a unit is dead when it stays saturated (derivative below a small fraction of its maximum)',
  pieces: 'a piece is dead when it never wins the max',
  'cannot-die': 'cannot die (it always passes a gradient): the lab reports its negative-regime fraction instead',
};
