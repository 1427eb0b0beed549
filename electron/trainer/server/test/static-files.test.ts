// Which file a request path names in the renderer's folder, on its own: nothing outside the folder, no directories.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { contentType, resolveStatic } from '../static-files';

let outside: string;
let root: string;

beforeAll(async () => {
  outside = await mkdtemp(path.join(tmpdir(), 'static-files-'));
  root = path.join(outside, 'renderer');
  await mkdir(path.join(root, 'assets', 'sub'), { recursive: true });
  await writeFile(path.join(root, 'index.html'), '<!doctype html>');
  await writeFile(path.join(root, 'assets', 'a b.js'), 'x');
  await writeFile(path.join(outside, 'secret.txt'), 'secret');
  await symlink(path.join(outside, 'secret.txt'), path.join(root, 'assets', 'link.txt'));
  await symlink(path.join(root, 'index.html'), path.join(root, 'assets', 'inside.html'));
});

afterAll(async () => {
  await rm(outside, { recursive: true, force: true });
});

const resolved = async (rawPath: string) => {
  const file = await resolveStatic(root, rawPath);
  return file && path.relative(root, file.path);
};

describe('resolveStatic', () => {
  test("files in the folder, by their URL-encoded names; a symlink to one of them", async () => {
    expect(await resolved('/index.html')).toBe('index.html');
    expect(await resolved('/assets/a%20b.js')).toBe(path.join('assets', 'a b.js'));
    expect(await resolved('/assets/inside.html')).toBe('index.html');
  });

  test('nothing outside it, however encoded or linked', async () => {
    for (const p of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/assets/link.txt', '/assets%5c..%5c..%5csecret.txt']) {
      expect(await resolved(p), p).toBeNull();
    }
  });

  test('no directories, no dot segments, no NUL, no malformed escapes, no missing files, nothing when there is no folder', async () => {
    for (const p of ['/', '/assets', '/assets/sub/', '/./index.html', '/index.html%00', '/%E0%A4%A', '/missing.js', 'index.html']) {
      expect(await resolved(p), p).toBeNull();
    }
    expect(await resolveStatic(null, '/index.html')).toBeNull();
  });
});

test('content types by extension, any case; unknown ones are bytes', () => {
  expect(contentType('/x/INDEX.HTML')).toBe('text/html; charset=utf-8');
  expect(contentType('a.wasm')).toBe('application/wasm');
  expect(contentType('a.bin')).toBe('application/octet-stream');
  expect(contentType('Makefile')).toBe('application/octet-stream');
});
