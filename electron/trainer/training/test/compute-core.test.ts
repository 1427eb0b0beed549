// The compute core alone, as the session drives it: steps that learn, a state that resumes
// to the bit, messages and errors that survive structured cloning (they will cross a
// MessagePort), calls made together run one at a time, no leaked tensor, and the same losses
// on webgpu as on cpu.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { Rng } from '../../../../datasets/random';
import { WasmHeapFullError } from '../../../../models/kernels/wasm-heap';
import { useBackend } from '../../../../models/test/backend-compare';
import { GpuDeviceError } from '../../../../models/webgpu-device';
import { decodeFrame } from '#protocol/frames';
import { parseTrainConfig } from '../config';
import { coreErrorReply, errorFromCoreReply, InProcessCore, type BatchData, type ComputeCore, type StepRequest } from '../compute-core';
import { TrainingError } from '../run-model';

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

async function withCore<T>(f: (core: InProcessCore) => Promise<T>): Promise<T> {
  const core = await InProcessCore.create(crossing({ config: CONFIG, numClasses: CLASSES, probes: { intervalMs: 50 } }));
  try {
    return await f(core);
  } finally {
    await core.dispose();
  }
}

async function weightsOf(core: ComputeCore): Promise<Float32Array[]> {
  const { arrays } = await core.getState();
  return arrays.filter((a) => a.name.startsWith('weights/')).map((a) => a.values as Float32Array);
}

/** A frame's header and numbers, less the time it was captured at. */
function frameContent(buffer: ArrayBuffer) {
  const { header, stats, maps } = decodeFrame(buffer);
  const { capturedAt: _at, ...rest } = header;
  return { header: rest, stats, maps };
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
        if (step === 1) {
          // The subscription asked for a capture: every layer's grid, then the full map, in that order.
          const layer0 = core.model.activationLayers[0]!;
          expect(frames.map((f) => decodeFrame(f).header.channel)).toEqual([...core.model.activationLayers.map((l) => `frame:${l}`), `full:${layer0}:activation:0:1`]);
        }
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
      const state = crossing(await first.getState());
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

  test('getState hands out copies: writing into them, or the steps after, changes nothing the core holds', async () => {
    await useBackend('cpu');
    await withCore(async (core) => {
      await core.step(request(1));
      const state = await core.getState();
      const kept = structuredClone(state);
      for (const a of state.arrays) a.values.fill(0);
      expect((await core.getState()).arrays).toEqual(kept.arrays);
      await core.step(request(2));
      for (const a of state.arrays) expect(a.values.every((v) => v === 0)).toBe(true);
    });
  }, 60_000);

  test('calls made together (a step, a subscribe, a frames) run one at a time, in order, and give what calls made one after another give', async () => {
    await useBackend('cpu');
    const calls = (together: boolean) =>
      withCore(async (core) => {
        await core.setProbeFaces(batchOf(3, 99));
        await core.step(request(1));
        const subscription = { layers: new Set([core.model.activationLayers[0]!]), preActivation: new Set<string>(), fullMaps: [] };
        const order: string[] = [];
        const track = <T>(name: string, call: () => Promise<T>) => () => call().then((value) => (order.push(name), value));
        const step = track('step', () => core.step(request(2)));
        const subscribe = track('subscribe', () => core.subscribe(subscription));
        const frames = track('frames', () => core.frames(2, { now: true }));
        const [stepped, , captured] = together ? await Promise.all([step(), subscribe(), frames()]) : [await step(), await subscribe(), await frames()];
        const { stepMs: _ms, ...reply } = stepped;
        return { order, reply, frames: captured.frames.map(frameContent), warnings: captured.warnings };
      });
    const sequential = await calls(false);
    const together = await calls(true);
    expect(together.order).toEqual(['step', 'subscribe', 'frames']);
    expect(sequential.frames).toHaveLength(1);
    expect(sequential.reply.layers.length).toBeGreaterThan(0);
    expect(together).toEqual(sequential);
  }, 60_000);

  test('dispose waits for the calls made before it, and refuses those after it', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const core = await InProcessCore.create({ config: CONFIG, numClasses: CLASSES });
    const stepping = core.step(request(1));
    const disposing = core.dispose();
    expect((await stepping).finite).toBe(true);
    await disposing;
    expect(tf.memory().numTensors).toBe(before);
    await expect(core.step(request(2))).rejects.toThrow(/disposed/);
    await core.dispose(); // a second dispose does nothing
  }, 60_000);

  test('a state of another model is refused', async () => {
    await useBackend('cpu');
    await withCore(async (core) => {
      const state = await core.getState();
      const broken = { ...state, arrays: state.arrays.filter((a) => !a.name.startsWith('weights/conv1')) };
      await expect(core.setState(broken)).rejects.toThrow(/no weights for conv1/);
    });
  }, 60_000);
});

