import { expect, test } from 'vitest';
import { parameterPattern, parameterProblem, splitActivation } from '../activation';
import { fieldErrors } from '../config-fields';

const OPTIONS = [
  { name: 'relu', example: 'relu', rule: 'zero' as const },
  { name: 'leaky_relu', example: 'leaky_relu:0.1', rule: 'cannot-die' as const },
  { name: 'rrelu', example: 'rrelu:0.125:0.333', rule: 'cannot-die' as const },
  { name: 'maxout', example: 'maxout:3', rule: 'pieces' as const },
  { name: 'mfm', example: 'mfm:3/2', rule: 'pieces' as const },
];

test('parameters are checked against the shape of the example', () => {
  expect(splitActivation('MFM:3/2')).toEqual({ name: 'mfm', param: '3/2' });
  expect(parameterPattern('relu')).toBeNull();
  expect(parameterPattern('mfm:3/2')?.test('2/1')).toBe(true);
  expect(parameterPattern('mfm:3/2')?.test('2')).toBe(false);
  expect(parameterPattern('rrelu:0.125:0.333')?.test('0.2')).toBe(true);
  expect(parameterPattern('rrelu:0.125:0.333')?.test('0.1:0.3')).toBe(true);
  expect(parameterPattern('rrelu:0.125:0.333')?.test('0.1:0.3:0.4')).toBe(false);
  const option = (name: string) => OPTIONS.find((o) => o.name === name);
  expect(parameterProblem(option('leaky_relu'), '1e-2')).toBe('');
  expect(parameterProblem(option('leaky_relu'), '')).toBe('');
  expect(parameterProblem(option('leaky_relu'), 'x')).toMatch(/expected a parameter like 0.1/);
  expect(parameterProblem(option('relu'), '2')).toBe('relu takes no parameter');
  expect(parameterProblem(option('maxout'), '4')).toBe('');
});

test('the trainer’s config complaints are split by field', () => {
  const known = new Set(['lr', 'layers', 'batch']);
  expect(fieldErrors('The training settings are not valid: lr: Too small: expected number to be >0; layers.group1.a: not a known activation; foo: bad', known)).toEqual({
    fields: { lr: 'Too small: expected number to be >0', 'layers.group1.a': 'not a known activation' },
    general: ['foo: bad'],
  });
  expect(fieldErrors('mfm:3/2 needs a width divisible by 2, got 75', known)).toEqual({ fields: {}, general: ['mfm:3/2 needs a width divisible by 2, got 75'] });
});
