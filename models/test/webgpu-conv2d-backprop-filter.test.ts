// The lab's Conv2DBackpropFilter for webgpu (kernels/webgpu-conv2d-backprop-filter.ts) against
// the cpu backend's, on the software adapter: pads, strides, odd sizes, batches, channels,
// filter sizes, both the one-split and the split-K paths. Shapes are small: llvmpipe is slow.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { installWebGpuConv2dBackpropFilter, splitPlan, webGpuConv2dBackpropFilter } from '../kernels/webgpu-conv2d-backprop-filter';
import { onBackend, relativeError, webGpuReady, type Input } from './backend-compare';

/** ||webgpu - cpu|| / ||cpu||: float32 sums of up to ~2k products, in a different order. */
const TOLERANCE = 1e-5;

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number] | number;
  pad: Pad;
}

const EXPLICIT: tf.backend_util.ExplicitPadding = [[0, 0], [1, 2], [2, 1], [0, 0]];

const CASES: Case[] = [
  { x: [1, 7, 9, 1], filter: [3, 3, 1, 4], strides: 1, pad: 'same' },
  { x: [3, 13, 11, 3], filter: [5, 5, 3, 8], strides: 2, pad: 'valid' },
  { x: [8, 7, 9, 16], filter: [1, 1, 16, 5], strides: 2, pad: 'same' },
  { x: [3, 9, 7, 16], filter: [3, 3, 16, 33], strides: 1, pad: EXPLICIT },
  { x: [1, 13, 11, 3], filter: [3, 3, 3, 7], strides: 2, pad: EXPLICIT },
  { x: [8, 13, 11, 1], filter: [5, 5, 1, 6], strides: 2, pad: 'same' },
  { x: [8, 13, 11, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [3, 11, 13, 3], filter: [3, 3, 3, 5], strides: [2, 3], pad: 'valid' },
  { x: [1, 7, 9, 3], filter: [3, 3, 3, 2], strides: 1, pad: 1 },
  // Several output tiles in both directions, with split-K.
  { x: [4, 16, 16, 8], filter: [3, 3, 8, 40], strides: 1, pad: 'valid' },
  // Light CNN's first layer (5x5x1x96, 'same') at a reduced input.
  { x: [2, 32, 32, 1], filter: [5, 5, 1, 96], strides: 1, pad: 'same' },
];

function random(shape: number[], seed: number): Input {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed >>> 0;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = s / 2 ** 32 - 0.5;
  }
  return { shape, values };
}

function dyShape(c: Case): number[] {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
}

function backpropFilter(c: Case, dataFormat: 'NHWC' | 'NCHW' = 'NHWC') {
  return (x: tf.Tensor, dy: tf.Tensor) =>
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.strides, pad: c.pad, dataFormat, filterShape: c.filter }) as tf.Tensor;
}

function describeCase(c: Case): string {
  const pad = Array.isArray(c.pad) ? 'explicit' : String(c.pad);
  return `x ${c.x.join('x')}, filter ${c.filter.join('x')}, strides ${String(c.strides)}, pad ${pad}`;
}

function plan(c: Case) {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  const m = info.filterHeight * info.filterWidth * info.inChannels;
  return splitPlan(m, info.outChannels, info.batchSize * info.outHeight * info.outWidth, { maxStorageBufferBindingSize: 2 ** 27, maxComputeWorkgroupsPerDimension: 65535 });
}

describe('webgpu Conv2DBackpropFilter (the lab kernel)', () => {
  beforeAll(async () => {
    await webGpuReady();
    installWebGpuConv2dBackpropFilter();
  });

  it('is the kernel registered for webgpu, and installing again keeps it or takes the slot back', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc).toBe(webGpuConv2dBackpropFilter);
    installWebGpuConv2dBackpropFilter();
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc).toBe(webGpuConv2dBackpropFilter);
    const other: tf.KernelFunc = () => {
      throw new Error('not ours');
    };
    tf.unregisterKernel('Conv2DBackpropFilter', 'webgpu');
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'webgpu', kernelFunc: other });
    installWebGpuConv2dBackpropFilter();
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc).toBe(webGpuConv2dBackpropFilter);
  });

  it('the cases cover both the one-split path and the split-K path', () => {
    const splits = CASES.map((c) => plan(c).splits);
    expect(splits).toContain(1);
    expect(splits.some((s) => s > 1)).toBe(true);
    // The last split of this one is shorter than the others.
    const uneven = plan(CASES[6] as Case);
    expect(uneven.splits).toBeGreaterThan(1);
    expect(8 * 13 * 11 % uneven.kPerSplit).not.toBe(0);
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches cpu: ${describeCase(c)} (${plan(c).splits} split(s))`, async () => {
      const inputs = [random(c.x, 2 * i + 1), random(dyShape(c), 2 * i + 2)];
      const [ours] = await onBackend('webgpu', inputs, backpropFilter(c));
      const [cpu] = await onBackend('cpu', inputs, backpropFilter(c));
      expect(ours).toHaveLength(c.filter.reduce((a, b) => a * b, 1));
      expect(relativeError(ours as Float32Array, cpu as Float32Array)).toBeLessThan(TOLERANCE);
    });
  }

  it('is what tf.grad of conv2d uses on webgpu', async () => {
    const c: Case = { x: [2, 9, 7, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' };
    const inputs = [random(c.x, 101), random(c.filter, 102), random(dyShape(c), 103)];
    const grad = (x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor) =>
      tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, 'same'), dy)))(w);
    const [ours] = await onBackend('webgpu', inputs, grad);
    const [cpu] = await onBackend('cpu', inputs, grad);
    expect(relativeError(ours as Float32Array, cpu as Float32Array)).toBeLessThan(TOLERANCE);
  });

  it('refuses NCHW and non-float32 inputs, saying why', async () => {
    const c = CASES[0] as Case;
    const inputs = [random(c.x, 7), random(dyShape(c), 8)];
    await expect(onBackend('webgpu', inputs, backpropFilter(c, 'NCHW'))).rejects.toThrow(/NCHW is not supported, only NHWC/);
    await expect(onBackend('webgpu', inputs, (x, dy) => backpropFilter(c)(tf.cast(x, 'int32'), dy))).rejects.toThrow(/only float32/);
  });

  it('leaves no tensors or GPU bytes behind', async () => {
    const c = CASES[CASES.length - 1] as Case; // split-K: a partial sums buffer per call
    const inputs = [random(c.x, 11), random(dyShape(c), 12)];
    await onBackend('webgpu', inputs, backpropFilter(c));
    const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
    for (let i = 0; i < 4; i++) await onBackend('webgpu', inputs, backpropFilter(c));
    const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytesInGPU).toBe(before.numBytesInGPU);
  });
});
