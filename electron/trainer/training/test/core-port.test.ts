// The compute core over a real port (node:worker_threads' MessageChannel: real structured
// cloning and transfer): a session trains through it as through its own core, resumes
// through it, hears the core's errors as their classes and a lost host as such, and leaks
// nothing. And the core bundles for a browser page, where the app's GPU host will load it.
import { MessageChannel } from 'node:worker_threads';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { Rng } from '../../../../datasets/random';
import { WasmHeapFullError } from '../../../../models/kernels/wasm-heap';
import { useBackend } from '../../../../models/test/backend-compare';
import { GpuDeviceError } from '../../../../models/webgpu-device';
import { openRun } from '../../runs/run-store';
import { InProcessCore, type BatchData, type CoreFactory, type CoreSpec, type StepRequest } from '../compute-core';
import { parseTrainConfig, type TrainConfigInput } from '../config';
import { RemoteCore, serveCore, type CoreHost, type PortLike } from '../core-port';
import { TrainingError } from '../training-error';
import { TrainingSession, type TrainEvent } from '../session';

const root = resolve(import.meta.dirname, '../../../..');
const SIZE = 16;
const CLASSES = 6;
const SMALL: TrainConfigInput = { data: 'synthetic:6x8', model: 'tiny', inputSize: SIZE, batch: 4, epochs: 50, optimizer: 'adam', lr: 0.001, seed: 7, activation: 'rrelu', dropout: 0.2, warmupSteps: 0, clipNorm: 0 };
const SPEC: CoreSpec = { config: parseTrainConfig({ ...SMALL }), numClasses: CLASSES, probes: { intervalMs: 50 } };

function batchOf(count: number, seed: number): BatchData {
  const rng = new Rng(seed);
  return {
    pixels: Float32Array.from({ length: count * SIZE * SIZE }, () => rng.uniform(0, 1)),
    labels: Int32Array.from({ length: count }, (_, i) => i % CLASSES),
    indices: Int32Array.from({ length: count }, (_, i) => seed * 100 + i),
    count,
    inputSize: SIZE,
  };
}

const request = (step: number): StepRequest => ({ batch: batchOf(4, step), lr: 0.002, clipNorm: 5, step, seed: 7 });

/** A host on one end of a fresh channel, a RemoteCore on the other. */
async function remote(createCore: CoreFactory = InProcessCore.create, spec: CoreSpec = SPEC): Promise<{ core: RemoteCore; host: CoreHost }> {
  const { port1, port2 } = new MessageChannel();
  const host = serveCore(port2, createCore);
  return { core: await RemoteCore.create(port1, spec), host };
}

/** A core factory that serves each core it makes over its own channel; `hosts` collects the host ends. */
function portFactory(hosts: CoreHost[]): CoreFactory {
  return async (spec) => {
    const { port1, port2 } = new MessageChannel();
    hosts.push(serveCore(port2, InProcessCore.create));
    return RemoteCore.create(port1, spec);
  };
}

async function train(config: TrainConfigInput, dataDir: string, core?: CoreFactory, onEvent?: (e: TrainEvent, session: TrainingSession) => void) {
  const events: TrainEvent[] = [];
  let session!: TrainingSession;
  session = await TrainingSession.start(config, { dataDir, backend: 'cpu', prefetch: 0, onEvent: (e) => (events.push(e), onEvent?.(e, session)), ...(core ? { core } : {}) });
  try {
    return { outcome: await session.train(), events, runId: session.run.id };
  } finally {
    session.dispose();
  }
}

const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.type === 'progress' ? [e.loss] : []));
const layerStats = (events: TrainEvent[]) => events.filter((e) => e.type === 'layerStats');

async function stepRows(dataDir: string, runId: string) {
  const { rows } = await (await openRun(dataDir, runId)).readMetrics();
  return (rows as Array<{ kind?: string; step: number; loss?: number }>).filter((r) => r.kind === 'step').map((r) => ({ step: r.step, loss: r.loss }));
}

async function weightsOf(core: { getState(): Promise<{ arrays: Array<{ name: string; values: Float32Array | Int32Array }> }> }) {
  return (await core.getState()).arrays.filter((a) => a.name.startsWith('weights/')).map((a) => a.values);
}

