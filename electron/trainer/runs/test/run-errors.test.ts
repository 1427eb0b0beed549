// RunError lives in errors.ts (re-exported where it used to be), and one function turns
// a failed write into a RunError for the checkpoint writer and the run store alike.
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../../../datasets/errors';
import { RunError as FromCheckpoint } from '../checkpoint';
import { RunError, writeFailed, type RunErrorKind } from '../errors';
import { RunError as FromRunStore, type RunErrorKind as KindFromRunStore } from '../run-store';

function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something`), { code });

describe('RunError', () => {
  it('is one class, importable from errors.ts, checkpoint.ts and run-store.ts', () => {
    expect(FromCheckpoint).toBe(RunError);
    expect(FromRunStore).toBe(RunError);
    const kind: RunErrorKind = 'locked';
    const same: KindFromRunStore = kind;
    const error = new RunError('The run is busy', 'Wait', '/runs/x', { kind: same });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'RunError', kind: 'locked', reason: 'The run is busy', remedy: 'Wait', path: '/runs/x' });
    expect(error.message).toBe('The run is busy: /runs/x. Wait');
  });
});

describe('writeFailed', () => {
  it("rewraps the atomic writer's full-disk error, saying what is kept", () => {
    const cause = new DatasetError('The disk is full; the file was not written and the previous version is intact', 'Free some space and try again', '/runs/x/checkpoints/step-000002.ckpt');
    const error = thrown(() => writeFailed(cause, { what: 'The checkpoint of step 2', path: '/elsewhere', kept: '(no partial file was left) and the previous checkpoint is intact' }));
    expect(error).toBeInstanceOf(RunError);
    expect(error).toMatchObject({ kind: 'disk-full', path: '/runs/x/checkpoints/step-000002.ckpt', cause });
    expect((error as RunError).message).toBe(
      'The disk is full: the checkpoint of step 2 was not saved (no partial file was left) and the previous checkpoint is intact: /runs/x/checkpoints/step-000002.ckpt. Free some space and try again',
    );
  });

  it('turns raw write failures (ENOSPC while appending, no permission) into RunErrors naming the file', () => {
    const full = thrown(() => writeFailed(errno('ENOSPC'), { what: 'New metrics rows', path: '/runs/x/metrics.jsonl', outcome: 'were not written', kept: '(the rows written before them are kept)' }));
    expect(full).toMatchObject({ name: 'RunError', kind: 'disk-full', path: '/runs/x/metrics.jsonl' });
    expect((full as RunError).message).toMatch(/^The disk is full: new metrics rows were not written \(the rows written before them are kept\): \/runs\/x\/metrics\.jsonl\. Free some space/);
    const denied = thrown(() => writeFailed(errno('EACCES'), { what: 'run.json', path: '/runs/x/run.json' }));
    expect(denied).toMatchObject({ name: 'RunError', kind: 'unwritable', path: '/runs/x/run.json' });
    expect((denied as RunError).message).toMatch(/^run\.json was not saved \(the lab cannot write here \(permission denied or a read-only disk\)\): \/runs\/x\/run\.json\. Choose a folder/);
  });

  it('rethrows anything else as it is', () => {
    const bug = new TypeError('not a write failure');
    expect(thrown(() => writeFailed(bug, { what: 'run.json', path: '/x' }))).toBe(bug);
    const io = errno('EIO');
    expect(thrown(() => writeFailed(io, { what: 'run.json', path: '/x' }))).toBe(io);
  });
});
