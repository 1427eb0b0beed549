import { expect, test } from 'vitest';
import { parameterPattern, parameterProblem, splitActivation } from '../activation';
import { configProblems, fieldErrors } from '../config-fields';
import { configIssues } from '#protocol/train-config';

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

test('the trainer’s config issues are split by field; a refusal without issues is one general problem', () => {
  const known = new Set(['lr', 'layers', 'batch']);
  const issues = [
    { field: 'lr', message: 'Too small: expected number to be >0' },
    { field: 'layers.group1.a', message: 'not a known activation' },
    { field: 'foo', message: 'bad' },
    { field: 'config', message: 'expected an object' },
  ];
  expect(fieldErrors(issues, known)).toEqual({
    fields: { lr: 'Too small: expected number to be >0', 'layers.group1.a': 'not a known activation' },
    general: ['foo: bad', 'expected an object'],
  });
  expect(configProblems({ message: 'The training settings are not valid: lr: ...', issues }, known).fields).toHaveProperty('lr');
  expect(configProblems({ message: 'mfm:3/2 needs a width divisible by 2, got 75' }, known)).toEqual({ fields: {}, general: ['mfm:3/2 needs a width divisible by 2, got 75'] });
});

test("the protocol's schema names each bad field as the trainer does", () => {
  const issues = configIssues({ data: 'x', lr: -1, layers: { 'group1.a': 'softsign' } });
  expect([...issues].sort((a, b) => a.field.localeCompare(b.field))).toEqual([
    { field: 'layers.group1.a', message: expect.stringMatching(/not a known activation/) },
    { field: 'lr', message: expect.stringMatching(/>0/) },
  ]);
  expect(configIssues({ data: 'x' })).toEqual([]);
});
