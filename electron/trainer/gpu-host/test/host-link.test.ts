// The trainer's link to the app's GPU host, with main played by a fake that answers as
// electron/main/gpu-host.ts does and serves each core port with the real serveCore and
// InProcessCore (on this process's own CPU backend: the Chromium page itself is tested in
// e2e/gpu-host.e2e.test.ts). What is tested is the trainer's side: backend selection takes the
// page's adapter (and refuses a software one unless chosen by name), a run's core is made on
// the host, a lost host stops the run with its last checkpoint and a resume on another backend
// continues it, and the link's own failure paths (no answer, late answers, malformed ones).
import { MessageChannel } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { BackendError, selectBackend } from '../../../../models/backend';
import type { WebGpuAdapter } from '../../../../models/webgpu-adapter';
import { GpuDeviceError } from '../../../../models/webgpu-device';
import { openRun } from '../../runs/run-store';
import { InProcessCore } from '../../training/compute-core';
import { serveCore, type CoreHost, type PortLike } from '../../training/core-port';
import { TrainingSession } from '../../training/session';
import { runSession, TINY_RUN, type Of } from '../../training/test/run-session';
import { GpuHostLink } from '../host-link';
import { serveGpuCore } from '../page';
import type { GpuHostReport, TrainerGpuRequest } from '#protocol/gpu-host';

