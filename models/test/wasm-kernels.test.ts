// The lab's wasm kernels (models/kernels/wasm-*.ts) against tfjs' cpu backend: every
// kernel on random inputs for every padding, kernel size and stride in play (odd sizes,
// batch 1 and 3), then whole training steps of tiny and LightCNN-9 on wasm vs cpu, every
// activation, and a leak check. Errors are norm-based: ||ours - cpu|| / ||cpu|| < 1e-4.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Rng } from '../../datasets/random';
import { ACTIVATION_NAMES, parseActivation } from '../activations/spec';
import { loadWasm } from '../backend-wasm';
import { wasmConvTuning } from '../kernels/wasm-conv2d-backprop';
import { isLabKernel } from '../kernels/wasm-heap';
import { installWasmTrainingKernels, LAB_WASM_KERNELS } from '../kernels/wasm-training-kernels';
import { expectSameStep, memoryOverSteps, onBackend, oneStep, random, relativeError, type Input } from './backend-compare';

const TOLERANCE = 1e-4;

async function expectSame(inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<void> {
  const reference = await onBackend('cpu', inputs, f);
  const ours = await onBackend('wasm', inputs, f);
  expect(ours.length).toBe(reference.length);
  ours.forEach((values, i) => {
    expect(values.every((v) => !Number.isNaN(v))).toBe(true);
    expect(relativeError(values, reference[i] as Float32Array)).toBeLessThan(TOLERANCE);
  });
}

let previousBackend = 'cpu';
beforeAll(async () => {
  previousBackend = tf.getBackend() ?? 'cpu';
  const load = await loadWasm(undefined);
  if (!load.ok) throw new Error(`wasm did not load: ${load.reason}`);
  installWasmTrainingKernels();
});
afterAll(async () => {
  await tf.setBackend(previousBackend);
});

describe('registration', () => {
  test('every lab kernel is registered for wasm, once, and installing again changes nothing', () => {
    const before = LAB_WASM_KERNELS.map((k) => tf.getKernel(k, 'wasm')?.kernelFunc);
    installWasmTrainingKernels();
    expect(LAB_WASM_KERNELS.map((k) => tf.getKernel(k, 'wasm')?.kernelFunc)).toEqual(before);
    for (const kernel of LAB_WASM_KERNELS) expect(isLabKernel(kernel)).toBe(true);
  });
});

// ------------------------------------------------------------------ convolutions

interface ConvCase {
  readonly x: [number, number, number, number];
  readonly k: number;
  readonly outC: number;
  readonly stride: number;
  readonly pad: 'same' | 'valid' | number;
}

const CONV_CASES: ConvCase[] = [];
{
  let n = 0;
  for (const k of [1, 3, 5]) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid', (k - 1) / 2 + 1] as const) {
        const batch = n % 2 === 0 ? 1 : 3;
        const [h, w] = n % 3 === 0 ? [9, 7] : n % 3 === 1 ? [11, 13] : [8, 10];
        CONV_CASES.push({ x: [batch, h, w, 2 + (n % 3)], k, outC: 3 + (n % 4), stride, pad });
        n++;
      }
    }
  }
  // What the models use beyond those: Model A's 9x9 and 4x4 valid convs, a grey 5x5 first layer.
  CONV_CASES.push({ x: [2, 20, 19, 1], k: 9, outC: 4, stride: 1, pad: 'valid' });
  CONV_CASES.push({ x: [3, 9, 9, 5], k: 4, outC: 6, stride: 1, pad: 'valid' });
  CONV_CASES.push({ x: [3, 16, 16, 1], k: 5, outC: 8, stride: 1, pad: 'same' });
  // Model A's conv2 and conv3 shapes, scaled down: the input gradient by the padded forward
  // conv (14x14 / 10x10 = 1.96x the real products) and by product + scatter (8x8 / 4x4 = 4x).
  CONV_CASES.push({ x: [2, 14, 14, 6], k: 5, outC: 8, stride: 1, pad: 'valid' });
  CONV_CASES.push({ x: [2, 8, 8, 7], k: 5, outC: 9, stride: 1, pad: 'valid' });
  CONV_CASES.push({ x: [2, 9, 9, 5], k: 5, outC: 4, stride: 2, pad: 'valid' }); // 9x9 / (3x3 x 2x2) = 2.25: scatter, strided
}
const convName = (c: ConvCase): string => `${c.x.join('x')} k${c.k} s${c.stride} pad ${c.pad} -> ${c.outC}`;

function convInputs(c: ConvCase, seed: number): Input[] {
  const rng = new Rng(seed);
  const x = random(c.x, rng);
  const w = random([c.k, c.k, c.x[3], c.outC], rng);
  const outShape = tf.backend_util.computeConv2DInfo(c.x, [c.k, c.k, c.x[3], c.outC], c.stride, 1, c.pad).outShape;
  return [x, w, random(outShape, rng)];
}

