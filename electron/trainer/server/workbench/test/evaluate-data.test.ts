// evaluateRun's `data` through a LabHost over a MessagePort, as the app sends it: a run
// evaluated on another dataset (a typed folder in serve mode, or the synthetic set), the
// evaluated dataset and the overlap in the view and again from getEvaluation, and an
// imported run that names no dataset refused with what to choose.
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeImage, tempDir, writeFiles } from '../../../../../datasets/test/fixtures';
import type { LabClient } from '#protocol/client/lab-client';
import { connectInElectron } from '#protocol/client/connect';
import { createRun, openRun } from '../../../runs/run-store';
import { TrainingSession } from '../../../training/session';
import { portConnection } from '../../connection';
import { LabHost } from '../../lab-host';

type Listener = (event: { source: unknown; data: unknown; ports: readonly unknown[] }) => void;

/** The page's window as connectInElectron uses it; `lab.connectTrainer` does what main and the preload do. */
function appWindow(host: LabHost) {
  const listeners = new Set<Listener>();
  const win = {
    addEventListener: (_type: 'message', l: Listener) => listeners.add(l),
    removeEventListener: (_type: 'message', l: Listener) => listeners.delete(l),
    lab: {
      connectTrainer: () => {
        const { port1, port2 } = new MessageChannel();
        host.addConnection(portConnection(port1 as never, 'evaluate-data-test'), { pathInput: 'typed' });
        setTimeout(() => listeners.forEach((l) => l({ source: win, data: { type: 'lab:port' }, ports: [port2] })));
      },
    },
  };
  return win;
}

let dataDir = '';
let otherDir = '';
let pairsPath = '';
let runId = '';
let client: LabClient;

beforeAll(async () => {
  dataDir = await tempDir();
  const faces = await tempDir('fcl-faces-');
  otherDir = join(faces, 'other');
  const files: Record<string, Buffer> = {};
  for (let q = 1; q <= 4; q++) for (let k = 1; k <= 4; k++) files[`other/q0${q}/${k}.pgm`] = await makeImage('pgm', q * 10 + k);
  files['pairs.txt'] = Buffer.from(['2\t2', 'q01\t1\t2', 'q02\t1\t3', 'q01\t1\tq02\t2', 'q01\t3\tq02\t4', 'q03\t1\t2', 'q04\t2\t3', 'q03\t1\tq04\t1', 'q03\t4\tq04\t4', ''].join('\n'));
  await writeFiles(faces, files);
  pairsPath = join(faces, 'pairs.txt');
  const session = await TrainingSession.start(
    { data: 'synthetic:6x4', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, optimizer: 'adam', lr: 0.001, seed: 5, warmupSteps: 0, clipNorm: 0, maxSteps: 2 },
    { dataDir, backend: 'cpu', prefetch: 0 },
  );
  try {
    runId = session.run.id;
    await session.train();
  } finally {
    session.dispose();
  }
  client = await connectInElectron(appWindow(new LabHost({ dataDir, backend: 'cpu', prefetch: 0 })) as never);
}, 60_000);

afterAll(() => client?.close());

describe('evaluateRun on another dataset', () => {
  test('a folder and a pairs file of people the run never saw: the view names the dataset and shows no overlap; getEvaluation gives the same', async () => {
    const view = await client.request({
      name: 'evaluateRun',
      runId,
      hardest: 2,
      data: { kind: 'path', path: { kind: 'typed', path: otherDir }, layout: 'folders' },
      pairs: { kind: 'typed', path: pairsPath },
    });
    expect(view.data).toMatchObject({ name: 'other', source: otherDir, identities: 4, images: 16 });
    expect(view.overlap).toEqual({ checked: true, identities: 0, identityNames: [], images: 0 });
    expect(view.pairs).toBe(8);
    const again = await client.request({ name: 'getEvaluation', runId });
    expect(again?.data).toEqual(view.data);
    expect(again?.overlap).toEqual(view.overlap);
  }, 60_000);

  test('another synthetic set shares the synthetic people by name: the overlap and the warning come with the view', async () => {
    const view = await client.request({ name: 'evaluateRun', runId, hardest: 1, data: { kind: 'synthetic', identities: 8, imagesPerIdentity: 3 } });
    expect(view.data).toMatchObject({ source: 'synthetic:8x3, seed 1', identities: 8, images: 24 });
    expect(view.overlap).toMatchObject({ checked: true, identities: expect.any(Number) });
    expect(view.overlap!.identities).toBeGreaterThan(0);
    expect(view.notes.join('\n')).toMatch(/not comparable with published ones/);
  }, 60_000);

  test('a source the evaluation cannot take (a catalog entry) is refused by the protocol', async () => {
    await expect(client.request({ name: 'evaluateRun', runId, data: { kind: 'catalog', id: 'orl', acceptTerms: true } } as never)).rejects.toMatchObject({ code: 'invalid' });
  });

  test('an imported run with no dataset named: refused, saying to choose one', async () => {
    const trained = await openRun(dataDir, runId);
    const run = await createRun(dataDir, {
      config: { ...trained.record.config, data: 'imported:LightCNN_9Layers.pth' },
      dataset: { name: 'none (imported weights)', source: '/models/LightCNN_9Layers.pth', hash: '', identities: 0, images: 0, synthetic: false },
      backend: 'pytorch (imported)',
      versions: { lab: 'test' },
      label: 'imported',
      state: 'finished',
    });
    const checkpoint = await trained.loadLatestCheckpoint();
    await run.saveCheckpoint({ step: 0, epoch: 0, meta: {}, tensors: [...checkpoint!.arrays.values()] });
    await run.updateRun({ origin: { kind: 'imported', file: '/models/LightCNN_9Layers.pth', sha256: '0'.repeat(64), format: 'zip', classifier: false, notes: [] } });
    await expect(client.request({ name: 'evaluateRun', runId: run.id })).rejects.toMatchObject({
      code: 'TrainingError',
      message: `Run ${run.id} was imported from /models/LightCNN_9Layers.pth; it has no training dataset of its own: choose another dataset to evaluate it on (and a pairs file of its people)`,
    });
    const view = await client.request({ name: 'evaluateRun', runId: run.id, hardest: 1, data: { kind: 'path', path: { kind: 'typed', path: otherDir }, layout: 'auto' }, pairs: { kind: 'typed', path: pairsPath } });
    expect(view.overlap).toMatchObject({ checked: false, note: expect.stringMatching(/^overlap not checked: the lab does not know/) });
  }, 60_000);
});
