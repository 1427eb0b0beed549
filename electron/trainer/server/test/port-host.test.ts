// The desktop app's path, minus Electron: the renderer's client gets a MessagePort the way the
// preload hands it over (a window message carrying the port) and talks to a real LabHost on
// the other end; frames arrive as transferred ArrayBuffers.
import { MessageChannel } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import type { LabClient } from '#protocol/client/lab-client';
import { connectInElectron } from '#protocol/client/connect';
import type { DecodedFrame } from '#protocol/frames';
import type { TrainerEvent } from '#protocol/messages';
import { portConnection } from '../connection';
import { LabHost } from '../lab-host';

type Listener = (event: { source: unknown; data: unknown; ports: readonly unknown[] }) => void;

/** The page's window as far as connectInElectron uses it; `lab.connectTrainer` does what main + preload do. */
function appWindow(host: LabHost) {
  const listeners = new Set<Listener>();
  const win = {
    addEventListener: (_type: 'message', l: Listener) => listeners.add(l),
    removeEventListener: (_type: 'message', l: Listener) => listeners.delete(l),
    lab: {
      connectTrainer: () => {
        const { port1, port2 } = new MessageChannel();
        host.addConnection(portConnection(port1 as never, 'port-test'));
        setTimeout(() => listeners.forEach((l) => l({ source: {}, data: { type: 'lab:port' }, ports: [] }))); // someone else's message: ignored
        setTimeout(() => listeners.forEach((l) => l({ source: win, data: { type: 'lab:port' }, ports: [port2] })), 5);
      },
    },
  };
  return win;
}

test('over a MessagePort: status, a short run with a watched layer, frames, and the end state', async () => {
  const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
  const client: LabClient = await connectInElectron(appWindow(host) as never);
  const welcome = await client.welcomed();
  expect(welcome.pid).toBe(process.pid);
  expect(await client.status()).toMatchObject({ state: null, viewers: 1 });

  const frames: DecodedFrame[] = [];
  const events: TrainerEvent[] = [];
  client.on('frame', (f) => frames.push(f));
  client.on('event', (e) => events.push(e));
  await client.subscribe(['conv1.act']);
  await client.start({ data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 4, optimizer: 'adam', lr: 0.001, activation: 'prelu', seed: 4 });
  await host.idle();
  await new Promise((r) => setTimeout(r, 50));
  expect(frames.length).toBeGreaterThan(0);
  expect(frames[0]!.header.layer).toBe('conv1.act');
  expect(events.some((e) => e.type === 'state' && e.state === 'stopped')).toBe(true);
  await expect(client.pause()).rejects.toThrow(/nothing to pause: no run is training/);
  client.close();
}, 60_000);

test('connectInElectron says where it is when there is no bridge', async () => {
  await expect(connectInElectron({ addEventListener() {}, removeEventListener() {} })).rejects.toThrow(/not in the desktop app/);
});

test('two starts at once: one run trains, the other is refused as busy; a stale full-size request does not block another viewer', async () => {
  const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
  const a = await connectInElectron(appWindow(host) as never);
  const b = await connectInElectron(appWindow(host) as never);
  const config = { data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 200, optimizer: 'adam', lr: 0.001, seed: 4 };
  const results = await Promise.allSettled([a.start(config), b.start(config)]);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  expect(refused.reason).toMatchObject({ code: 'busy' });
  // Viewer a asks for probe 3 at full size, then b removes that probe: b's own subscription still works.
  await a.subscribe(['conv1.act'], { fullMap: { layer: 'conv1.act', filter: 0, probe: 3 } });
  await b.setProbes([0]);
  await expect(b.subscribe(['group1.a.act'])).resolves.toMatchObject({ layers: ['group1.a.act'] });
  await expect(b.subscribe(['group1.a.act'], { fullMap: { layer: 'conv1.act', filter: 0, probe: 3 } })).rejects.toMatchObject({ code: 'bad-subscription' });
  await a.stop();
  expect((await a.listRuns()) as unknown[]).toHaveLength(1);
  a.close();
  b.close();
}, 60_000);

