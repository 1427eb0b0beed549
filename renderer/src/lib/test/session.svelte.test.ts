// The app-wide session: which trainer it talks to, and what it keeps across a trainer restart.
import { expect, test } from 'vitest';
import type { DatasetSummary } from '#protocol/workbench';
import { LabSession } from '../session.svelte';
import { ScriptedTrainer, TEST_LAB_INFO } from '../../test-support/scripted-trainer';

const DIALOG_INFO = { ...TEST_LAB_INFO, pathInput: 'dialog' as const };

function trainerWithPid(pid: number): ScriptedTrainer {
  return new ScriptedTrainer({ labInfo: () => DIALOG_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) }, pid);
}

const orl: DatasetSummary = {
  data: '/home/me/faces/orl_faces',
  label: 'orl_faces',
  synthetic: false,
  layout: 'folders',
  identityRule: 'folder',
  identities: 40,
  images: 400,
  imagesPerIdentity: { min: 10, median: 10, max: 10 },
  storedSize: 36,
  decoded: 400,
  reused: 0,
  removed: 0,
  skipped: [],
  seconds: 0.5,
};

test("a late exit report from an earlier trainer does not mark the current connection crashed; the current one's does", async () => {
  const session = new LabSession();
  const trainer = new ScriptedTrainer({ labInfo: () => DIALOG_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) });
  await session.attach(trainer.client);
  session.crashed(1, 'old trainer', 99999);
  expect(session.connection.kind).toBe('open');
  session.crashed(134, 'out of memory', 1);
  expect(session.connection).toEqual({ kind: 'crashed', code: 134, lastError: 'out of memory' });
});

test('in the desktop app, a restarted trainer does not know the dataset the window had opened: the window forgets it and says so', async () => {
  const session = new LabSession();
  const first = new ScriptedTrainer({ labInfo: () => DIALOG_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) });
  await session.attach(first.client);
  session.chooseDataset(orl);
  session.updateConfig({ data: orl.data, model: 'tiny' });
  // Reconnecting to the same trainer keeps it.
  const same = new ScriptedTrainer({ labInfo: () => DIALOG_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) });
  await session.attach(same.client);
  expect(session.dataset).toEqual(orl);
  // A new trainer process does not.
  const restarted = trainerWithPid(4242);
  await session.attach(restarted.client);
  expect(session.dataset).toBeNull();
  expect(session.config['data']).toBeUndefined();
  expect(session.config['model']).toBe('tiny');
  expect(session.notices.at(-1)?.text).toMatch(/restarted: open orl_faces again in the Data view/);
});

test('attaching a new client closes the previous one (it would stay a viewer of the trainer)', async () => {
  const session = new LabSession();
  const first = new ScriptedTrainer({ labInfo: () => TEST_LAB_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) });
  await session.attach(first.client);
  let closed = false;
  first.client.on('close', () => (closed = true));
  const second = new ScriptedTrainer({ labInfo: () => TEST_LAB_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) });
  await session.attach(second.client);
  expect(closed).toBe(true);
  expect(session.connection.kind).toBe('open');
});

test('a page opened while a run trains shows the Train view, with the run\'s earlier steps filled in from its metrics', async () => {
  const session = new LabSession();
  const trainer = new ScriptedTrainer({
    labInfo: () => TEST_LAB_INFO,
    status: () => ({ state: 'running', runId: 'run-7', step: 16, totalSteps: 100 }),
    getRun: () => ({ record: {}, metrics: [1, 2, 3].map((step) => ({ kind: 'step', step, epoch: 0, loss: 4 - step / 10, accuracy: 0, lr: 0.1, imagesPerSecond: 100, gradNorm: 1 })), warnings: [] }),
  });
  // What the trainer sends a viewer that connects mid-run, before anything else.
  trainer.event({ type: 'started', runId: 'run-7', step: 0, totalSteps: 100, backend: 'wasm', resumed: false });
  await session.attach(trainer.client);
  expect(session.view).toBe('train');
  expect(trainer.commands('getRun')).toEqual([{ name: 'getRun', runId: 'run-7' }]);
  await expect.poll(() => session.live?.progressView().x.length).toBe(3);
});

const idle = () => ({ state: null, runId: null, step: null, totalSteps: null });

