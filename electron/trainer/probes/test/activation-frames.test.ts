// Activation maps to frames: per-map min/max/mean/max|x| and uint8 quantisation, checked
// against a direct computation; block-mean downsampling with the true size kept.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, test } from 'vitest';
import { Rng } from '../../../../datasets/random';
import { decodeFrame, dequantize } from '#protocol/frames';
import { encodeActivationFrame, type FrameRequest } from '../activation-frames';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

const request = (over: Partial<FrameRequest> = {}): FrameRequest => ({ layer: 'conv1.act', kind: 'activation', channel: 'frame:conv1.act', step: 7, probes: [11, 22], maxSide: 0, ...over });

function randomMaps(p: number, h: number, w: number, c: number): { tensor: tf.Tensor4D; at: (p: number, y: number, x: number, ch: number) => number } {
  const rng = new Rng(5);
  const data = Float32Array.from({ length: p * h * w * c }, () => rng.normal() * 3);
  return { tensor: tf.tensor4d(data, [p, h, w, c]), at: (pi, y, x, ch) => data[((pi * h + y) * w + x) * c + ch]! };
}

test('each map carries its own min, max, mean, max |x| and a quantisation that dequantises within half a step', async () => {
  const { tensor, at } = randomMaps(2, 5, 3, 4);
  const frame = decodeFrame(await encodeActivationFrame(tensor, request()));
  expect(frame.header).toMatchObject({ layer: 'conv1.act', step: 7, probes: [11, 22], channels: 4, height: 5, width: 3, trueHeight: 5, trueWidth: 3 });
  for (let p = 0; p < 2; p++)
    for (let c = 0; c < 4; c++) {
      const values: number[] = [];
      for (let y = 0; y < 5; y++) for (let x = 0; x < 3; x++) values.push(at(p, y, x, c));
      const min = Math.min(...values);
      const max = Math.max(...values);
      const stats = frame.statsOf(p, c);
      expect(stats.min).toBeCloseTo(min, 5);
      expect(stats.max).toBeCloseTo(max, 5);
      expect(stats.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 5);
      expect(stats.maxAbs).toBeCloseTo(Math.max(...values.map(Math.abs)), 5);
      const map = frame.map(p, c);
      values.forEach((v, i) => expect(Math.abs(dequantize(map[i]!, stats.min, stats.max) - v)).toBeLessThanOrEqual((max - min) / 255 / 2 + 1e-5));
    }
});

test('a constant map is all zeros; a dense layer is C maps of 1x1', async () => {
  const frame = decodeFrame(await encodeActivationFrame(tf.fill([1, 2, 2, 1], 3), request({ probes: [0] })));
  expect([...frame.map(0, 0)]).toEqual([0, 0, 0, 0]);
  expect(frame.statsOf(0, 0)).toMatchObject({ min: 3, max: 3 });
  const dense = decodeFrame(await encodeActivationFrame(tf.tensor2d([[1, -2, 3]]), request({ probes: [0] })));
  expect(dense.header).toMatchObject({ channels: 3, height: 1, width: 1 });
});

test('large maps are block-averaged for transport; stats stay those of the full map; one filter can be sent at full size', async () => {
  const { tensor, at } = randomMaps(2, 8, 8, 3);
  const small = decodeFrame(await encodeActivationFrame(tensor, request({ maxSide: 4 })));
  expect(small.header).toMatchObject({ height: 4, width: 4, trueHeight: 8, trueWidth: 8 });
  const stats = small.statsOf(1, 2);
  const block = [at(1, 0, 0, 2), at(1, 0, 1, 2), at(1, 1, 0, 2), at(1, 1, 1, 2)];
  const mean = block.reduce((a, b) => a + b, 0) / 4;
  expect(Math.abs(dequantize(small.map(1, 2)[0]!, stats.min, stats.max) - mean)).toBeLessThanOrEqual((stats.max - stats.min) / 255);
  const full = decodeFrame(await encodeActivationFrame(tensor, request({ maxSide: 0, filter: 2, probe: 1, channel: 'full' })));
  expect(full.header).toMatchObject({ channels: 1, filterOffset: 2, probes: [22], height: 8, width: 8 });
  expect(full.statsOf(0, 0).max).toBeCloseTo(stats.max, 5);
});

test('leaves no tensors behind', async () => {
  const { tensor } = randomMaps(2, 8, 8, 3);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await encodeActivationFrame(tensor, request({ maxSide: 3 }));
  expect(tf.memory().numTensors).toBe(before);
});