/** Forward conv, and the gradients of sum(conv(x, w) * dy) with respect to x and w. */
function convAndGradients(c: ConvCase) {
  return (x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor): tf.Tensor[] => {
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad as 'same').mul(dy).sum();
    const [dx, dw] = tf.grads(f)([x, w]);
    return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad as 'same'), dx as tf.Tensor, dw as tf.Tensor];
  };
}

describe('Conv2DBackpropFilter and Conv2DBackpropInput', () => {
  test.each(CONV_CASES.map((c, i) => [convName(c), c, i] as const))('%s', async (_name, c, i) => {
    await expectSame(convInputs(c, 10 + i), convAndGradients(c));
  });

  test('the fused conv (bias, as tfjs-layers runs it) has the same gradients', async () => {
    const c: ConvCase = { x: [3, 11, 9, 4], k: 3, outC: 6, stride: 1, pad: 'same' };
    const [x, w, dy] = convInputs(c, 3) as [Input, Input, Input];
    const bias = random([6], new Rng(4));
    await expectSame([x, w, bias, dy], (xt, wt, bt, dyt) => {
      const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
        tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, bias: d, strides: 1, pad: 'same' }).mul(dyt as tf.Tensor).sum();
      return tf.grads(f)([xt as tf.Tensor, wt as tf.Tensor, bt as tf.Tensor]);
    });
  });

  test('products too large for one chunk (im2col, and the input gradient of a grey layer) are done image by image', async () => {
    const saved = wasmConvTuning.im2colChunkFloats;
    wasmConvTuning.im2colChunkFloats = 1000; // 3x3x4 rows x 11x9 columns = 3564 floats per image: one image a chunk
    try {
      const c: ConvCase = { x: [3, 11, 9, 4], k: 3, outC: 5, stride: 1, pad: 'same' };
      await expectSame(convInputs(c, 5), convAndGradients(c));
      const grey: ConvCase = { x: [3, 12, 10, 1], k: 5, outC: 6, stride: 2, pad: 'same' };
      await expectSame(convInputs(grey, 6), convAndGradients(grey));
    } finally {
      wasmConvTuning.im2colChunkFloats = saved;
    }
  });

  test('filter gradients cut into products of a few thousand rows (whole images each) sum to the same gradient', async () => {
    const saved = wasmConvTuning.filterChunkRows;
    wasmConvTuning.filterChunkRows = 200; // 11x9 = 99 output pixels per image: two images a product, the last alone
    try {
      for (const [i, c] of ([
        { x: [5, 11, 9, 4], k: 3, outC: 5, stride: 1, pad: 'same' },
        { x: [5, 11, 9, 4], k: 1, outC: 6, stride: 1, pad: 'valid' }, // 1x1: chunked through im2col instead of the direct product
        { x: [9, 12, 10, 1], k: 5, outC: 6, stride: 2, pad: 'same' }, // 6x5 = 30 pixels an image: six images, then three
      ] as ConvCase[]).entries()) {
        await expectSame(convInputs(c, 20 + i), convAndGradients(c));
      }
    } finally {
      wasmConvTuning.filterChunkRows = saved;
    }
  });

  test('NCHW (which the XNNPACK path does not take) is delegated and still right', async () => {
    const rng = new Rng(6);
    const x = random([2, 3, 7, 9], rng); // N, C, H, W
    const dy = random([2, 4, 7, 9], rng);
    const w = random([3, 3, 3, 4], rng);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', dimRoundingMode: undefined };
    await expectSame([x, dy], (xt, dyt) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: xt as tf.Tensor, dy: dyt as tf.Tensor }, { ...attrs, filterShape: [3, 3, 3, 4] } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
    await expectSame([dy, w], (dyt, wt) =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt as tf.Tensor, filter: wt as tf.Tensor }, { ...attrs, inputShape: [2, 3, 7, 9] } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
  });

  test('explicit padding larger than the filter is delegated and still right', async () => {
    const c: ConvCase = { x: [2, 6, 5, 2], k: 3, outC: 3, stride: 1, pad: 3 };
    await expectSame(convInputs(c, 8), convAndGradients(c));
  });
});

// ------------------------------------------------------------------ pooling