test('the window title names the backend that trains, and on webgpu its GPU in short', async () => {
  const session = new LabSession();
  const trainer = new ScriptedTrainer({ labInfo: () => TEST_LAB_INFO, status: idle });
  await session.attach(trainer.client);
  expect(session.title).toBe('Face CNN Lab · cpu');
  const adapter = 'NVIDIA ampere (NVIDIA GeForce RTX 3060), in Chromium';
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 10, backend: 'training on webgpu (WebGPU in Chromium on NVIDIA ampere ...): tensorflow-gpu: not installed', backendName: 'webgpu', adapter, resumed: false });
  await expect.poll(() => session.title).toBe('Face CNN Lab · run-1 (running) · webgpu on NVIDIA GeForce RTX 3060');
  expect(session.run).toMatchObject({ backendName: 'webgpu', adapter });
  // An older trainer sends only the summary line: its backend is read from it.
  trainer.event({ type: 'started', runId: 'run-2', step: 0, totalSteps: 10, backend: 'training on wasm (WebAssembly): webgpu: no adapter', resumed: false });
  await expect.poll(() => session.title).toBe('Face CNN Lab · run-2 (running) · wasm');
  expect(session.run).toMatchObject({ backendName: null, adapter: null });
});

test('a backend picked for another trainer that cannot train on it is dropped, with a notice; an older trainer is named no backend', async () => {
  const session = new LabSession();
  await session.attach(new ScriptedTrainer({ labInfo: () => TEST_LAB_INFO, status: idle }).client);
  session.chooseBackend('wasm');
  expect(session.backendToName).toBe('wasm');
  // Reconnected to a trainer where wasm cannot train.
  const noWasm = { ...TEST_LAB_INFO, backends: TEST_LAB_INFO.backends.map((b) => (b.name === 'wasm' ? { ...b, canTrain: false, reason: 'not installed' } : b)) };
  await session.attach(new ScriptedTrainer({ labInfo: () => noWasm, status: idle }).client);
  expect(session.backendChoice).toBeNull();
  expect(session.backendToName).toBeUndefined();
  expect(session.notices.at(-1)?.text).toMatch(/cannot train on wasm: new runs use its automatic choice \(cpu\)/);
  // A trainer from before the choice lists no backends: nothing is named to it.
  session.chooseBackend('cpu');
  const { backends: _none, ...older } = TEST_LAB_INFO;
  await session.attach(new ScriptedTrainer({ labInfo: () => older as typeof TEST_LAB_INFO, status: idle }).client);
  expect(session.backendToName).toBeUndefined();
});

test('a trainer asked mid-run lists no backends: the pick waits, and labInfo is asked again once the run is over', async () => {
  const session = new LabSession();
  await session.attach(new ScriptedTrainer({ labInfo: () => TEST_LAB_INFO, status: idle }).client);
  session.chooseBackend('wasm');
  let training = true;
  const midRun = { ...TEST_LAB_INFO, backend: { name: 'cpu', summary: 'training on cpu now (the full check of the backends runs when no run is training)', canTrain: true }, backends: [] };
  const trainer = new ScriptedTrainer({ labInfo: () => (training ? midRun : TEST_LAB_INFO), status: () => ({ state: 'running', runId: 'run-1', step: 3, totalSteps: 10 }), getRun: () => ({ record: {}, metrics: [], warnings: [] }) });
  await session.attach(trainer.client);
  expect(session.backendChoice).toBe('wasm');
  expect(session.backendToName).toBeUndefined();
  expect(session.notices).toEqual([]);
  training = false;
  trainer.event({ type: 'state', state: 'stopped', runId: 'run-1' });
  await expect.poll(() => session.info?.backends.length).toBe(5);
  expect(trainer.commands('labInfo')).toHaveLength(2);
  expect(session.backendToName).toBe('wasm');
});

test('a failed run (a lost GPU host, say) has labInfo asked again: the backend list follows what can train now', async () => {
  const session = new LabSession();
  let gpuLost = false;
  const withGpu = { ...TEST_LAB_INFO, backends: TEST_LAB_INFO.backends.map((b) => (b.name === 'webgpu' ? { ...b, canTrain: true, reason: "webgpu in the app's GPU host on apple (Apple M2), in Chromium", adapter: 'apple (Apple M2), in Chromium' } : b)) };
  const lost = { ...TEST_LAB_INFO, backends: TEST_LAB_INFO.backends.map((b) => (b.name === 'webgpu' ? { ...b, canTrain: false, reason: "webgpu: the app's GPU host did not start" } : b)) };
  const trainer = new ScriptedTrainer({ labInfo: () => (gpuLost ? lost : withGpu), status: idle });
  await session.attach(trainer.client);
  expect(trainer.commands('labInfo')).toHaveLength(1);
  expect(session.info?.backends.find((b) => b.name === 'webgpu')?.canTrain).toBe(true);
  gpuLost = true;
  trainer.event({ type: 'state', state: 'failed', runId: 'run-1', message: "The GPU host that runs this run's compute core is gone" });
  await expect.poll(() => trainer.commands('labInfo').length).toBe(2);
  await expect.poll(() => session.info?.backends.find((b) => b.name === 'webgpu')?.canTrain).toBe(false);
});