describe('errors that cross the boundary', () => {
  test('structured cloning alone loses a subclass\'s class and name', () => {
    const cloned = structuredClone(new WasmHeapFullError('the wasm heap is full'));
    expect(cloned).not.toBeInstanceOf(WasmHeapFullError);
    expect(cloned.name).toBe('Error');
  });

  const named = Object.assign(new Error('unknown command'), { name: 'CommandError' });
  test.each([
    ['gpu-device', new GpuDeviceError('WebGPU: the GPU device was lost'), GpuDeviceError],
    // What the session's heapFull needs: the class (it is caught by instanceof) and the message.
    ['wasm-heap-full', new WasmHeapFullError('the wasm heap is full (4 GiB): no room for a [64, 128, 128, 96] float32 tensor'), WasmHeapFullError],
    ['training', new TrainingError('no weights for conv1/kernel'), TrainingError],
    ['error', new RangeError('no activation layer "conv9.act"'), RangeError],
    ['error', new TypeError('state tensor "x" is bool'), TypeError],
    ['error', named, Error],
    ['error', new Error('plain'), Error],
  ] as const)('%s: %s comes back as its class, name and message', (kind, error, errorClass) => {
    const reply = crossing(coreErrorReply(error));
    expect(reply.kind).toBe(kind);
    const back = errorFromCoreReply(structuredClone(reply));
    expect(back).toBeInstanceOf(errorClass);
    expect(back.constructor).toBe(error.constructor);
    expect(back.name).toBe(error.name);
    expect(back.message).toBe(error.message);
    expect(back.stack).toBe(error.stack);
  });

  test('a thrown non-error comes back as an Error with its text', () => {
    const back = errorFromCoreReply(structuredClone(crossing(coreErrorReply('out of luck'))));
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe('out of luck');
  });
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

// Last in this file: the device stays marked broken for the rest of the process.
describe('a GPU error inside a call on webgpu', () => {
  test('a step during which the GPU reports an error fails with a GpuDeviceError, and so does a read of the weights after it', async () => {
    await useBackend('webgpu');
    await withCore(async (core) => {
      expect((await core.step(request(1))).finite).toBe(true);
      // A layer that also asks for an impossible buffer: a validation error in the middle of the step's GPU work.
      const layer = core.built.model.getLayer(core.model.activationLayers[0]!);
      const call = layer.call.bind(layer);
      const device = (tf.backend() as unknown as { device: GPUDevice }).device;
      layer.call = (inputs, kwargs) => {
        device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
        return call(inputs, kwargs);
      };
      const error = await core.step(request(2)).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(GpuDeviceError);
      expect((error as Error).message).toMatch(/^WebGPU: the GPU reported an error/);
      await expect(core.getState()).rejects.toBeInstanceOf(GpuDeviceError); // no checkpoint of weights it touched
      await expect(core.evaluate(batchOf(4, 50))).rejects.toBeInstanceOf(GpuDeviceError);
    });
  }, 60_000);
});
