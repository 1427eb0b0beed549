// renameRun, setRunNotes and deleteRun (issue 14, 4) through a LabHost over a MessagePort,
// as the desktop app sends them: the name and notes land in run.json and come back in
// listRuns/getRun; delete moves the folder to <data folder>/trash/ and says how to
// restore it; a run being trained (its lock held) and bad input are refused with the cause
// and the way out.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../../datasets/test/fixtures';
import type { LabClient } from '#protocol/client/lab-client';
import { connectInElectron } from '#protocol/client/connect';
import { createRun, type RunHandle, type RunInit } from '../../../runs/run-store';
import { portConnection } from '../../connection';
import { LabHost } from '../../lab-host';

type Listener = (event: { source: unknown; data: unknown; ports: readonly unknown[] }) => void;

function appWindow(host: LabHost) {
  const listeners = new Set<Listener>();
  const win = {
    addEventListener: (_type: 'message', l: Listener) => listeners.add(l),
    removeEventListener: (_type: 'message', l: Listener) => listeners.delete(l),
    lab: {
      connectTrainer: () => {
        const { port1, port2 } = new MessageChannel();
        host.addConnection(portConnection(port1 as never, 'run-edit-test'), { pathInput: 'dialog' });
        setTimeout(() => listeners.forEach((l) => l({ source: win, data: { type: 'lab:port' }, ports: [port2] })));
      },
    },
  };
  return win;
}

const init: RunInit = {
  config: { model: 'tiny', activation: 'prelu' },
  dataset: { name: 'synthetic', source: 'synthetic:6x8', hash: 'h', identities: 6, images: 48, synthetic: true },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  state: 'stopped',
};

let dataDir = '';
let host: LabHost;
let client: LabClient;

beforeAll(async () => {
  dataDir = await tempDir();
  host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
  client = await connectInElectron(appWindow(host) as never);
});
afterAll(() => client?.close());

async function listed(id: string) {
  const runs = (await client.request({ name: 'listRuns' })) as { id: string; record?: { displayName?: string; notes?: string } }[];
  return runs.find((r) => r.id === id);
}

describe('renameRun and setRunNotes', () => {
  let run: RunHandle;
  beforeAll(async () => {
    run = await createRun(dataDir, init);
  });

  test('a display name is kept in run.json and shown by listRuns; the id stays', async () => {
    await expect(client.request({ name: 'renameRun', runId: run.id, displayName: ' PReLU baseline ' })).resolves.toEqual({ runId: run.id, displayName: 'PReLU baseline' });
    expect((await listed(run.id))?.record?.displayName).toBe('PReLU baseline');
    expect(await readdir(join(dataDir, 'runs'))).toContain(run.id);
    await expect(client.request({ name: 'renameRun', runId: run.id, displayName: '' })).resolves.toEqual({ runId: run.id, displayName: null });
    expect((await listed(run.id))?.record).not.toHaveProperty('displayName');
  });

  test('notes come back in getRun', async () => {
    await expect(client.request({ name: 'setRunNotes', runId: run.id, notes: 'try lr 0.01\nnext' })).resolves.toEqual({ runId: run.id, notes: 'try lr 0.01\nnext' });
    const got = (await client.request({ name: 'getRun', runId: run.id })) as { record: { notes?: string } };
    expect(got.record.notes).toBe('try lr 0.01\nnext');
  });

  test('bad input is refused with the cause and the way out', async () => {
    await expect(client.request({ name: 'renameRun', runId: run.id, displayName: 'x'.repeat(121) })).rejects.toThrow(/at most 120 characters: shorten it/);
    await expect(client.request({ name: 'renameRun', runId: run.id, displayName: 'two\nlines' })).rejects.toThrow(/control characters.*one line/);
    await expect(client.request({ name: 'setRunNotes', runId: run.id, notes: 'n'.repeat(10_001) })).rejects.toThrow(/at most 10000 characters: shorten them/);
    await expect(client.request({ name: 'renameRun', runId: '../escape', displayName: 'x' })).rejects.toThrow(/is not a run id.*choose a run from the Runs list/);
    await expect(client.request({ name: 'renameRun', runId: 'gone', displayName: 'x' })).rejects.toThrow(/There is no run "gone"/);
  });
});

describe('deleteRun', () => {
  test('moves the run folder to <data folder>/trash/ and says how to restore it', async () => {
    const run = await createRun(dataDir, init);
    const reply = await client.request({ name: 'deleteRun', runId: run.id });
    expect(reply).toEqual({ runId: run.id, trashedTo: join(dataDir, 'trash', run.id), restore: `To restore it, move the folder ${join(dataDir, 'trash', run.id)} back to ${run.dir}` });
    expect(await listed(run.id)).toBeUndefined();
    expect((await stat(join(dataDir, 'trash', run.id, 'run.json'))).isFile()).toBe(true);
  });

  test('refuses a run being trained (its lock held) and leaves it in place', async () => {
    const run = await createRun(dataDir, init);
    const release = await run.acquireLock();
    try {
      await expect(client.request({ name: 'deleteRun', runId: run.id })).rejects.toThrow(/is being trained by process.*stop it first/i);
      await expect(client.request({ name: 'renameRun', runId: run.id, displayName: 'x' })).rejects.toThrow(/stop it first/i);
    } finally {
      await release();
    }
    expect(await listed(run.id)).toBeDefined();
  });
});