const GPU: WebGpuAdapter = { vendor: 'nvidia', architecture: 'ampere', device: 'NVIDIA GeForce RTX 3060', description: '', api: 'Chromium', featureLevel: 'core', software: null, maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 };
const SWIFTSHADER: WebGpuAdapter = { ...GPU, vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device (Subzero)', software: "SwiftShader is Google's software Vulkan" };

interface FakeMain {
  readonly link: GpuHostLink;
  readonly sent: TrainerGpuRequest[];
  readonly hosts: CoreHost[];
  readonly logged: string[];
}

/**
 * A channel whose trainer end behaves as Electron's MessagePortMain: it refuses anything but
 * ports in a transfer list (a TypeError), and a message the page posts with an ArrayBuffer in
 * its transfer list arrives with its data lost, as null (electron/electron#34905).
 */
function electronLikeChannel(): { trainerEnd: PortLike; pageEnd: PortLike } {
  const { port1, port2 } = new MessageChannel();
  const wrap = (port: typeof port1, post: (message: unknown, transfer: ArrayBuffer[]) => void): PortLike => ({
    postMessage: post,
    addEventListener: (type, listener) => port.addEventListener(type, listener),
    removeEventListener: (type, listener) => port.removeEventListener(type, listener),
    start: () => port.start(),
    close: () => port.close(),
  });
  const trainerEnd = wrap(port1, (message, transfer) => {
    if (transfer.length > 0) throw new TypeError('Invalid value for transfer');
    port1.postMessage(message);
  });
  const pageEnd = wrap(port2, (message, transfer) => {
    if (transfer.length > 0) port2.postMessage(null, transfer);
    else port2.postMessage(message);
  });
  return { trainerEnd, pageEnd };
}

/** Main as the app's: answers probes with `report` and serves every core port it hands out. */
function fakeMain(report: GpuHostReport, options: { answer?: boolean; timeoutMs?: number; serve?: (port: PortLike) => CoreHost; hold?: boolean } = {}): FakeMain {
  const sent: TrainerGpuRequest[] = [];
  const hosts: CoreHost[] = [];
  const logged: string[] = [];
  const link: GpuHostLink = new GpuHostLink({
    send: (request) => {
      sent.push(request);
      if (options.answer === false) return;
      setTimeout(() => {
        if (request.type === 'gpu-host-probe') {
          link.receive({ type: 'gpu-host-probe', id: request.id, report }, undefined);
        } else if (!report.ok) {
          link.receive({ type: 'gpu-core', id: request.id, error: `the GPU host has no WebGPU: ${report.reason}` }, undefined);
        } else {
          const { trainerEnd, pageEnd } = electronLikeChannel();
          if (!options.hold) hosts.push((options.serve ?? serveGpuCore)(pageEnd));
          link.receive({ type: 'gpu-core', id: request.id }, [trainerEnd]);
        }
      }, 1);
    },
    log: (line) => logged.push(line),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  return { link, sent, hosts, logged };
}

describe('backend selection with the app\'s GPU host', () => {
  test('a GPU adapter on the host: webgpu is chosen, trains there, and this process keeps a CPU backend of its own', async () => {
    const { link } = fakeMain({ ok: true, adapter: GPU });
    const choice = await selectBackend({ purpose: 'train', remoteWebGpu: link, survey: true });
    expect(choice).toMatchObject({ name: 'webgpu', remote: true, canTrain: true, adapter: GPU });
    expect(['wasm', 'cpu', 'tensorflow']).toContain(choice.tfBackend);
    expect(choice.summary).toMatch(/^training on webgpu \(WebGPU in the app's GPU host on nvidia ampere \(NVIDIA GeForce RTX 3060\), in Chromium\)/);
    expect(choice.survey?.map((a) => a.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    expect(choice.survey?.find((a) => a.name === 'cpu')).toMatchObject({ ok: true, canTrain: true });
  }, 60_000);

  test('a software adapter (SwiftShader) is passed over automatically, with the reason, and used when named', async () => {
    const { link } = fakeMain({ ok: true, adapter: SWIFTSHADER });
    const automatic = await selectBackend({ purpose: 'train', remoteWebGpu: link });
    expect(automatic.name).not.toBe('webgpu');
    expect(automatic.attempts.find((a) => a.name === 'webgpu')).toMatchObject({ ok: false, byNameOnly: true, reason: expect.stringMatching(/only a software adapter, google swiftshader .*SwiftShader is Google's software Vulkan.*not chosen automatically/) });
    const named = await selectBackend({ purpose: 'train', remoteWebGpu: link, force: 'webgpu' });
    expect(named).toMatchObject({ name: 'webgpu', remote: true });
    expect(named.summary).toMatch(/a software adapter: correct, not fast/);
  }, 60_000);

  test('a host without WebGPU: the page\'s reason and way out are the user\'s answer when webgpu is named', async () => {
    const { link } = fakeMain({ ok: false, reason: 'this page has no WebGPU (navigator.gpu)', hint: 'Update the GPU driver' });
    const automatic = await selectBackend({ purpose: 'train', remoteWebGpu: link });
    expect(automatic.attempts.find((a) => a.name === 'webgpu')).toMatchObject({ ok: false, reason: 'webgpu: this page has no WebGPU (navigator.gpu)' });
    const error = await selectBackend({ purpose: 'train', remoteWebGpu: link, force: 'webgpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toBe('The webgpu backend cannot be used for training: webgpu: this page has no WebGPU (navigator.gpu). Update the GPU driver.');
  }, 60_000);
});

describe('selections one at a time', () => {
  test('a run\'s choice made while a survey waits on the GPU host is the one that stays', async () => {
    let answer!: () => void;
    const slowHost = { where: "the app's GPU host", probe: () => new Promise<GpuHostReport>((resolve) => (answer = () => resolve({ ok: true, adapter: GPU }))) };
    const order: string[] = [];
    const survey = selectBackend({ purpose: 'train', survey: true, remoteWebGpu: slowHost }).then((c) => (order.push('survey'), c));
    const run = selectBackend({ purpose: 'train', force: 'cpu' }).then((c) => (order.push('run'), c));
    await new Promise((resolve) => setTimeout(resolve, 50));
    answer();
    const [surveyed, chosen] = await Promise.all([survey, run]);
    expect(order).toEqual(['survey', 'run']);
    expect(surveyed.tfBackend).not.toBe('cpu'); // the survey's own choice kept this process on wasm
    expect(chosen.tfBackend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  }, 60_000);
});

describe('a run on the app\'s GPU host', () => {
  test('trains through a core made on the host, to the losses of the same backend in this process; started names webgpu and the adapter', async () => {
    const main = fakeMain({ ok: true, adapter: GPU });
    const remote = await runSession({ dataDir: await tempDir(), maxSteps: 6, session: { gpuHost: main.link } });
    expect(remote.outcome).toMatchObject({ state: 'stopped', step: 6 }); // stopped at maxSteps
    const started = remote.events.find((e) => e.type === 'started') as Of<'started'>;
    expect(started).toMatchObject({ backendName: 'webgpu', adapter: 'nvidia ampere (NVIDIA GeForce RTX 3060), in Chromium' });
    expect(main.sent.filter((r) => r.type === 'gpu-core')).toHaveLength(1);
    expect(main.hosts).toHaveLength(1);
    await main.hosts[0]?.closed; // the session disposed its core: the host freed it
    expect(remote.events.some((e) => e.type === 'frames')).toBe(true);
    // The fake host computes on this process's backend, so the same run there must agree to the bit.
    const local = (await selectBackend({ purpose: 'train', remoteWebGpu: main.link })).tfBackend;
    const reference = await runSession({ dataDir: await tempDir(), maxSteps: 6, session: { backend: local as 'wasm' | 'cpu' } });
    expect(remote.losses).toEqual(reference.losses);
  }, 120_000);

  test('a host lost mid-run stops the run with its last checkpoint, and it resumes on another backend', async () => {
    const main = fakeMain({ ok: true, adapter: GPU });
    const dataDir = await tempDir();
    const session = await TrainingSession.start({ ...TINY_RUN, maxSteps: 12, checkpointEvery: 4 }, {
      dataDir,
      prefetch: 0,
      gpuHost: main.link,
      onEvent: (event) => {
        if (event.type === 'progress' && event.step === 6) main.link.receive({ type: 'gpu-host-lost', reason: 'the GPU host page crashed (reason: crashed)' }, undefined);
      },
    });
    let error: unknown;
    try {
      error = await session.train().then(() => null, (e: unknown) => e);
    } finally {
      session.dispose();
    }
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/^The GPU host that runs this run's compute core is gone \(the GPU host page crashed \(reason: crashed\)\) at its "\w+"\. The run keeps its last checkpoint and can be resumed from it \(in the app: Resume in Runs, which opens a fresh GPU host\), on another backend/);
    const run = await openRun(dataDir, session.run.id);
    expect(run.record).toMatchObject({ state: 'failed', lastCheckpoint: { step: 4 }, failure: { step: 6 } });
    const resumed = await runSession({ dataDir, maxSteps: 12, resume: session.run.id, session: { backend: 'cpu' } });
    expect(resumed.outcome).toMatchObject({ state: 'stopped', step: 12 });
    expect((resumed.events.find((e) => e.type === 'started') as Of<'started'>)).toMatchObject({ backendName: 'cpu', step: 4, resumed: true });
  }, 120_000);
});

describe('the port between the trainer (Electron\'s MessagePortMain) and the page', () => {
  test('a page that transferred its replies\' buffers would lose them on the way (the data arrives as null): the run fails at its first read', async () => {
    const main = fakeMain({ ok: true, adapter: GPU }, { serve: (port) => serveCore(port, InProcessCore.create) });
    const error = await runSession({ dataDir: await tempDir(), maxSteps: 3, session: { gpuHost: main.link } }).then(() => null, (e: unknown) => e);
    expect(String(error)).toMatch(/the compute core's host sent a malformed reply \(a reply must be an object, not null\)/);
  }, 60_000);

  test('the page copies them (serveGpuCore) and the trainer copies batches: the run trains, with maps and checkpoints', async () => {
    const main = fakeMain({ ok: true, adapter: GPU });
    const run = await runSession({ dataDir: await tempDir(), maxSteps: 3, session: { gpuHost: main.link } });
    expect(run.outcome).toMatchObject({ state: 'stopped', step: 3 });
    expect(run.events.some((e) => e.type === 'frames')).toBe(true);
    expect(run.events.some((e) => e.type === 'checkpoint')).toBe(true);
  }, 60_000);
});

describe('GpuHostLink on its own', () => {
  test('main that never answers: the probe says so (no WebGPU for this choice), a core request fails', async () => {
    const { link } = fakeMain({ ok: true, adapter: GPU }, { answer: false, timeoutMs: 30 });
    expect(await link.probe()).toEqual({ ok: false, reason: "the app's GPU host did not answer (main did not answer within 0 s)", hint: 'Restart the app; until then train on another backend' });
    await expect(link.createCore({} as never)).rejects.toThrow('main did not answer within 0 s');
  });

  test('a refused core request carries main\'s reason', async () => {
    const { link } = fakeMain({ ok: false, reason: 'no adapter', hint: '' });
    await expect(link.createCore({} as never)).rejects.toThrow('the GPU host has no WebGPU: no adapter');
  });

  test('only GPU host messages are taken; malformed ones are logged, late ones logged and their port closed', () => {
    const { link, logged } = fakeMain({ ok: true, adapter: GPU }, { answer: false });
    expect(link.receive({ type: 'grant' }, undefined)).toBe(false);
    expect(link.receive(null, undefined)).toBe(false);
    expect(link.receive({ type: 'gpu-core', id: -1 }, undefined)).toBe(true);
    expect(link.receive({ type: 'gpu-host-probe', id: 1, report: { ok: true, adapter: { ...GPU, api: 'Glide' } } }, undefined)).toBe(true);
    let closed = 0;
    const port = { postMessage: () => undefined, close: () => void closed++ };
    expect(link.receive({ type: 'gpu-core', id: 99 }, [port])).toBe(true);
    expect(closed).toBe(1);
    expect(logged).toEqual([
      'the trainer ignored a malformed GPU host message from main: a gpu-core answer needs a non-negative integer id',
      "the trainer ignored a malformed GPU host message from main: the adapter's api must be one of Vulkan, Metal, D3D12, OpenGL, OpenGL ES, Chromium",
      'main answered GPU host request 99, which is no longer waited for',
    ]);
  });

  test('a core answer without a port is a bug, said as such', async () => {
    const sent: TrainerGpuRequest[] = [];
    const link = new GpuHostLink({ send: (request) => void sent.push(request) });
    const making = link.createCore({} as never);
    link.receive({ type: 'gpu-core', id: sent[0]?.id }, []);
    await expect(making).rejects.toThrow(/without a port \(a bug in the app/);
  });

  test('a host lost while a core is being made fails the making at once, and closes its port', async () => {
    const main = fakeMain({ ok: true, adapter: GPU }, { hold: true }); // the page never answers the create
    const { parseTrainConfig } = await import('../../training/config');
    const making = main.link.createCore({ config: parseTrainConfig({ ...TINY_RUN }), numClasses: 6 });
    await new Promise((resolve) => setTimeout(resolve, 20)); // the port has arrived; create is in flight
    main.link.receive({ type: 'gpu-host-lost', reason: 'the GPU host page crashed' }, undefined);
    const error = await making.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/is gone \(the GPU host page crashed\) at its "create"/);
  });

  test('a lost host fails the calls in flight of every live core with a GpuDeviceError', async () => {
    const main = fakeMain({ ok: true, adapter: GPU });
    const { parseTrainConfig } = await import('../../training/config');
    const core = await main.link.createCore({ config: parseTrainConfig({ ...TINY_RUN }), numClasses: 6 });
    const reading = core.getState();
    main.link.receive({ type: 'gpu-host-lost', reason: 'Chromium\'s GPU process died' }, undefined);
    const error = await reading.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuDeviceError);
    expect((error as Error).message).toMatch(/is gone \(Chromium's GPU process died\) at its "getState"/);
    await core.dispose();
    await main.hosts[0]?.close();
  });
});
