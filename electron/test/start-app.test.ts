// `npm start` where no window can open (no display here): one line saying why, then the
// lab served to a browser on 127.0.0.1 (DESIGN.md, "Processes"). And how it runs Electron,
// with a stand-in for Electron's binary (a real child process) in its place.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { tempDir } from '../../datasets/test/fixtures';
import type { WebSocketConstructor } from '#protocol/client/websocket-transport';
import { connectFromLocation } from '#protocol/client/connect';

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

// A stand-in for Electron's binary, found where the electron package looks under
// ELECTRON_OVERRIDE_DIST_PATH. It reports what it was given, then does what FAKE_ELECTRON says:
// 'wait' (for a SIGTERM, then quit as Electron does, with code 0), 'sigint' (Ctrl+C: quit with
// code 0 a second after it, as Electron does once its trainer has checkpointed), a signal to
// kill itself with (as a Chromium fatal error does), or an exit code. No core files: ulimit -c 0.
async function fakeElectron(): Promise<string> {
  const dir = await tempDir('fcl-fake-electron-');
  const pathFile = resolve(root, 'node_modules/electron/path.txt');
  const executable = join(dir, existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : 'electron');
  // On macOS it is Electron.app/Contents/MacOS/Electron.
  await mkdir(dirname(executable), { recursive: true });
  await writeFile(
    join(dir, 'fake.cjs'),
    `const mode = process.env.FAKE_ELECTRON;
if (mode === 'wait') process.on('SIGTERM', () => { console.log('FAKE got SIGTERM'); process.exit(0); });
if (mode === 'sigint') process.on('SIGINT', () => { console.log('FAKE got SIGINT'); setTimeout(() => process.exit(0), 1000); });
console.log('FAKE ' + JSON.stringify({ pid: process.pid, args: process.argv.slice(2), runAsNode: process.env.ELECTRON_RUN_AS_NODE ?? null }));
if (mode === 'wait' || mode === 'sigint') setTimeout(() => process.exit(3), 30000);
else if (mode.startsWith('SIG')) process.kill(process.pid, mode);
else process.exit(Number(mode));
`,
  );
  await writeFile(executable, `#!/bin/sh\nulimit -c 0\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(dir, 'fake.cjs'))} "$@"\n`);
  await chmod(executable, 0o755);
  return dir;
}

interface Started {
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  fake: Promise<{ pid: number; args: string[]; runAsNode: string | null }>;
  stdout: () => string;
  stderr: () => string;
  kill: (signal: NodeJS.Signals) => void;
  /** The signal to npm start's whole process group, as Ctrl+C in a terminal sends it. */
  killGroup: (signal: NodeJS.Signals) => void;
}

/** The Node the electron package's engines allow, so the stand-in starts whatever Node runs the tests. */
const electronEngines = JSON.parse(readFileSync(resolve(root, 'node_modules/electron/package.json'), 'utf8')) as { version: string; engines: { node: string } };
const newEnoughNode = /(\d+\.\d+\.\d+)/.exec(electronEngines.engines.node)![1]!;

