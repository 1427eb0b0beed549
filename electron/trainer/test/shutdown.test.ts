// The trainer's shutdown (shutdown.ts) in a real child process whose host never finishes
// closing: a signal while it is stopping ends it at once, so a stuck trainer cannot outlive
// the app (and keep its single-instance lock).
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';

const fixture = join(import.meta.dirname, 'fixtures', 'shutdown-child.ts');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startChild(): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = fork(fixture, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((ready, fail) => {
    child.once('message', () => ready());
    child.once('exit', (code) => fail(new Error(`the fixture exited (${code}) before it was ready: ${stderr}`)));
  });
  return { child, stderr: () => stderr };
}

/** The exit code, or null when the child is still alive after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((done) => {
    const timer = setTimeout(() => done(null), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done(code ?? (signal ? -1 : null));
    });
  });
}

test('a first SIGTERM waits for the checkpoint; a second one exits at once', async () => {
  const { child, stderr } = await startChild();
  child.kill('SIGTERM');
  // The host is still closing: the process waits for it.
  expect(await exitWithin(child, 300)).toBeNull();
  child.kill('SIGTERM');
  expect(await exitWithin(child, 3_000)).toBe(143);
  expect(stderr()).toMatch(/SIGTERM.*exiting now/);
}, 15_000);

test("a SIGTERM after main's shutdown message (main's kill after the grace period) exits at once", async () => {
  const { child } = await startChild();
  child.send({ type: 'shutdown' });
  expect(await exitWithin(child, 300)).toBeNull();
  child.kill('SIGTERM');
  expect(await exitWithin(child, 3_000)).toBe(143);
}, 15_000);

test('SIGINT (Ctrl+C in the terminal) twice exits at once as well', async () => {
  const { child } = await startChild();
  child.kill('SIGINT');
  expect(await exitWithin(child, 300)).toBeNull();
  child.kill('SIGINT');
  expect(await exitWithin(child, 3_000)).toBe(130);
}, 15_000);
