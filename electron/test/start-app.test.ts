// `npm start` where no window can open (no display here): one line saying why, then the
// lab served to a browser on 127.0.0.1 (DESIGN.md, "Processes").
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { tempDir } from '../../datasets/test/fixtures';
import { connectFromLocation, type WebSocketConstructor } from '../../renderer/src/lib/lab-client';

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
  // Ctrl+C while a run trains: the run is checkpointed first, and the terminal says which and how to go on.
  const client = await connectFromLocation(new URL(url), WebSocket as unknown as WebSocketConstructor);
  let steps = 0;
  client.on('progress', (m) => (steps += m.items.length));
  const { runId } = await client.start({ data: 'synthetic:6x6', model: 'tiny', inputSize: 32, batch: 8, epochs: 500, optimizer: 'adam', lr: 0.001, seed: 1 });
  for (let i = 0; i < 600 && steps < 2; i++) await new Promise((r) => setTimeout(r, 50));
  expect(steps).toBeGreaterThanOrEqual(2);
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(stdout).toMatch(new RegExp(`Run ${runId} stopped at step \\d+, checkpointed: resume it in the Runs view, or with npm run lab -- resume ${runId}`));
}, 90_000);