describe('a session whose core is across a port (cpu)', () => {
  test('trains to the same losses and layer statistics as with its own core, and leaves no tensor once the host has closed', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const config = { ...SMALL, maxSteps: 8 };
    const hosts: CoreHost[] = [];
    const through = await train(config, await tempDir(), portFactory(hosts));
    expect(hosts).toHaveLength(1);
    await hosts[0]!.closed; // the session's dispose closed the port: the host freed its core
    expect(tf.memory().numTensors).toBe(before);
    const reference = await train(config, await tempDir());
    expect(through.outcome).toMatchObject({ state: 'stopped', step: 8 });
    expect(losses(through.events)).toHaveLength(8);
    expect(losses(through.events)).toEqual(losses(reference.events));
    expect(layerStats(through.events).length).toBeGreaterThan(0);
    expect(layerStats(through.events)).toEqual(layerStats(reference.events));
  }, 60_000);

  test('a run stopped and resumed through ports (getState into its checkpoint, setState from it) continues as an uninterrupted run', async () => {
    const config = { ...SMALL, maxSteps: 8, checkpointEvery: 0 };
    const referenceDir = await tempDir();
    const reference = await train(config, referenceDir);
    const dataDir = await tempDir();
    const hosts: CoreHost[] = [];
    const first = await train(config, dataDir, portFactory(hosts), (e, session) => e.type === 'progress' && e.step === 4 && session.stop());
    expect(first.outcome).toMatchObject({ state: 'stopped', step: 4 });
    expect(first.events.find((e) => e.type === 'checkpoint')).toMatchObject({ step: 4 });
    const resumed = await TrainingSession.resume(first.runId, { dataDir, backend: 'cpu', prefetch: 0, core: portFactory(hosts) });
    try {
      expect((await resumed.train()).step).toBe(8);
    } finally {
      resumed.dispose();
    }
    await Promise.all(hosts.map((h) => h.closed));
    expect(hosts).toHaveLength(2);
    const rows = await stepRows(dataDir, first.runId);
    expect(rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows).toEqual(await stepRows(referenceDir, reference.runId));
  }, 60_000);
});

