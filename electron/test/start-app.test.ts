// `npm start` where no window can open (no display here): one line saying why, then the
// lab served to a browser on 127.0.0.1 (DESIGN.md, "Processes").
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { tempDir } from '../../datasets/test/fixtures';

const root = resolve(import.meta.dirname, '../..');

test('without a display, npm start says why and serves the lab on loopback', async () => {
  const child = spawn(process.execPath, [resolve(root, 'scripts/start-app.js')], {
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '', FACE_CNN_LAB_PORT: '0', FACE_CNN_LAB_DATA: await tempDir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((done, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /Open: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(stdout);
      if (match) done(match[1]!);
    });
    child.once('exit', (code) => fail(new Error(`exited with ${code}: ${stderr}`)));
  });
  expect(stderr.split('\n')[0]).toBe('Face CNN Lab: the desktop window cannot open: there is no display (DISPLAY and WAYLAND_DISPLAY are unset).');
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
}, 60_000);