async function startWithFake(mode: string, nodeVersion = newEnoughNode): Promise<Started & { dir: string }> {
  const dir = await fakeElectron();
  const child = spawn(process.execPath, [resolve(root, 'scripts/start-app.js')], {
    // Started from elsewhere, from a shell where ELECTRON_RUN_AS_NODE is set (as a tool running Electron as Node leaves it).
    cwd: await tempDir(),
    env: {
      ...process.env,
      DISPLAY: ':0',
      ELECTRON_OVERRIDE_DIST_PATH: dir,
      FACE_CNN_LAB_NO_SERVE: '1',
      ELECTRON_RUN_AS_NODE: '1',
      FAKE_ELECTRON: mode,
      FACE_CNN_LAB_TEST_NODE_VERSION: nodeVersion,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal gives a command: Ctrl+C goes to the group.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const fake = new Promise<{ pid: number; args: string[]; runAsNode: string | null }>((done) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /^FAKE (\{.*\})$/m.exec(stdout);
      if (match) done(JSON.parse(match[1]!));
    });
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return { dir, exit, fake, stdout: () => stdout, stderr: () => stderr, kill: (signal) => child.kill(signal), killGroup: (signal) => process.kill(-child.pid!, signal) };
}

const skipOnWindows = process.platform === 'win32';

test.skipIf(skipOnWindows)('Electron is given the project root, by absolute path, without an inherited ELECTRON_RUN_AS_NODE', async () => {
  const started = await startWithFake('0');
  const fake = await started.fake;
  expect(fake.args).toEqual([root]);
  expect(fake.runAsNode).toBeNull();
  expect(await started.exit).toEqual({ code: 0, signal: null });
}, 30_000);

test.skipIf(skipOnWindows)('a SIGTERM sent to npm start alone reaches Electron, which quits as asked', async () => {
  const started = await startWithFake('wait');
  const fake = await started.fake;
  try {
    started.kill('SIGTERM');
    expect(await started.exit).toEqual({ code: 0, signal: null });
    expect(started.stdout()).toContain('FAKE got SIGTERM');
  } finally {
    try {
      process.kill(fake.pid, 'SIGKILL'); // left running only when the signal was not passed on
    } catch {}
  }
}, 30_000);

// A Chromium fatal error (IMMEDIATE_CRASH: SIGTRAP on x64 and arm64; e.g. a chrome-sandbox that
// is not setuid root, the usual first launch on Ubuntu 23.10 and later) is a failed start, and
// only it gets the sandbox's fix.
test.skipIf(skipOnWindows)('Electron killed at start by SIGTRAP: npm start says why and how to fix the sandbox', async () => {
  const started = await startWithFake('SIGTRAP');
  await started.fake;
  expect(await started.exit).toEqual({ code: 1, signal: null }); // FACE_CNN_LAB_NO_SERVE=1: says why and exits instead of serving
  const lines = started.stderr().split('\n');
  expect(lines[0]).toBe("Face CNN Lab: the desktop window cannot open: Electron was ended at start by SIGTRAP (a Chromium fatal error; its own message is above).");
  if (process.platform === 'linux') {
    const sandbox = join(started.dir, 'chrome-sandbox');
    expect(started.stderr()).toContain(`sudo chown root ${sandbox} && sudo chmod 4755 ${sandbox}`);
    expect(started.stderr()).toContain('sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
  }
  expect(started.stderr()).toContain('The headless lab works without it: npm run lab -- --help');
}, 30_000);

// Any other death by signal at start is a failed start too, without the sandbox's advice.
test.skipIf(skipOnWindows).each([
  ['SIGSEGV', "Electron was ended at start by SIGSEGV (a fatal error; Chromium's own message is above)"],
  ['SIGABRT', "Electron was ended at start by SIGABRT (a fatal error; Chromium's own message is above)"],
  ['SIGKILL', 'Electron was killed at start by SIGKILL (out of memory, or by another program)'],
])('Electron killed at start by %s: npm start says why, with no sandbox advice', async (signal, why) => {
  const started = await startWithFake(signal);
  await started.fake;
  expect(await started.exit).toEqual({ code: 1, signal: null });
  expect(started.stderr().split('\n')[0]).toBe(`Face CNN Lab: the desktop window cannot open: ${why}.`);
  expect(started.stderr()).not.toContain('sandbox');
  expect(started.stderr()).toContain('The headless lab works without it: npm run lab -- --help');
}, 30_000);

test.skipIf(skipOnWindows)('Electron ended at start by SIGTERM is a quit, not a failed start: npm start ends the same way', async () => {
  const started = await startWithFake('SIGTERM');
  await started.fake;
  expect(await started.exit).toEqual({ code: null, signal: 'SIGTERM' });
  expect(started.stderr()).not.toContain('cannot open');
}, 30_000);

test.skipIf(skipOnWindows)('Ctrl+C: npm start waits for Electron to finish quitting, then exits as it did', async () => {
  const started = await startWithFake('sigint');
  const fake = await started.fake;
  try {
    // The terminal sends SIGINT to the whole group: npm start and Electron both get it.
    started.killGroup('SIGINT');
    // Electron exits with 0 a second later; npm start, had it died on the SIGINT, would report the signal.
    expect(await started.exit).toEqual({ code: 0, signal: null });
    expect(started.stdout()).toContain('FAKE got SIGINT');
    expect(started.stderr()).toBe('');
  } finally {
    try {
      process.kill(fake.pid, 'SIGKILL'); // left running only when npm start did not wait for it
    } catch {}
  }
}, 30_000);

/** Electron's binary already downloaded into node_modules (then the first-start download, and its Node check, do not happen). */
const electronInstalled = (() => {
  const dir = resolve(root, 'node_modules/electron');
  try {
    return existsSync(join(dir, 'dist', readFileSync(join(dir, 'path.txt'), 'utf8')));
  } catch {
    return false;
  }
})();

test.skipIf(skipOnWindows || electronInstalled)("a Node older than the electron package's engines, on the first start: npm start says which Node the download needs, without trying it", async () => {
  const child = spawn(process.execPath, [resolve(root, 'scripts/start-app.js')], {
    cwd: await tempDir(),
    env: { ...process.env, DISPLAY: ':0', FACE_CNN_LAB_NO_SERVE: '1', ELECTRON_OVERRIDE_DIST_PATH: '', FACE_CNN_LAB_TEST_NODE_VERSION: '20.19.0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  expect(exit).toEqual({ code: 1, signal: null });
  expect(stderr.split('\n')[0]).toBe(
    `Face CNN Lab: the desktop window cannot open: downloading Electron ${electronEngines.version}'s binary needs Node ${newEnoughNode} or later (its package's engines: ${electronEngines.engines.node}), and this is Node 20.19.0.`,
  );
  expect(stderr).toContain('Install a newer Node');
  expect(stderr).not.toContain('Downloading');
}, 30_000);

test.skipIf(skipOnWindows)('an Electron already there starts on an older Node: its binary runs its own', async () => {
  const started = await startWithFake('0', '20.19.0');
  expect((await started.fake).args).toEqual([root]);
  expect(await started.exit).toEqual({ code: 0, signal: null });
}, 30_000);
