// What viewers read from the training configuration's schema: each number setting's bounds
// and default (read from zod's own description of the schema, so a zod upgrade that changed
// it would show here first), the issues of a settings object by field, and its defaults.
import { describe, expect, test } from 'vitest';
import { configDefault, configIssues, numberBounds, trainConfigInputSchema, type TrainConfigKey } from '../train-config';

describe('numberBounds', () => {
  test('reads integer, inclusive and exclusive bounds and the default as the schema states them', () => {
    expect(numberBounds('batch')).toEqual({ integer: true, min: 1, max: 1024 });
    expect(numberBounds('lr')).toEqual({ integer: false, above: 0 });
    expect(numberBounds('holdOut')).toEqual({ integer: false, above: 0, below: 1, default: 0.2 });
    expect(numberBounds('maxSteps')).toEqual({ integer: true, min: 0, max: 1_000_000_000, default: 0 });
    expect(numberBounds('width')).toEqual({ integer: false, above: 0, max: 4, default: 1 });
    expect(numberBounds('inputSize')).toEqual({ integer: true, min: 16, max: 512 });
    expect(numberBounds('model')).toBeNull();
  });

  test('every bound read agrees with what the schema accepts and refuses', () => {
    const keys = Object.keys(trainConfigInputSchema.shape) as TrainConfigKey[];
    for (const key of keys) {
      const b = numberBounds(key);
      if (!b) continue;
      const ok = (v: number) => configIssues({ data: 'x', [key]: v }).length === 0;
      if (b.min !== undefined) expect([ok(b.min), ok(b.min - 1)], `${key} min`).toEqual([true, false]);
      if (b.max !== undefined) expect([ok(b.max), ok(b.max + 1)], `${key} max`).toEqual([true, false]);
      if (b.above !== undefined) expect(ok(b.above), `${key} above`).toBe(false);
      if (b.below !== undefined) expect(ok(b.below), `${key} below`).toBe(false);
      if (b.integer) expect(ok((b.min ?? 0) + 0.5), `${key} integer`).toBe(false);
    }
  });
});

test('defaults and issues by field', () => {
  expect(configDefault('model')).toBe('lightcnn9');
  expect(configDefault('activation')).toBe('mfm:2/1');
  expect(configDefault('lr')).toBeUndefined(); // the recipe decides it
  expect(configIssues({ data: 'x', batch: 0 })).toEqual([{ field: 'batch', message: expect.stringMatching(/>=1/) }]);
  expect(configIssues('not an object')).toEqual([{ field: 'config', message: expect.any(String) }]);
});
