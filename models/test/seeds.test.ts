// One seed mixer for initial weights and per-step randomness; its numbers are pinned:
// changing them would change every initial weight and every dropout mask of a run.
import { afterEach, describe, expect, test } from 'vitest';
import { layerSeed } from '../lightcnn';
import { finalizeHash, hashString, mixSeed } from '../seeds';
import { setTrainingStep, stepSeed } from '../step-random';

afterEach(() => setTrainingStep(0, 0));

describe('seeds', () => {
  test('layerSeed gives the values it gave before (initial weights unchanged)', () => {
    expect([layerSeed(1, 'conv1'), layerSeed(1, 'classifier'), layerSeed(42, 'group1.b'), layerSeed(0xffffffff, '')]).toEqual([4256708100, 3051089500, 3126258434, 1554829466]);
  });

  test('stepSeed gives the values it gave before (dropout masks and RReLU slopes unchanged)', () => {
    const cases = [
      [1, 0, 'dropout'],
      [1, 1, 'dropout'],
      [7, 812, 'conv2.act'],
      [0xffffffff, 123456, 'res2_1.a.act'],
    ] as const;
    const seeds = cases.map(([seed, step, name]) => {
      setTrainingStep(seed, step);
      return stepSeed(name);
    });
    expect(seeds).toEqual([3544576916, 2709006158, 1292849092, 3080863487]);
  });

  test('both are the one mixer of ./seeds', () => {
    for (const name of ['conv1', 'embedding', 'dropout', '']) {
      for (const seed of [0, 1, 2 ** 32 - 1]) {
        expect(layerSeed(seed, name)).toBe(mixSeed(seed, name));
        setTrainingStep(seed, 17);
        expect(stepSeed(name)).toBe(mixSeed(seed, name, 17));
      }
    }
  });

  test('hashString is 32-bit FNV-1a; the finalizer and mixer give 32-bit unsigned integers', () => {
    expect(hashString('')).toBe(0x811c9dc5);
    expect(hashString('a')).toBe(0xe40c292c); // the published FNV-1a test vector
    expect(hashString('foobar')).toBe(0xbf9cf968);
    for (const value of [finalizeHash(0), finalizeHash(-1), mixSeed(3, 'x'), mixSeed(3, 'x', 0)]) {
      expect(Number.isInteger(value) && value >= 0 && value < 2 ** 32).toBe(true);
    }
    expect(new Set([mixSeed(3, 'x'), mixSeed(3, 'x', 0), mixSeed(3, 'x', 1), mixSeed(4, 'x'), mixSeed(3, 'y')]).size).toBe(5);
  });
});
