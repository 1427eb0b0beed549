// The app's trainer with a GPU host, over the protocol (a real LabHost and MessagePort, main
// played by a fake that answers as electron/main/gpu-host.ts does): labInfo lists every backend
// with its reason and the host's adapter, and a start or resume names the backend it trains on.
import { MessageChannel } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { LabClient } from '#protocol/client/lab-client';
import { portTransport } from '#protocol/client/port-transport';
import type { WebGpuAdapter } from '../../../../models/webgpu-adapter';
import type { TrainerEvent } from '#protocol/messages';
import { portConnection } from '../../server/connection';
import { LabHost } from '../../server/lab-host';
import { InProcessCore } from '../../training/compute-core';
import { serveCore, type PortLike } from '../../training/core-port';
import { GpuHostLink } from '../host-link';

const GPU: WebGpuAdapter = { vendor: 'apple', architecture: 'metal-3', device: '', description: 'Apple M2', api: 'Chromium', featureLevel: 'core', software: null, maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 30 };


/** A LabHost with a GPU host whose main is faked (each core served in this process), and a desktop window's client on it. */
async function trainerWithGpuHost(label: string) {
  const made = { cores: 0 };
  const link: GpuHostLink = new GpuHostLink({
    send: (request) =>
      setTimeout(() => {
        if (request.type === 'gpu-host-probe') return void link.receive({ type: 'gpu-host-probe', id: request.id, report: { ok: true, adapter: GPU } }, undefined);
        made.cores++;
        const { port1, port2 } = new MessageChannel();
        serveCore(port2, InProcessCore.create);
        link.receive({ type: 'gpu-core', id: request.id }, [port1 as unknown as PortLike]);
      }, 1),
  });
  const host = new LabHost({ dataDir: await tempDir(), prefetch: 0, gpuHost: link });
  const { port1, port2 } = new MessageChannel();
  host.addConnection(portConnection(port1 as never, label), { pathInput: 'dialog' });
  const client = new LabClient(portTransport(port2 as never));
  const events: TrainerEvent[] = [];
  client.on('event', (event) => events.push(event));
  await client.welcomed();
  return { link, host, client, events, made };
}

test('labInfo lists the backends with reasons and the GPU host\'s adapter; start and resumeRun train on the backend they name', async () => {
  const { host, client, events, made } = await trainerWithGpuHost('gpu-test');
  const cores = () => made.cores;

  const info = await client.request({ name: 'labInfo' });
  expect(info.backend).toMatchObject({ name: 'webgpu', canTrain: true, adapter: 'apple metal-3 (Apple M2), in Chromium; max buffer 4096 MiB, max storage binding 1024 MiB' });
  expect(info.backends.map((b) => b.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
  expect(info.backends.find((b) => b.name === 'webgpu')).toMatchObject({ canTrain: true, reason: expect.stringMatching(/^webgpu in the app's GPU host on apple metal-3/), adapter: expect.stringMatching(/^apple metal-3/) });
  expect(info.backends.find((b) => b.name === 'tensorflow-gpu')).toMatchObject({ canTrain: false, reason: expect.stringMatching(/not installed/) });
  expect(info.backends.find((b) => b.name === 'cpu')).toMatchObject({ canTrain: true });

  const config = { data: 'synthetic:4x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 2, optimizer: 'adam', lr: 0.001, seed: 3 };
  const finished = (runId: string) =>
    new Promise<void>((resolve) => {
      const check = () => (events.some((e) => e.type === 'state' && e.runId === runId && (e.state === 'stopped' || e.state === 'finished' || e.state === 'failed')) ? resolve() : setTimeout(check, 20));
      check();
    });
  const onCpu = await client.request({ name: 'start', config, backend: 'cpu' });
  await finished(onCpu.runId);
  expect(events.find((e) => e.type === 'started' && e.runId === onCpu.runId)).toMatchObject({ backendName: 'cpu' });
  expect(cores()).toBe(0);

  // The host lets the last run go just after its final state event: wait for that.
  const whenFree = async <T>(send: () => Promise<T>): Promise<T> => {
    for (let tries = 0; ; tries++) {
      try {
        return await send();
      } catch (error) {
        if (tries > 100 || !/is training: stop it/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const onGpu = await whenFree(() => client.request({ name: 'start', config }));
  await finished(onGpu.runId);
  expect(events.find((e) => e.type === 'started' && e.runId === onGpu.runId)).toMatchObject({ backendName: 'webgpu', adapter: 'apple metal-3 (Apple M2), in Chromium' });
  expect(cores()).toBe(1);

  // The GPU run resumed on cpu (as after a lost GPU host).
  await whenFree(() => client.request({ name: 'resumeRun', runId: onGpu.runId, backend: 'cpu', overrides: { maxSteps: 3 } }));
  await new Promise<void>((resolve) => {
    const check = () => (events.some((e) => e.type === 'started' && e.runId === onGpu.runId && e.resumed) ? resolve() : setTimeout(check, 20));
    check();
  });
  expect(events.find((e) => e.type === 'started' && e.runId === onGpu.runId && e.resumed)).toMatchObject({ backendName: 'cpu' });
  expect(cores()).toBe(1);
  client.close();
  await host.close();
}, 120_000);

test('a run whose GPU host was lost is not kept for its maps: a later Probe now says no run, not the lost host again', async () => {
  const { link, host, client, events } = await trainerWithGpuHost('gpu-lost-test');
  client.on('event', (event) => {
    if (event.type === 'started') link.receive({ type: 'gpu-host-lost', reason: 'the GPU host page crashed (reason: oom)' }, undefined);
  });
  const { runId } = await client.request({ name: 'start', config: { data: 'synthetic:4x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 6, optimizer: 'adam', lr: 0.001, seed: 3 } });
  await new Promise<void>((resolve) => {
    const check = () => (events.some((e) => e.type === 'state' && e.runId === runId && e.state === 'failed') ? resolve() : setTimeout(check, 20));
    check();
  });
  await host.idle();
  expect(events.find((e) => e.type === 'state' && e.state === 'failed')).toMatchObject({ message: expect.stringMatching(/GPU host .* is gone \(the GPU host page crashed \(reason: oom\)\)/) });
  expect(events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message)).not.toContainEqual(expect.stringMatching(/final weights could not be made/));
  await expect(client.request({ name: 'probeNow' })).rejects.toMatchObject({ code: 'no-run' });
  client.close();
  await host.close();
}, 120_000);
