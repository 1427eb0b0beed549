// The trainer's fatal-error report (fatal-report.ts) in a real child process: an error nothing
// handled reaches the parent as a message before the process exits, so the crash banner can
// say what happened even though Electron drops the utility process's late stderr.
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parseTrainerMessage } from '#protocol/parent-port';
import { installFatalReport, type FatalMessage, type FatalSource } from '../fatal-report';

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
  // What the child posted is a parent-port message main accepts (protocol/parent-port.ts).
  expect(parseTrainerMessage(report)).toEqual({ ok: true, message: report });
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

test("a system error's code and path go with the report, so main can name the user's way out (a full disk, a permission)", async () => {
  const source = new EventEmitter();
  const sent: FatalMessage[] = [];
  const exited: number[] = [];
  installFatalReport({ send: (report) => sent.push(report), exit: (code) => exited.push(code), log: () => undefined, flushMs: 0 }, source as FatalSource);
  // A real one from the file system: ENOENT, with the path it was about.
  const missing = join(import.meta.dirname, 'no-such-folder', 'checkpoint.bin');
  const error = await open(missing, 'r').then(
    () => null,
    (failure: unknown) => failure,
  );
  source.emit('unhandledRejection', error);
  expect(sent).toEqual([{ type: 'fatal', kind: 'unhandledRejection', message: expect.stringMatching(/^Error: ENOENT/), code: 'ENOENT', path: missing }]);
  // As main's side of the parent port (protocol/parent-port.ts) reads it.
  expect(parseTrainerMessage(sent[0])).toEqual({ ok: true, message: sent[0] });
  await new Promise((done) => setTimeout(done, 20));
  expect(exited).toEqual([1]);
});

test('an error without a code or path is sent without them', () => {
  const source = new EventEmitter();
  const sent: FatalMessage[] = [];
  installFatalReport({ send: (report) => sent.push(report), exit: () => undefined, log: () => undefined, flushMs: 0 }, source as FatalSource);
  source.emit('uncaughtException', Object.assign(new TypeError('boom'), { code: 42 }));
  expect(sent).toHaveLength(1);
  expect(Object.keys(sent[0]!).sort()).toEqual(['kind', 'message', 'type']);
  expect(parseTrainerMessage(sent[0])).toEqual({ ok: true, message: sent[0] });
});
