// Issue 14, 4: `lab runs rename|notes|delete` change a stored run as the Runs view does: a
// display name and notes in run.json (shown by `lab runs`), and delete moving the folder to
// <data folder>/trash/ with how to restore it. A run being trained, or a bad name, is
// refused with the cause and the way out, and escape sequences never reach the terminal.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { createRun, type RunInit } from '../../runs/run-store';
import { lab } from './run-lab';

const init: RunInit = {
  config: { model: 'tiny', activation: 'relu', inputSize: 16 },
  dataset: { name: 'faces', source: '/data/faces', hash: 'abc', identities: 4, images: 40, synthetic: false },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  label: 'edit',
  state: 'stopped',
};

describe('lab runs rename, notes, delete', () => {
  test('rename and notes are kept in run.json; `lab runs` shows the name beside the id', async () => {
    const dataDir = await tempDir();
    const run = await createRun(dataDir, init);
    const renamed = await lab(['runs', 'rename', run.id, 'ReLU baseline'], dataDir);
    expect(renamed).toMatchObject({ code: 0, stdout: `Run ${run.id} is now named "ReLU baseline".\n` });
    const noted = await lab(['runs', 'notes', 'latest', 'lr 0.1 kills conv2'], dataDir);
    expect(noted).toMatchObject({ code: 0, stdout: `The notes of run ${run.id} are saved.\n` });
    const record = JSON.parse(await readFile(run.runFile, 'utf8'));
    expect(record).toMatchObject({ id: run.id, displayName: 'ReLU baseline', notes: 'lr 0.1 kills conv2' });
    expect((await lab(['runs'], dataDir)).stdout).toContain(`${run.id}  "ReLU baseline"  stopped`);
  }, 60_000);

  test('a name with an escape sequence is refused, and the escape is not echoed raw', async () => {
    const dataDir = await tempDir();
    const run = await createRun(dataDir, init);
    const result = await lab(['runs', 'rename', run.id, 'red\u001b[31m'], dataDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/A run name cannot hold control characters.*Type the name on one line/);
    expect(result.stderr).not.toContain('\u001b');
  }, 60_000);

  test('delete moves the folder to the trash and says how to restore it; a locked run is refused', async () => {
    const dataDir = await tempDir();
    const locked = await createRun(dataDir, { ...init, label: 'locked' });
    const release = await locked.acquireLock();
    try {
      const refused = await lab(['runs', 'delete', locked.id], dataDir);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is being trained by process .*stop it first/i);
    } finally {
      await release();
    }
    const done = await lab(['runs', 'delete', locked.id], dataDir);
    const trashed = join(dataDir, 'trash', locked.id);
    expect(done).toMatchObject({ code: 0 });
    expect(done.stdout).toContain(`Run ${locked.id} was moved to the trash: ${trashed}`);
    expect(done.stdout).toContain(`To restore it, move the folder ${trashed} back to ${join(dataDir, 'runs', locked.id)}.`);
    expect(await readdir(join(dataDir, 'runs'))).toEqual([]);
  }, 60_000);
});
