// Issue 14, 3: paths typed in a browser (serve mode) mean what they would in a shell: `~` is the
// home folder, and a relative path is refused with a message instead of being resolved
// against the trainer's working folder (the project checkout under `npm run`).
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Grants, typedPath } from '../grants';

describe('typed paths', () => {
  const grants = new Grants();

  test('~ and ~/... are the home folder, for reading and for writing', () => {
    expect(grants.resolve({ kind: 'typed', path: '~/faces/orl_faces' }, 'read', 'typed')).toBe(join(homedir(), 'faces/orl_faces'));
    expect(grants.resolve({ kind: 'typed', path: '~' }, 'read', 'typed')).toBe(homedir());
    expect(typedPath('~/exports/run.tar.gz', 'write', '/home/ada')).toBe('/home/ada/exports/run.tar.gz');
    expect(grants.resolve({ kind: 'typed', path: '/data/faces' }, 'read', 'typed')).toBe('/data/faces');
  });

  test('a relative path is refused, saying where it would have gone; ~user is not guessed at', () => {
    for (const path of ['faces/orl_faces', 'orl.zip', './orl', '', '~ada/faces']) {
      let error: unknown;
      try {
        grants.resolve({ kind: 'typed', path }, 'read', 'typed');
      } catch (e) {
        error = e;
      }
      expect(error, path).toMatchObject({ code: 'bad-path', message: expect.stringMatching(/^Type the whole path from \/ or ~\/ \(.* would be read relative to the trainer's working folder, /) });
    }
    expect(() => typedPath('run.tar.gz', 'write')).toThrow(`Type the whole path from / or ~/ ("run.tar.gz" would be written relative to the trainer's working folder, ${process.cwd()})`);
  });

  test('the desktop app still takes no typed path at all', () => {
    expect(() => grants.resolve({ kind: 'typed', path: '~/faces' }, 'read', 'dialog')).toThrow(/chosen in a dialog, not typed/);
  });
});

describe('grants from main', () => {
  const id = 'c'.repeat(32);

  test('a grant resolves to its path for its purpose only', () => {
    const grants = new Grants();
    expect(grants.add({ grant: id, path: '/data/faces', purpose: 'read' })).toBeNull();
    expect(grants.resolve({ kind: 'grant', grant: id }, 'read', 'dialog')).toBe('/data/faces');
    expect(() => grants.resolve({ kind: 'grant', grant: id }, 'write', 'dialog')).toThrow(/chosen to open, not to save/);
    expect(() => grants.resolve({ kind: 'grant', grant: 'd'.repeat(32) }, 'read', 'dialog')).toThrow(/expired/);
  });

  test('a relative path is refused, naming the field, and not kept', () => {
    const grants = new Grants();
    expect(grants.add({ grant: id, path: 'faces', purpose: 'read' })).toBe('path: a granted path must be absolute');
    expect(() => grants.resolve({ kind: 'grant', grant: id }, 'read', 'dialog')).toThrow(/expired/);
  });
});