describe('pooling and its gradients', () => {
  const shapes: Array<[number, number, number, number]> = [
    [2, 8, 8, 3],
    [3, 7, 9, 4],
    [1, 5, 5, 2],
    [1, 1, 3, 2],
  ];
  const windows: Array<{ size: number; stride: number; pad: 'same' | 'valid' }> = [
    { size: 2, stride: 2, pad: 'same' }, // ceil rounding, as the Light CNNs pool
    { size: 2, stride: 2, pad: 'valid' }, // floor rounding, LightCNN-29 v2
    { size: 3, stride: 1, pad: 'same' }, // overlapping windows
    { size: 3, stride: 2, pad: 'valid' },
  ];
  const cases = shapes.flatMap((shape) => windows.filter((w) => w.pad === 'same' || (shape[1] >= w.size && shape[2] >= w.size)).map((w) => ({ shape, ...w })));

  test.each(cases.map((c) => [`${c.shape.join('x')} ${c.size}x${c.size}/${c.stride} ${c.pad}`, c] as const))('max and avg, %s', async (_name, c) => {
    for (const integers of [false, true]) {
      const rng = new Rng(c.shape[1] * 31 + c.size * 7 + c.stride);
      const x = random(c.shape, rng, integers);
      const outShape = tf.backend_util.computePool2DInfo(c.shape, c.size, c.stride, 1, c.pad).outShape;
      const dy = random(outShape, rng);
      await expectSame([x, dy], (xt, dyt) => {
        const max = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, c.size, c.stride, c.pad).mul(dyt as tf.Tensor).sum();
        const avg = (a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, c.size, c.stride, c.pad).mul(dyt as tf.Tensor).sum();
        return [tf.maxPool(xt as tf.Tensor4D, c.size, c.stride, c.pad), tf.grad(max)(xt as tf.Tensor), tf.avgPool(xt as tf.Tensor4D, c.size, c.stride, c.pad), tf.grad(avg)(xt as tf.Tensor)];
      });
    }
  });

  test('MaxPoolGrad with NaN, infinities and ties picks what cpu picks (first strict maximum, never NaN)', async () => {
    const N = Number.NaN;
    const I = Number.POSITIVE_INFINITY;
    // 2x2 windows of a 4x4 single-channel image: [-I, N, -I, -I], [N, N, N, N], [3, 3, 3, 1] (tie), [N, 2, I, I].
    const x: Input = { shape: [1, 4, 4, 1], values: Float32Array.from([-I, N, N, N, -I, -I, N, N, 3, 3, N, 2, 3, 1, I, I]) };
    const dy: Input = { shape: [1, 2, 2, 1], values: Float32Array.from([1, 2, 3, 4]) };
    await expectSame([x, dy], (xt, dyt) =>
      tf.engine().runKernel('MaxPoolGrad', { dy: dyt as tf.Tensor, input: xt as tf.Tensor, output: dyt as tf.Tensor }, { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
  });

  test('an all-negative window sends its gradient to its own maximum (the package kernel sent it to element 0)', async () => {
    const x: Input = { shape: [1, 2, 4, 1], values: Float32Array.from([-5, -1, -2, -3, -2, -4, -1, -7]) };
    const [dx] = await onBackend('wasm', [x], (xt) => tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').sum())(xt as tf.Tensor));
    expect(Array.from(dx as Float32Array)).toEqual([0, 1, 0, 0, 0, 0, 1, 0]);
  });
});

// ------------------------------------------------------------------ matrix products

describe('BatchMatMul with transposed operands (dense layer gradients)', () => {
  const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [7, 5], b: [5, 3], ta: false, tb: false },
    { a: [5, 7], b: [5, 3], ta: true, tb: false },
    { a: [7, 5], b: [3, 5], ta: false, tb: true },
    { a: [3, 5], b: [7, 5], ta: false, tb: true }, // fewer rows than b: computed as (b aᵀ)ᵀ
    { a: [1, 4, 9], b: [1, 33, 9], ta: false, tb: true },
    { a: [5, 7], b: [3, 5], ta: true, tb: true },
    { a: [1, 9, 4], b: [1, 9, 6], ta: true, tb: false },
    { a: [2, 4, 9], b: [2, 6, 9], ta: false, tb: true }, // batch 2: the package's kernel
  ];
  test.each(cases.map((c) => [`${c.a.join('x')}${c.ta ? 'ᵀ' : ''} · ${c.b.join('x')}${c.tb ? 'ᵀ' : ''}`, c] as const))('%s', async (_name, c) => {
    const rng = new Rng(c.a.length * 100 + c.a[0]!);
    await expectSame([random(c.a, rng), random(c.b, rng)], (a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor, c.ta, c.tb));
  });

  test('a dense layer: forward and both gradients', async () => {
    const rng = new Rng(12);
    await expectSame([random([4, 37], rng), random([37, 11], rng), random([11], rng), random([4, 11], rng)], (x, w, b, dy) => {
      const f = (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => tf.fused.matMul({ a, b: k, bias: c }).mul(dy as tf.Tensor).sum();
      return tf.grads(f)([x as tf.Tensor, w as tf.Tensor, b as tf.Tensor]);
    });
  });
});

// ------------------------------------------------------------------ element-wise and layout

describe('element-wise and layout kernels (MFM, maxout and bias gradients)', () => {
  // Ties, signed zeros, infinities and NaN beside random values.
  const special = [0, -0, 1, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 2.5, 2.5, -3];
  const specialB = [-0, 0, 1, 2, Number.NEGATIVE_INFINITY, 7, 1, Number.NaN, 2.5, -3];

  async function sameExactly(inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<void> {
    const reference = await onBackend('cpu', inputs, f);
    const ours = await onBackend('wasm', inputs, f);
    ours.forEach((values, i) => expect(Array.from(values)).toEqual(Array.from(reference[i] as Float32Array)));
  }

  test('maximum, minimum and comparisons: equal to cpu, NaN, infinities, ties and zeros included', async () => {
    const rng = new Rng(31);
    const a = random([3, 5, 7, 4], rng);
    const b = random([3, 5, 7, 4], rng);
    a.values.set(special);
    b.values.set(specialB);
    await sameExactly([a, b], (x, y) => [
      tf.maximum(x as tf.Tensor, y as tf.Tensor),
      tf.minimum(x as tf.Tensor, y as tf.Tensor),
      tf.greaterEqual(x as tf.Tensor, y as tf.Tensor).cast('float32'),
      tf.greater(x as tf.Tensor, y as tf.Tensor).cast('float32'),
      tf.less(x as tf.Tensor, y as tf.Tensor).cast('float32'),
      tf.lessEqual(x as tf.Tensor, y as tf.Tensor).cast('float32'),
    ]);
  });

  test('identity (the clone a gradient saves) shares memory and outlives its source', async () => {
    await tf.setBackend('wasm');
    const buffers = tf.engine().backend.numDataIds();
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const source = tf.tensor([1, 0, 3, 0, 5, 6], [2, 3], dtype);
      const copy = source.clone();
      expect(copy.dataId).toBe(source.dataId); // the same heap buffer, no copy
      source.dispose();
      expect(copy.dtype).toBe(dtype);
      expect(Array.from(copy.dataSync())).toEqual(dtype === 'bool' ? [1, 0, 1, 0, 1, 1] : [1, 0, 3, 0, 5, 6]);
      copy.dispose();
    }
    expect(tf.engine().backend.numDataIds()).toBe(buffers); // both references gone: the buffer is freed
  });

  test('broadcasting operands go to the package kernels, and are right', async () => {
    const rng = new Rng(32);
    await sameExactly([random([2, 3, 4], rng), random([4], rng)], (x, y) => [tf.maximum(x as tf.Tensor, y as tf.Tensor), tf.less(x as tf.Tensor, y as tf.Tensor).cast('float32')]);
  });

  test('split and concat along the last axis (even, uneven, 1-channel pieces), and along another axis', async () => {
    const rng = new Rng(33);
    const x = random([2, 3, 5, 70], rng);
    await sameExactly([x], (t) => [
      ...tf.split(t as tf.Tensor, 2, -1),
      ...tf.split(t as tf.Tensor, [1, 40, 29], 3),
      ...tf.split(t as tf.Tensor, [1, 2], 1),
      tf.concat(tf.split(t as tf.Tensor, [3, 1, 66], -1).reverse(), -1),
      tf.concat(tf.split(t as tf.Tensor, [2, 3], 2), 2),
      tf.concat(tf.split(t as tf.Tensor, 2, 0), 0),
    ]);
  });

  test('sum over leading axes (bias gradients), with and without keepDims, and other reductions', async () => {
    const rng = new Rng(34);
    const x = random([4, 9, 7, 6], rng);
    await expectSame([x], (t) => [
      tf.sum(t as tf.Tensor, [0, 1, 2]),
      tf.sum(t as tf.Tensor, [2, 0, 1], true),
      tf.sum(t as tf.Tensor, 0),
      tf.sum(t as tf.Tensor, [1, 2]),
      tf.sum(t as tf.Tensor),
    ]);
  });
});

// ------------------------------------------------------------------ whole training steps

describe('a training step on wasm equals one on cpu', () => {
  test.each([['tiny'], ['lightcnn9']] as const)('%s (width 0.125, 32 px, MFM, SGD): loss, gradients and updated weights', async (architecture) => {
    expectSameStep(await oneStep('wasm', architecture, 'mfm'), await oneStep('cpu', architecture, 'mfm'), TOLERANCE);
  });

  test.each(ACTIVATION_NAMES.filter((a) => a !== 'mfm').map((a) => [a]))('tiny with %s', async (activation) => {
    expectSameStep(await oneStep('wasm', 'tiny', activation), await oneStep('cpu', 'tiny', activation), TOLERANCE);
  });

  test('no tensors leak over several steps', async () => {
    const { tensors, bytes } = await memoryOverSteps('wasm');
    expect(new Set(tensors).size).toBe(1);
    expect(new Set(bytes.slice(1)).size).toBe(1);
  });
});