describe('RemoteCore and serveCore', () => {
  test('batches are transferred in, states come back whole; a state moved between two remote cores resumes to the bit', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const a = await remote();
    const b = await remote();
    expect(a.core.model).toEqual((await InProcessCore.create(SPEC).then(async (c) => (await c.dispose(), c))).model);
    const sent = request(1);
    const { pixels, labels, indices } = sent.batch;
    expect((await a.core.step(sent)).finite).toBe(true);
    expect(pixels.byteLength).toBe(0); // moved to the host, not copied
    expect(labels.byteLength).toBe(0);
    expect(indices.length).toBe(4); // the indices are small, and copied
    for (let step = 2; step <= 3; step++) await a.core.step(request(step));
    const state = await a.core.getState();
    expect(state.optimizerUpdates).toBe(3);
    expect(state.arrays.every((x) => x.values.byteLength > 0 && (x.values instanceof Float32Array || x.values instanceof Int32Array))).toBe(true);
    const fresh = await weightsOf(b.core);
    await b.core.setState(state);
    expect(state.arrays.every((x) => x.values.byteLength > 0)).toBe(true); // copied: the caller may keep it
    expect(await weightsOf(b.core)).toEqual(await weightsOf(a.core));
    expect(fresh).not.toEqual(await weightsOf(a.core));
    const [x, y] = [await a.core.step(request(4)), await b.core.step(request(4))];
    expect({ ...y, stepMs: 0 }).toEqual({ ...x, stepMs: 0 });
    await Promise.all([a.core.dispose(), b.core.dispose()]);
    await Promise.all([a.host.closed, b.host.closed]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(a.core.getState()).rejects.toThrow(/disposed/);
    await a.core.dispose(); // a second dispose does nothing
  }, 60_000);

  test('probe faces, frames and snapshots cross the port; calls made together are answered in order', async () => {
    await useBackend('cpu');
    const { core, host } = await remote();
    try {
      await core.setProbeFaces(batchOf(3, 99));
      const subscription = { layers: new Set(core.model.activationLayers), preActivation: new Set<string>(), fullMaps: [] };
      const order: string[] = [];
      const track = <T>(name: string, p: Promise<T>) => p.then((v) => (order.push(name), v));
      const [, , captured, settings] = await Promise.all([track('step', core.step(request(1))), track('subscribe', core.subscribe(subscription)), track('frames', core.frames(1, { now: true })), track('configure', core.configureProbes({ statsWindow: 5 }))]);
      expect(order).toEqual(['step', 'subscribe', 'frames', 'configure']);
      expect(captured.frames).toHaveLength(core.model.activationLayers.length);
      for (const f of captured.frames) expect(f).toBeInstanceOf(ArrayBuffer);
      expect(settings.statsWindow).toBe(5);
      expect(await core.snapshot(1)).toHaveLength(core.model.activationLayers.length);
    } finally {
      await core.dispose();
      await host.closed;
    }
  }, 60_000);

  test('errors thrown by the host\'s core arrive as their classes, with their messages', async () => {
    await useBackend('cpu');
    const { core, host } = await remote(async (spec) => {
      const made = await InProcessCore.create(spec);
      made.step = async () => {
        throw new GpuDeviceError('WebGPU: the GPU device was lost (destroyed)');
      };
      made.evaluate = async () => {
        throw new WasmHeapFullError('the wasm heap is full (4 GiB): no room for a [4, 16, 16, 8] float32 tensor');
      };
      return made;
    });
    try {
      const stepError = await core.step(request(1)).then(() => null, (e: unknown) => e);
      expect(stepError).toBeInstanceOf(GpuDeviceError);
      expect((stepError as Error).message).toBe('WebGPU: the GPU device was lost (destroyed)');
      await expect(core.evaluate(batchOf(4, 50))).rejects.toBeInstanceOf(WasmHeapFullError);
      await expect(core.subscribe({ layers: new Set(['conv9.act']), preActivation: new Set(), fullMaps: [] })).rejects.toBeInstanceOf(RangeError);
      const state = await core.getState();
      const broken = { ...state, arrays: state.arrays.filter((a) => !a.name.startsWith('weights/conv1')) };
      const restoreError = await core.setState(broken).then(() => null, (e: unknown) => e);
      expect(restoreError).toBeInstanceOf(TrainingError);
      expect((restoreError as Error).message).toMatch(/no weights for conv1/);
      expect((await core.configureProbes({})).statsEnabled).toBe(true); // the core goes on after its errors
    } finally {
      await core.dispose();
      await host.closed;
    }
  }, 60_000);

  test('a core that cannot be made: create fails with its error, and both ends of the port close', async () => {
    const { port1, port2 } = new MessageChannel();
    const host = serveCore(port2, () => {
      throw new TrainingError('the model needs at least 57 px of input');
    });
    const error = await RemoteCore.create(port1, SPEC).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toBe('the model needs at least 57 px of input');
    await host.closed; // RemoteCore.create closed its end
  });

  test('a host whose port closes mid-step fails that call and every later one as a lost GPU host; dispose still resolves and the host frees its core', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    let host!: CoreHost;
    const { core } = await remote(async (spec) => {
      const made = await InProcessCore.create(spec);
      const step = made.step.bind(made);
      made.step = (r) => {
        const stepping = step(r);
        void host.close(); // as a crashed host page: its end of the port goes away while the step runs
        return stepping;
      };
      return made;
    }).then((r) => ((host = r.host), r));
    const error = await core.step(request(1)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/^The GPU host that runs this run's compute core is gone \(its port closed\) at its "step"\. The run keeps its last checkpoint and can be resumed from it \(in the app: Resume in Runs, which opens a fresh GPU host\), on another backend/);
    await expect(core.getState()).rejects.toThrow(/is gone \(its port closed\) at its "getState"/);
    await core.dispose();
    await host.closed;
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  test('the app can report the host lost (its page crashed) while a call is in flight', async () => {
    await useBackend('cpu');
    const { core, host } = await remote();
    const stepping = core.step(request(1));
    core.lost('the GPU host page crashed');
    await expect(stepping).rejects.toThrow(/is gone \(the GPU host page crashed\) at its "step"\. The run keeps its last checkpoint/);
    await core.dispose();
    await host.closed;
  }, 60_000);

  test('malformed messages are refused with a clear error on either side', async () => {
    // The host answers what it cannot read.
    const { port1: session, port2 } = new MessageChannel();
    const host = serveCore(port2, InProcessCore.create);
    const replies: unknown[] = [];
    session.on('message', (m) => replies.push(m));
    session.postMessage('hello');
    session.postMessage({ id: 3, method: 'train', args: [] });
    session.postMessage({ id: 4, method: 'step', args: {} });
    session.postMessage({ id: 5, method: 'getState', args: [] });
    await expect.poll(() => replies.length).toBe(4);
    expect(replies).toEqual([
      { id: null, ok: false, error: expect.objectContaining({ name: 'TypeError', message: 'a compute core request must be an object, not the string "hello"' }) },
      { id: 3, ok: false, error: expect.objectContaining({ name: 'TypeError', message: 'the compute core has no method "train"' }) },
      { id: 4, ok: false, error: expect.objectContaining({ name: 'TypeError', message: 'the arguments of "step" must be an array, not an object' }) },
      { id: 5, ok: false, error: expect.objectContaining({ message: '"getState" before "create": the first request on a compute core\'s port makes the core' }) },
    ]);
    session.close();
    await host.closed;

    // The session side fails its pending calls on a reply it cannot read.
    const { port1, port2: fakeHost } = new MessageChannel();
    const model = (await InProcessCore.create(SPEC).then(async (c) => (await c.dispose(), c))).model;
    fakeHost.on('message', (m: { id: number; method: string }) => fakeHost.postMessage(m.method === 'create' ? { id: m.id, ok: true, value: model } : { id: m.id, ok: 'yes' }));
    const core = await RemoteCore.create(port1, SPEC);
    await expect(core.getState()).rejects.toThrow(/^the compute core's host sent a malformed reply \(a reply's "ok" must be true or false, not the string "yes"\); its pending calls are lost$/);
    await expect(core.requestCapture()).rejects.toThrow(/malformed reply/);
    await core.dispose().catch(() => {});
    fakeHost.close();
  }, 60_000);

  test('a port that cannot transfer buffers (Electron\'s MessagePortMain: `on` only, {data} events) gets copies', async () => {
    await useBackend('cpu');
    const { port1, port2 } = new MessageChannel();
    // Electron's shape over a real port: 'message' listeners get { data }, and buffers in a transfer list are refused.
    const electronLike: PortLike = {
      postMessage(message, transfer) {
        if (transfer.length > 0) throw new TypeError('Invalid value for transfer');
        port1.postMessage(message);
      },
      on(event, listener) {
        port1.on(event, event === 'message' ? (data: unknown) => listener({ data }) : listener);
      },
      close: () => port1.close(),
    };
    const host = serveCore(port2, InProcessCore.create);
    const core = await RemoteCore.create(electronLike, SPEC);
    try {
      const sent = request(1);
      expect((await core.step(sent)).finite).toBe(true);
      expect(sent.batch.pixels.byteLength).toBe(SIZE * SIZE * 4 * 4); // copied, so still the caller's
      expect((await core.step(request(2))).finite).toBe(true);
    } finally {
      await core.dispose();
      await host.closed;
    }
  }, 60_000);
});

describe('the compute core bundles for a browser page (the app\'s GPU host)', () => {
  const bundle = (entries: string[]) =>
    build({ entryPoints: entries.map((e) => resolve(root, e)), bundle: true, write: false, platform: 'browser', format: 'esm', outdir: resolve(root, 'out/browser-check'), metafile: true, logLevel: 'silent' });

  test('compute-core.ts and core-port.ts: no Node builtin and no Node-only module in their import graph', async () => {
    const result = await bundle(['electron/trainer/training/compute-core.ts', 'electron/trainer/training/core-port.ts']);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('electron/trainer/training/compute-core.ts');
    expect(inputs).toContain('electron/trainer/training/core-port.ts');
    expect(inputs.filter((i) => /^node:|(^|\/)(datasets\/(index|batches)|probes\/snapshots|run-model)\.ts$/.test(i))).toEqual([]);
    expect(result.outputFiles.map((f) => f.path.replace(/.*\//, ''))).toEqual(['compute-core.js', 'core-port.js']);
  }, 60_000);

  test('the check fails where a module needs Node (run-model.ts reads datasets)', async () => {
    const error = await bundle(['electron/trainer/training/run-model.ts']).then(() => null, (e: { errors?: Array<{ text: string }> }) => e);
    expect(error?.errors?.map((e) => e.text)).toContain('Could not resolve "node:crypto"');
  }, 60_000);
});
