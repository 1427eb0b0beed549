// The trainer's fatal-error report (fatal-report.ts) in a real child process: an error nothing
// handled reaches the parent as a message before the process exits, so the crash banner can
// say what happened even though Electron drops the utility process's late stderr.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const fixture = join(import.meta.dirname, 'fixtures', 'fatal-child.ts');

function failChild(fail: string): Promise<{ messages: unknown[]; code: number | null; stderr: string }> {
  return new Promise((done, failed) => {
    const child = fork(fixture, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const messages: unknown[] = [];
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('message', (message) => {
      if ((message as { type?: unknown }).type === 'ready') child.send({ fail });
      else messages.push(message);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      failed(new Error(`the child did not exit: ${stderr}`));
    }, 10_000);
    // 'exit' comes after every message the child sent.
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ messages, code, stderr });
    });
  });
}

test('an uncaught exception is sent to the parent with its stack before the process exits 1', async () => {
  const { messages, code, stderr } = await failChild('throw');
  expect(code).toBe(1);
  expect(messages).toHaveLength(1);
  const [report] = messages as Array<{ type: string; kind: string; message: string }>;
  expect(report).toMatchObject({ type: 'fatal', kind: 'uncaughtException' });
  expect(report!.message).toMatch(/^TypeError: Cannot read properties of undefined \(reading 'shape'\)\n\s+at /);
  // stderr keeps it too, for a terminal.
  expect(stderr).toContain("TypeError: Cannot read properties of undefined (reading 'shape')");
}, 15_000);

test('an unhandled rejection is sent as such; a rejection with a non-Error says what it was', async () => {
  const rejected = await failChild('reject');
  expect(rejected.code).toBe(1);
  expect(rejected.messages).toEqual([expect.objectContaining({ type: 'fatal', kind: 'unhandledRejection', message: expect.stringMatching(/^RangeError: Invalid array length\n/) })]);
  const odd = await failChild('reject-string');
  expect(odd.code).toBe(1);
  expect(odd.messages).toEqual([{ type: 'fatal', kind: 'unhandledRejection', message: "rejected with a non-Error: 'out of patience'" }]);
}, 20_000);
