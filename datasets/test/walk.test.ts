import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { walkFolder } from '../walk';
import { commonWrapper, compileIdentityRule, checkIdentityPattern, detectLayout, naturalCompare, placeFile } from '../layout';
import { tempDir } from './fixtures';

describe('walkFolder', () => {
  test('lists files below the root with posix relative paths and stamps', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await writeFile(join(root, 'a', 'b', 'x.jpg'), 'x');
    await writeFile(join(root, 'top.png'), 'yy');
    const { files, skipped } = await walkFolder(root);
    expect(files.map((f) => f.relPath).sort()).toEqual(['a/b/x.jpg', 'top.png']);
    expect(files.find((f) => f.relPath === 'top.png')?.size).toBe(2);
    expect(skipped).toEqual([]);
  });

  test('hidden and system files are skipped with a reason', async () => {
    const root = await tempDir();
    for (const name of ['.DS_Store', 'Thumbs.db', '._1.jpg', 'desktop.ini']) await writeFile(join(root, name), 'junk');
    await mkdir(join(root, '__MACOSX'));
    const { files, skipped } = await walkFolder(root);
    expect(files).toEqual([]);
    expect(skipped.map((s) => s.path).sort()).toEqual(['.DS_Store', '._1.jpg', 'Thumbs.db', '__MACOSX', 'desktop.ini'].sort());
    expect(new Set(skipped.map((s) => s.reason))).toEqual(new Set(['hidden or system file']));
  });

  test('a symlink loop is reported once and not followed forever', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'person1'));
    await writeFile(join(root, 'person1', '1.jpg'), 'x');
    await symlink('..', join(root, 'person1', 'up'));
    await symlink('self', join(root, 'self')); // a link to itself: ELOOP
    await symlink('missing-target', join(root, 'dangling'));
    const { files, skipped } = await walkFolder(root);
    expect(files.map((f) => f.relPath)).toEqual(['person1/1.jpg']);
    const reasons = Object.fromEntries(skipped.map((s) => [s.path, s.reason]));
    expect(reasons['person1/up/']).toMatch(/symbolic link loop/);
    expect(reasons['self']).toMatch(/symbolic link loop/);
    expect(reasons['dangling']).toMatch(/broken symbolic link/);
  });

  test('a link to a folder outside is followed (datasets are often links to a big disk)', async () => {
    const outside = await tempDir();
    await writeFile(join(outside, '1.jpg'), 'x');
    const root = await tempDir();
    await symlink(outside, join(root, 'person1'));
    const { files } = await walkFolder(root);
    expect(files.map((f) => f.relPath)).toEqual(['person1/1.jpg']);
  });

  test('Unicode names are kept; a name that is not UTF-8 is skipped with its bytes shown', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'Zoë Ångström'));
    await writeFile(join(root, 'Zoë Ångström', '顔1.jpg'), 'x');
    await writeFile(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x6a, 0x70, 0x67])]), 'x');
    const { files, skipped } = await walkFolder(root);
    expect(files.map((f) => f.relPath)).toEqual(['Zoë Ångström/顔1.jpg']);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.reason).toMatch(/not valid UTF-8 \(bytes 66fffe2e6a7067\); rename it/);
  });

  test('names are Unicode-normalised (NFC) in relPath, as in archives, and read by their own bytes', async () => {
    const root = await tempDir();
    const decomposed = 'Zoe\u0308'; // as macOS writes "Zoë"
    await mkdir(join(root, decomposed));
    await writeFile(join(root, decomposed, 'Bjo\u0308rk.jpg'), 'x');
    const { files } = await walkFolder(root);
    expect(files.map((f) => f.relPath)).toEqual(['Zo\u00eb/Bj\u00f6rk.jpg']);
    expect(files[0]?.absPath).toBe(join(root, decomposed, 'Bjo\u0308rk.jpg'));
  });

  test('two names that are one once normalised: one is kept (always the same), the other skipped with a reason', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'Zo\u00eb.jpg'), 'x');
    await writeFile(join(root, 'Zoe\u0308.jpg'), 'y');
    const { files, skipped } = await walkFolder(root);
    expect(files.map((f) => f.relPath)).toEqual(['Zo\u00eb.jpg']);
    expect(files[0]?.absPath).toBe(join(root, 'Zoe\u0308.jpg')); // the first in code-unit order
    expect(skipped).toEqual([{ path: 'Zo\u00eb.jpg', reason: expect.stringMatching(/same name once Unicode-normalised/) }]);
  });

  test('a named pipe is not read (it would block forever)', async () => {
    const root = await tempDir();
    execFileSync('mkfifo', [join(root, 'pipe.jpg')]);
    const { files, skipped } = await walkFolder(root);
    expect(files).toEqual([]);
    expect(skipped[0]?.reason).toMatch(/not a regular file/);
  });
});

describe('layout', () => {
  test('common wrapper folder', () => {
    expect(commonWrapper(['orl_faces/s1/1.pgm', 'orl_faces/s2/1.pgm'])).toBe('orl_faces');
    expect(commonWrapper(['a/b/s1/1.pgm', 'a/b/s2/1.pgm'])).toBe('a/b');
    expect(commonWrapper(['s1/1.pgm', 's2/1.pgm'])).toBe('');
    expect(commonWrapper(['x/1.pgm', 'x/2.pgm'])).toBe('x'); // flat inside a wrapper
    expect(commonWrapper(['1.pgm'])).toBe('');
  });
  test('layout detection', () => {
    expect(detectLayout(['s1/1.pgm', 's1/2.pgm', 'README'])).toBe('folders');
    expect(detectLayout(['subject01.happy', 'subject02.sad'])).toBe('flat');
  });
  test('identity rules', () => {
    const firstDot = compileIdentityRule({ kind: 'before-first-dot' });
    expect(firstDot('subject07.happy')).toBe('subject07');
    expect(firstDot('.hidden')).toBeNull();
    const lfw = compileIdentityRule({ kind: 'regex', pattern: '^(.+)_\\d+\\.' });
    expect(lfw('Aaron_Eckhart_0001.jpg')).toBe('Aaron_Eckhart');
    expect(lfw('nonumber.jpg')).toBeNull();
    expect(placeFile('sub/Aaron_Eckhart_0001.jpg', 'flat', lfw)).toEqual({ identity: 'Aaron_Eckhart' });
    expect(placeFile('loose.jpg', 'folders', firstDot)).toHaveProperty('skip');
    expect(placeFile('s3/7.pgm', 'folders', firstDot)).toEqual({ identity: 's3' });
  });
  test('identity patterns are checked', () => {
    expect(checkIdentityPattern('^(.+)_\\d+')).toBeNull();
    expect(checkIdentityPattern('^.+_\\d+')).toMatch(/exactly one capture group/);
    expect(checkIdentityPattern('(a)(b)')).toMatch(/it has 2/);
    expect(checkIdentityPattern('([')).toMatch(/not a valid regular expression/);
  });
  test('natural order puts 2 before 10', () => {
    expect(['10.pgm', '2.pgm', '1.pgm'].sort(naturalCompare)).toEqual(['1.pgm', '2.pgm', '10.pgm']);
  });
});
