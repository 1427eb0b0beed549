// Argument parsers shared by the command-line commands.
import { InvalidArgumentError } from 'commander';
import { checkIdentityPattern } from '../../../datasets/layout';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** The network input sizes the lab supports: small enough to train on a CPU, no bigger than a face photo holds. */
export const INPUT_SIZE_RANGE = { min: 16, max: 512 } as const;

export function inputSizeArg(value: string): number {
  const n = Number(value);
  const { min, max } = INPUT_SIZE_RANGE;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a whole number of pixels from ${min} to ${max} (128 for the reference models, 64 or 32 on a CPU)`);
  }
  return n;
}

export function seedArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError('expected a whole number from 0 to 4294967295');
  return n;
}

export function fractionArg(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('expected a number between 0 and 1, e.g. 0.2');
  return n;
}

export function identityPatternArg(value: string): string {
  const problem = checkIdentityPattern(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}
