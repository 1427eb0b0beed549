// The compute core alone, as the session drives it: steps that learn, a state that resumes
// to the bit, messages that survive structured cloning (they will cross a MessagePort),
// no leaked tensor, and the same losses on webgpu as on cpu.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { Rng } from '../../../../datasets/random';
import { useBackend } from '../../../../models/test/backend-compare';
import { parseTrainConfig } from '../config';
import { InProcessCore, type BatchData, type ComputeCore, type CoreState, type StepRequest } from '../compute-core';

const CLASSES = 6;
const SIZE = 16;
// RReLU and dropout: training-mode randomness, seeded by the step the request names.
const CONFIG = parseTrainConfig({ data: 'synthetic:6x8', model: 'tiny', inputSize: SIZE, batch: 4, optimizer: 'adam', lr: 0.002, seed: 7, activation: 'rrelu', dropout: 0.2, warmupSteps: 0, clipNorm: 0 });

afterAll(async () => {
  await tf.setBackend('cpu');
});

function batchOf(count: number, seed: number): BatchData {
  const rng = new Rng(seed);
  const pixels = Float32Array.from({ length: count * SIZE * SIZE }, () => rng.uniform(0, 1));
  const labels = Int32Array.from({ length: count }, (_, i) => i % CLASSES);
  const indices = Int32Array.from({ length: count }, (_, i) => seed * 100 + i);
  return { pixels, labels, indices, count, inputSize: SIZE };
}

const request = (step: number): StepRequest => ({ batch: batchOf(4, step), lr: 0.002, clipNorm: 5, step, seed: CONFIG.seed });

/** Throws unless `value` is made of what structured cloning keeps as it is: no tensor, class instance or function. */
function expectPlain(value: unknown, path = 'value'): void {
  if (value === null || ['number', 'string', 'boolean', 'undefined'].includes(typeof value)) return;
  if (typeof value !== 'object') throw new Error(`${path} is a ${typeof value}`);
  if (value instanceof tf.Tensor) throw new Error(`${path} is a tf.Tensor`);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return;
  if (value instanceof Set) return [...value].forEach((v, i) => expectPlain(v, `${path}[set ${i}]`));
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) throw new Error(`${path} is an instance of ${proto?.constructor?.name}`);
  for (const [key, v] of Object.entries(value)) expectPlain(v, `${path}.${key}`);
}

/** What crosses the boundary: plain, and equal to its structured clone. */
function crossing<T>(value: T): T {
  expectPlain(value);
  expect(structuredClone(value)).toEqual(value);
  return value;
}

/** Copies a state's arrays (a backend may hand out its own buffers). */
function copyState(state: CoreState): CoreState {
  return structuredClone(state);
}

async function withCore<T>(f: (core: ComputeCore) => Promise<T>): Promise<T> {
  const core = await InProcessCore.create(crossing({ config: CONFIG, numClasses: CLASSES, probes: { intervalMs: 50 } }));
  try {
    return await f(core);
  } finally {
    await core.dispose();
  }
}

async function weightsOf(core: ComputeCore): Promise<Float32Array[]> {
  const { arrays } = await core.getState();
  return arrays.filter((a) => a.name.startsWith('weights/')).map((a) => Float32Array.from(a.values));
}

describe('the compute core on cpu', () => {
  test('steps change the weights and give finite losses; every message is plain and cloneable; dispose frees every tensor', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    await withCore(async (core) => {
      crossing(core.model);
      expect(core.model.activationLayers.length).toBeGreaterThan(0);
      expect(core.model.layers.map((l) => l.layer)).toEqual(core.model.activationLayers);
      await core.setProbeFaces(crossing(batchOf(5, 99)));
      await core.subscribe(crossing({ layers: new Set(core.model.activationLayers), preActivation: new Set<string>(), fullMaps: [{ layer: core.model.activationLayers[0]!, filter: 0, probe: 1 }] }));
      const initial = await weightsOf(core);
      for (let step = 1; step <= 3; step++) {
        const reply = crossing(await core.step(crossing(request(step))));
        expect(reply.finite).toBe(true);
        expect(Number.isFinite(reply.loss) && reply.loss > 0).toBe(true);
        expect(reply.count).toBe(4);
        expect(reply.layers.map((l) => l.layer)).toEqual(core.model.activationLayers);
        const { frames } = crossing(await core.frames(step, { now: true }));
        if (step === 1) expect(frames.length).toBe(core.model.activationLayers.length + 1); // the subscription asked for a capture
        for (const f of frames) expect(f).toBeInstanceOf(ArrayBuffer);
      }
      expect((await core.frames(3, { now: true })).frames).toEqual([]); // nothing pending
      const after = await weightsOf(core);
      expect(after.some((w, i) => w.some((v, j) => v !== initial[i]![j]))).toBe(true);
      const evaluated = crossing(await core.evaluate(crossing(batchOf(4, 50))));
      expect(evaluated.count).toBe(4);
      expect(evaluated.lossSum).toBeGreaterThan(0);
      expect(evaluated.hits).toBeGreaterThanOrEqual(0);
      const snapshot = crossing(await core.snapshot(3));
      expect(snapshot).toHaveLength(core.model.activationLayers.length);
      crossing(await core.configureProbes({ statsWindow: 5 }));
      crossing(await core.getState());
    });
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  test('getState into a new core resumes to the bit: the same weights, then the same next step', async () => {
    await useBackend('cpu');
    await withCore(async (first) => {
      for (let step = 1; step <= 3; step++) await first.step(request(step));
      const state = copyState(crossing(await first.getState()));
      expect(state.optimizerUpdates).toBe(3);
      expect(state.arrays.some((a) => a.name.startsWith('optimizer/'))).toBe(true);
      expect(state.arrays.some((a) => a.name.startsWith('probes/'))).toBe(true);
      await withCore(async (second) => {
        const fresh = await weightsOf(second);
        await second.setState(state);
        expect(await weightsOf(second)).toEqual(await weightsOf(first));
        expect(fresh).not.toEqual(await weightsOf(first));
        const a = await first.step(request(4));
        const b = await second.step(request(4));
        expect(b.loss).toBe(a.loss);
        expect(b.gradNorm).toBe(a.gradNorm);
        expect(b.layers).toEqual(a.layers); // the probe tracker's state came along
        expect(await weightsOf(second)).toEqual(await weightsOf(first));
      });
    });
  }, 60_000);

  test('a state of another model is refused', async () => {
    await useBackend('cpu');
    await withCore(async (core) => {
      const state = copyState(await core.getState());
      const broken = { ...state, arrays: state.arrays.filter((a) => !a.name.startsWith('weights/conv1')) };
      await expect(core.setState(broken)).rejects.toThrow(/no weights for conv1/);
    });
  }, 60_000);
});

describe('the compute core on webgpu', () => {
  test('the same losses as on cpu, within 1e-4', async () => {
    const losses = async (backend: 'cpu' | 'webgpu') => {
      await useBackend(backend);
      const before = tf.memory().numTensors;
      const out = await withCore(async (core) => {
        const values: number[] = [];
        for (let step = 1; step <= 4; step++) values.push((await core.step(request(step))).loss);
        values.push((await core.evaluate(batchOf(4, 50))).lossSum);
        return values;
      });
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const gpu = await losses('webgpu');
    const cpu = await losses('cpu');
    for (const [i, loss] of gpu.entries()) expect(Math.abs(loss - cpu[i]!) / Math.abs(cpu[i]!)).toBeLessThan(1e-4);
  }, 180_000);
});
