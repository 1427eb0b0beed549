import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { Optimizer } from '../optimizer';
import { learningRate } from '../schedule';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function run(kind: 'sgd' | 'adam', grads: number[][], options: { momentum?: number; weightDecay?: number; decay?: boolean; lr?: number } = {}): number[] {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const opt = new Optimizer({ kind, momentum: options.momentum ?? 0.9, weightDecay: options.weightDecay ?? 0 }, [{ name: 'w', variable: w, decay: options.decay ?? true }]);
  for (const g of grads) {
    const grad = tf.tensor1d(g);
    opt.apply(new Map([['w', grad]]), options.lr ?? 0.1);
    grad.dispose();
  }
  const out = [...w.dataSync()];
  opt.dispose();
  w.dispose();
  return out;
}

describe('SGD with momentum, as PyTorch', () => {
  test('v1 = g1; v2 = mu v1 + g2; w -= lr v', () => {
    // w0 = [1, -2], g1 = [1, 1], g2 = [2, -1], mu 0.9, lr 0.1:
    // v1 = [1, 1], w1 = [0.9, -2.1]; v2 = [0.9 + 2, 0.9 - 1] = [2.9, -0.1], w2 = [0.61, -2.09]
    const w = run('sgd', [[1, 1], [2, -1]]);
    expect(w[0]).toBeCloseTo(0.61, 6);
    expect(w[1]).toBeCloseTo(-2.09, 6);
  });
  test('weight decay adds wd * w to the gradient, except where decay is off (PReLU slopes)', () => {
    // g' = g + 0.5 w = [0 + 0.5, 0 - 1] -> w1 = [1 - 0.05, -2 + 0.1]
    expect(run('sgd', [[0, 0]], { weightDecay: 0.5 })).toEqual([expect.closeTo(0.95, 6), expect.closeTo(-1.9, 6)]);
    expect(run('sgd', [[0, 0]], { weightDecay: 0.5, decay: false })).toEqual([1, -2]);
  });
});

describe('Adam, as PyTorch (bias-corrected)', () => {
  test('first step moves each weight by lr * sign(g)', () => {
    const w = run('adam', [[0.3, -5]], { lr: 0.01 });
    expect(w[0]).toBeCloseTo(1 - 0.01, 5);
    expect(w[1]).toBeCloseTo(-2 + 0.01, 5);
  });
  test('second step follows the formula', () => {
    const [g1, g2] = [0.5, -0.25];
    const m = 0.9 * (0.1 * g1) + 0.1 * g2;
    const v = 0.999 * (0.001 * g1 * g1) + 0.001 * g2 * g2;
    const step2 = (0.1 * (m / (1 - 0.81))) / (Math.sqrt(v / (1 - 0.998001)) + 1e-8);
    const w = run('adam', [[g1, 0], [g2, 0]], { lr: 0.1 });
    expect(w[0]).toBeCloseTo(1 - 0.1 - step2, 5);
  });
});

describe('learning-rate schedules', () => {
  const base = { lr: 0.01, stepEpochs: 10, gamma: 0.457, epochs: 20, warmupSteps: 0 };
  test('step: the reference decay every 10 epochs', () => {
    expect(learningRate({ ...base, schedule: 'step' }, 9.9)).toBe(0.01);
    expect(learningRate({ ...base, schedule: 'step' }, 10)).toBeCloseTo(0.00457, 10);
  });
  test('cosine: full at the start, half in the middle, zero at the end', () => {
    expect(learningRate({ ...base, schedule: 'cosine' }, 0)).toBe(0.01);
    expect(learningRate({ ...base, schedule: 'cosine' }, 10)).toBeCloseTo(0.005, 10);
    expect(learningRate({ ...base, schedule: 'cosine' }, 20)).toBeCloseTo(0, 10);
  });
  test('constant', () => expect(learningRate({ ...base, schedule: 'constant' }, 15)).toBe(0.01));
  test('warm-up: linear from 1/N of the rate to all of it over the first N steps, then the schedule', () => {
    const warm = { ...base, schedule: 'step' as const, warmupSteps: 4 };
    expect(learningRate(warm, 0, 0)).toBeCloseTo(0.0025, 12);
    expect(learningRate(warm, 0.1, 1)).toBeCloseTo(0.005, 12);
    expect(learningRate(warm, 0.2, 3)).toBe(0.01);
    expect(learningRate(warm, 0.3, 40)).toBe(0.01);
    // The warm-up scales whatever the schedule gives at that epoch.
    expect(learningRate({ ...warm, warmupSteps: 1000 }, 10, 499)).toBeCloseTo(0.5 * 0.00457, 12);
  });
});

test('optimizer state survives a save and load (what a checkpoint holds)', () => {
  const w = tf.variable(tf.tensor1d([1, 2]));
  const a = new Optimizer({ kind: 'adam', momentum: 0, weightDecay: 0 }, [{ name: 'w', variable: w, decay: true }]);
  const g = tf.tensor1d([0.1, -0.2]);
  a.apply(new Map([['w', g]]), 0.01);
  const state = new Map(a.stateTensors().map(({ name, tensor }) => [name, tensor.clone()]));
  const w2 = tf.variable(w.clone());
  const b = new Optimizer({ kind: 'adam', momentum: 0, weightDecay: 0 }, [{ name: 'w', variable: w2, decay: true }]);
  b.loadState(state, a.updateCount);
  a.apply(new Map([['w', g]]), 0.01);
  b.apply(new Map([['w', g]]), 0.01);
  expect([...w2.dataSync()]).toEqual([...w.dataSync()]);
  for (const t of state.values()) t.dispose();
  [a, b].forEach((o) => o.dispose());
  [w, w2, g].forEach((t) => t.dispose());
});
