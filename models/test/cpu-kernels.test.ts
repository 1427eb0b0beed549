// The faster cpu filter gradient against tfjs' own kernel, on every padding,
// kernel size and stride the Light CNN family uses, and odd sizes.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { installCpuConv2dBackpropFilter } from '../kernels/cpu-conv2d-backprop-filter';
import { Rng } from '../../datasets/random';

interface Case {
  readonly name: string;
  readonly x: [number, number, number, number];
  readonly k: number;
  readonly outC: number;
  readonly stride: number;
  readonly pad: 'same' | 'valid' | number;
}

const CASES: Case[] = [
  { name: 'conv1 5x5 same', x: [2, 16, 16, 1], k: 5, outC: 6, stride: 1, pad: 'same' },
  { name: 'group 1x1 same', x: [2, 8, 8, 5], k: 1, outC: 4, stride: 1, pad: 'same' },
  { name: 'group 3x3 same', x: [3, 9, 7, 4], k: 3, outC: 6, stride: 1, pad: 'same' },
  { name: 'Model A 9x9 valid', x: [1, 20, 20, 1], k: 9, outC: 4, stride: 1, pad: 'valid' },
  { name: 'Model A 4x4 valid, odd', x: [2, 9, 11, 3], k: 4, outC: 5, stride: 1, pad: 'valid' },
  { name: 'stride 2 same, odd', x: [2, 11, 13, 3], k: 3, outC: 4, stride: 2, pad: 'same' },
  { name: 'stride 2 valid', x: [1, 12, 10, 2], k: 5, outC: 3, stride: 2, pad: 'valid' },
  { name: 'explicit pad 2', x: [2, 7, 7, 2], k: 5, outC: 3, stride: 1, pad: 2 },
];

function random(shape: number[], rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.uniform(-1, 1)), shape);
}

/** dL/dW for L = sum(conv(x, w) * dy), through tfjs' gradient machinery. */
function filterGradient(x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, c: Case): Float32Array {
  return tf.tidy(() => {
    const f = (kernel: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, c.stride, c.pad as 'same').mul(dy).sum();
    return tf.grad(f)(w).dataSync() as Float32Array;
  });
}

describe('cpu Conv2DBackpropFilter', () => {
  const inputs = CASES.map((c, i) => {
    const rng = new Rng(100 + i);
    const x = random(c.x, rng);
    const w = random([c.k, c.k, c.x[3], c.outC], rng);
    const outShape = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad as 'same').shape);
    const dy = random(outShape, rng);
    return { c, x, w, dy };
  });
  const reference = new Map<string, Float32Array>();

  // A ReLU-like input (half its values exactly 0) and a dy holding a NaN and an Infinity:
  // 0 x NaN and 0 x Inf are NaN, so every filter tap that sees those dy positions is NaN.
  const nanCase: Case = { name: 'NaN and Inf in dy, zeros in x', x: [2, 6, 6, 3], k: 3, outC: 4, stride: 1, pad: 'same' };
  const nanInput = (() => {
    const rng = new Rng(7);
    const x = tf.tidy(() => random(nanCase.x, rng).relu());
    const w = random([3, 3, 3, 4], rng);
    const dyValues = Float32Array.from({ length: 2 * 6 * 6 * 4 }, () => rng.uniform(-1, 1));
    dyValues[((0 * 6 + 2) * 6 + 3) * 4 + 1] = Number.NaN; // batch 0, (2, 3), channel 1
    dyValues[((1 * 6 + 5) * 6 + 0) * 4 + 3] = Number.POSITIVE_INFINITY; // batch 1, (5, 0), channel 3
    const finite = dyValues.map((v) => (Number.isFinite(v) ? v : 0.5));
    return { x, w, dy: tf.tensor(dyValues, [2, 6, 6, 4]), finiteDy: tf.tensor(finite, [2, 6, 6, 4]) };
  })();
  let nanReference: Float32Array = new Float32Array(0);
  let finiteReference: Float32Array = new Float32Array(0);

  beforeAll(async () => {
    await tf.setBackend('cpu');
    for (const { c, x, w, dy } of inputs) reference.set(c.name, filterGradient(x, w, dy, c)); // tfjs' own kernel
    nanReference = filterGradient(nanInput.x, nanInput.w, nanInput.dy, nanCase);
    finiteReference = filterGradient(nanInput.x, nanInput.w, nanInput.finiteDy, nanCase);
    installCpuConv2dBackpropFilter();
  });

  test('a NaN or Inf in dy gives NaN wherever tfjs gives NaN, even where x is 0', () => {
    const ours = filterGradient(nanInput.x, nanInput.w, nanInput.dy, nanCase);
    expect(ours.length).toBe(nanReference.length);
    const nanAt = (values: Float32Array): number[] => [...values.keys()].filter((i) => Number.isNaN(values[i]));
    // Channels 1 and 3 (the poisoned dy channels) of every tap whose window covers those positions.
    expect(nanAt(nanReference).length).toBeGreaterThan(0);
    expect(nanAt(ours)).toEqual(nanAt(nanReference));
    for (let i = 0; i < ours.length; i++) {
      const theirs = nanReference[i]!;
      if (!Number.isFinite(theirs)) expect(ours[i]).toBe(theirs); // NaN, or an Infinity where x > 0 met the Inf
      else expect(Math.abs(ours[i]! - theirs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(theirs)));
    }
  });

  test('zeros in x with a finite dy (the fast path that skips them) match tfjs', () => {
    const ours = filterGradient(nanInput.x, nanInput.w, nanInput.finiteDy, nanCase);
    expect(finiteReference.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i]! - finiteReference[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(finiteReference[i]!)));
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s matches tfjs within 1e-4 relative', (_name, c) => {
    const input = inputs.find((i) => i.c === c)!;
    const ours = filterGradient(input.x, input.w, input.dy, c);
    const theirs = reference.get(c.name)!;
    expect(ours.length).toBe(theirs.length);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!) / Math.max(1, Math.abs(theirs[i]!)));
    expect(worst).toBeLessThan(1e-4);
  });

  test('really replaced (not a test of tfjs against itself): the kernel is ours', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')?.kernelFunc.toString()).toMatch(/conv2dBackpropFilterNhwc/);
  });

  test('no tensors leak', () => {
    const { c, x, w, dy } = inputs[0]!;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) filterGradient(x, w, dy, c);
    expect(tf.memory().numTensors).toBe(before);
  });
});
