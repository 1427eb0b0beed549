// What a user changes about a stored run (issue 14, 4): its display name, its notes, and
// moving it to <dataDir>/trash/. The folder id never changes; nothing is ever deleted; a
// run whose lock is held (a trainer writes it) is refused.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, listRuns, openRun, renameRun, RUN_NAME_MAX, RUN_NOTES_MAX, RunError, setRunNotes, trashRun, type RunInit } from '../run-store';

let scratch: string;
let counter = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'fcl-run-edit-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const init: RunInit = {
  config: { model: 'tiny', activation: 'relu' },
  dataset: { name: 'synthetic', source: 'synthetic:6x8', hash: 'h', identities: 6, images: 48, synthetic: true },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  state: 'stopped',
};

async function freshRun() {
  const dataDir = join(scratch, `d${counter++}`);
  const run = await createRun(dataDir, init);
  return { dataDir, run };
}

async function refusal(promise: Promise<unknown>): Promise<RunError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunError);
  return error as RunError;
}

describe('renameRun', () => {
  it('stores a display name in run.json, trimmed; the id and folder stay; "" removes it', async () => {
    const { dataDir, run } = await freshRun();
    const record = await renameRun(dataDir, run.id, '  ReLU at lr 0.1  ');
    expect(record.displayName).toBe('ReLU at lr 0.1');
    expect(record.id).toBe(run.id);
    const stored = JSON.parse(await readFile(join(run.dir, 'run.json'), 'utf8'));
    expect(stored.displayName).toBe('ReLU at lr 0.1');
    expect((await openRun(dataDir, run.id)).record.displayName).toBe('ReLU at lr 0.1');
    expect((await renameRun(dataDir, run.id, '')).displayName).toBeUndefined();
    expect(JSON.parse(await readFile(join(run.dir, 'run.json'), 'utf8'))).not.toHaveProperty('displayName');
  });

  it('refuses control characters and over-long names, saying why and what to do', async () => {
    const { dataDir, run } = await freshRun();
    expect((await refusal(renameRun(dataDir, run.id, 'a\u001b[31mred'))).message).toMatch(/control characters.*one line/);
    expect((await refusal(renameRun(dataDir, run.id, 'x'.repeat(RUN_NAME_MAX + 1)))).message).toMatch(/at most 120 characters.*Shorten/);
    expect((await openRun(dataDir, run.id)).record.displayName).toBeUndefined();
  });

  it('refuses a run whose lock is held (a trainer writes it): stop it first', async () => {
    const { dataDir, run } = await freshRun();
    const release = await run.acquireLock();
    try {
      const error = await refusal(renameRun(dataDir, run.id, 'new name'));
      expect(error.kind).toBe('locked');
      expect(error.message).toMatch(/stop it first/i);
    } finally {
      await release();
    }
    expect((await renameRun(dataDir, run.id, 'new name')).displayName).toBe('new name');
  });
});

describe('setRunNotes', () => {
  it('keeps line breaks and tabs; blank notes are removed; bounded in length', async () => {
    const { dataDir, run } = await freshRun();
    expect((await setRunNotes(dataDir, run.id, 'lr too high?\n\tdead after epoch 2')).notes).toBe('lr too high?\n\tdead after epoch 2');
    expect((await openRun(dataDir, run.id)).record.notes).toBe('lr too high?\n\tdead after epoch 2');
    expect((await setRunNotes(dataDir, run.id, '  \n ')).notes).toBeUndefined();
    expect((await refusal(setRunNotes(dataDir, run.id, 'n'.repeat(RUN_NOTES_MAX + 1)))).message).toMatch(/at most 10000 characters/);
    expect((await refusal(setRunNotes(dataDir, run.id, 'bell\u0007'))).message).toMatch(/control characters/);
  });
});

describe('trashRun', () => {
  it('moves the folder into <dataDir>/trash/, whole and unlocked, and says how to restore it', async () => {
    const { dataDir, run } = await freshRun();
    const before = (await readdir(run.dir)).sort();
    const trashed = await trashRun(dataDir, run.id);
    expect(trashed.trashedTo).toBe(join(dataDir, 'trash', run.id));
    expect(trashed.restoreTo).toBe(run.dir);
    expect(trashed.restore).toContain(`move the folder ${trashed.trashedTo} back to ${run.dir}`);
    expect(await stat(run.dir).catch(() => null)).toBeNull();
    expect((await readdir(trashed.trashedTo)).sort()).toEqual(before);
    expect(await listRuns(dataDir)).toEqual([]);
  });

  it('gives a second trashed run of the same id a unique name', async () => {
    const { dataDir, run } = await freshRun();
    const first = await trashRun(dataDir, run.id);
    // Restored by hand, then trashed again: the first copy in the trash is kept.
    const { cp } = await import('node:fs/promises');
    await cp(first.trashedTo, run.dir, { recursive: true });
    const second = await trashRun(dataDir, run.id);
    expect(second.trashedTo).toBe(join(dataDir, 'trash', `${run.id}.2`));
    expect((await readdir(join(dataDir, 'trash'))).sort()).toEqual([run.id, `${run.id}.2`]);
  });

  it('refuses a locked run and moves nothing', async () => {
    const { dataDir, run } = await freshRun();
    const release = await run.acquireLock();
    try {
      const error = await refusal(trashRun(dataDir, run.id));
      expect(error.kind).toBe('locked');
    } finally {
      await release();
    }
    expect((await stat(run.dir)).isDirectory()).toBe(true);
    expect(await stat(join(dataDir, 'trash')).catch(() => null)).toBeNull();
  });

  it('names a run that does not exist', async () => {
    const { dataDir } = await freshRun();
    expect((await refusal(trashRun(dataDir, 'no-such-run'))).message).toMatch(/There is no run "no-such-run"/);
  });
});