test('a start sent on seeing the end state of the previous run (its lock not yet released) starts, for a new run and for resuming the same one', async () => {
  const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
  const client: LabClient = await connectInElectron(appWindow(host) as never);
  await client.welcomed();
  const config = { data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 2, optimizer: 'adam', lr: 0.001, seed: 4 };
  const ended = (runId: string) =>
    new Promise<void>((done) => {
      const off = client.on('event', (e) => {
        if (e.type === 'state' && e.runId === runId && (e.state === 'stopped' || e.state === 'finished')) {
          off();
          done();
        }
      });
    });
  const first = await client.start(config);
  await ended(first.runId);
  // At once, in the same task as the end state: the session is still winding down.
  const second = await client.start(config);
  expect(second.runId).not.toBe(first.runId);
  await ended(second.runId);
  const resumed = await client.resumeRun(second.runId, { overrides: { maxSteps: 3 } });
  expect(resumed.runId).toBe(second.runId);
  await host.idle();
  client.close();
}, 60_000);

test('a refused config comes back with its issues by field, for the form to mark (issue 16, 1)', async () => {
  const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
  const client: LabClient = await connectInElectron(appWindow(host) as never);
  await client.welcomed();
  const refused = await client.start({ data: 'synthetic:6x6', model: 'tiny', lr: -1, layers: { 'group1.a': 'softsign' } }).catch((error: unknown) => error);
  expect(refused).toMatchObject({ code: 'ConfigError', message: expect.stringMatching(/The training settings are not valid/) });
  const issues = [...(refused as { issues: { field: string; message: string }[] }).issues].sort((a, b) => a.field.localeCompare(b.field));
  expect(issues).toEqual([
    { field: 'layers.group1.a', message: expect.stringMatching(/not a known activation/) },
    { field: 'lr', message: expect.stringMatching(/>0/) },
  ]);
  // describeModel (the Experiment view's preview) says the same.
  const described = await client.request({ name: 'describeModel', config: { data: 'synthetic', lr: -1 }, identities: 10 }).catch((error: unknown) => error);
  expect(described).toMatchObject({ code: 'bad-config', issues: [{ field: 'lr' }] });
  client.close();
}, 60_000);

test('issue 14, 2.1: after a run ends, every layer, pre-activation, a filter at full size and Probe now are answered from its final weights', async () => {
  const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
  const client: LabClient = await connectInElectron(appWindow(host) as never);
  await client.welcomed();
  const frames: DecodedFrame[] = [];
  client.on('frame', (f) => frames.push(f));
  await client.subscribe(['conv1.act']);
  // A long probe interval: without a capture at the end, the last maps would be of step 1.
  await client.setProbeRate(60_000);
  await client.start({ data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 6, optimizer: 'adam', lr: 0.001, activation: 'relu', seed: 4 });
  await host.idle();
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(what()).toBe(true);
  };
  // The watched layer's last maps are of the final step.
  await until(() => frames.some((f) => f.header.layer === 'conv1.act' && f.header.step === 6));

  frames.length = 0;
  await client.subscribe(['group1.a.act']);
  await until(() => frames.some((f) => f.header.layer === 'group1.a.act' && f.header.kind === 'activation'));
  expect(frames.find((f) => f.header.layer === 'group1.a.act')!.header.step).toBe(6);

  frames.length = 0;
  await client.subscribe([], { preActivation: ['group1.b.act'], fullMap: { layer: 'conv1.act', filter: 2, probe: 1, kind: 'preactivation' } });
  await until(() => frames.some((f) => f.header.kind === 'preactivation' && f.header.layer === 'group1.b.act') && frames.some((f) => f.header.channel.startsWith('full:')));
  expect(frames.every((f) => f.header.step === 6)).toBe(true);

  frames.length = 0;
  await client.probeNow();
  await until(() => frames.some((f) => f.header.layer === 'group1.b.act'));

  // Other probe faces too.
  frames.length = 0;
  await client.setProbes([0, 7]);
  await until(() => frames.some((f) => f.header.layer === 'group1.b.act' && f.header.probes.join() === '0,7'));

  // A new run frees the ended one: its frames are the new run's.
  await client.subscribe(['conv1.act']);
  await client.start({ data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 2, optimizer: 'adam', lr: 0.001, activation: 'relu', seed: 5 });
  await host.idle();
  await host.close();
  client.close();
}, 60_000);
