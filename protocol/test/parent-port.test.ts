// The trainer's parent port (parent-port.ts): every message main and the trainer send each
// other is accepted, and a malformed one is refused with the field that is wrong. The real senders' output is checked too, in
// electron/main/test/trainer-process.test.ts and electron/trainer/test/fatal-report.test.ts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import type { MainGpuMessage, TrainerGpuRequest } from '../gpu-host';
import { parseMainMessage, parseTrainerMessage, type MainToTrainer, type TrainerToMain } from '../parent-port';

const ID = '0123456789abcdef'.repeat(2);
const GRANT = { type: 'grant', grant: ID, path: '/home/ada/faces', purpose: 'read' } as const;

/** The refusal's text, failing the test when the message was accepted. */
function refusal(result: { ok: true } | { ok: false; error: string }): string {
  expect(result.ok).toBe(false);
  return result.ok ? '' : result.error;
}

describe('main → trainer', () => {
  test('connect (with its port), grant and shutdown are accepted as sent', () => {
    expect(parseMainMessage({ type: 'connect' }, true)).toEqual({ ok: true, message: { type: 'connect' } });
    expect(parseMainMessage(GRANT, false)).toEqual({ ok: true, message: GRANT });
    expect(parseMainMessage({ ...GRANT, purpose: 'write' }, false)).toEqual({ ok: true, message: { ...GRANT, purpose: 'write' } });
    expect(parseMainMessage({ type: 'shutdown' }, false)).toEqual({ ok: true, message: { type: 'shutdown' } });
  });

  test('a malformed grant is refused, naming the field', () => {
    expect(refusal(parseMainMessage({ ...GRANT, grant: '../../etc/passwd' }, false))).toMatch(/^bad grant from main: grant: a grant is the 32 hex digits/);
    expect(refusal(parseMainMessage({ ...GRANT, grant: ID.toUpperCase() }, false))).toMatch(/^bad grant from main: grant: /);
    expect(refusal(parseMainMessage({ ...GRANT, path: 3 }, false))).toBe('bad grant from main: path: a granted path must be a string');
    expect(refusal(parseMainMessage({ ...GRANT, path: '' }, false))).toBe('bad grant from main: path: a granted path must not be empty');
    expect(refusal(parseMainMessage({ ...GRANT, purpose: 'exec' }, false))).toBe("bad grant from main: purpose: a grant's purpose is 'read' or 'write'");
    const { purpose: _, ...noPurpose } = GRANT;
    expect(refusal(parseMainMessage(noPurpose, false))).toMatch(/^bad grant from main: purpose: /);
  });

  test('a connect without a port, an unknown type and a non-object are refused, saying what came', () => {
    expect(refusal(parseMainMessage({ type: 'connect' }, false))).toBe('bad connect from main: it carries no MessagePort');
    expect(refusal(parseMainMessage({ type: 'conect' }, true))).toMatch(/^type: the trainer's parent may only send .*, got "conect"$/);
    expect(refusal(parseMainMessage({}, false))).toMatch(/^type: .*, got undefined$/);
    expect(refusal(parseMainMessage(null, false))).toMatch(/^type: .*, got undefined$/);
    expect(refusal(parseMainMessage('shutdown', false))).toMatch(/^type: .*, got undefined$/);
  });

  test("the GPU host's answers are main's messages too (the types join; gpu-host.ts reads them)", () => {
    const answers: MainGpuMessage[] = [{ type: 'gpu-core', id: 1 }, { type: 'gpu-host-lost', reason: 'crashed' }];
    const all: MainToTrainer[] = [...answers, { type: 'shutdown' }, GRANT];
    expect(all).toHaveLength(4);
    // They are not parse-main messages: the trainer hands them to its GPU host link first.
    for (const answer of answers) expect(parseMainMessage(answer, true).ok).toBe(false);
  });
});

describe('trainer → main', () => {
  test('ready, error and fatal (with and without a system error) are accepted as sent', () => {
    const sent = [
      { type: 'ready', pid: 4242 },
      { type: 'error', message: 'bad grant from main: path: a granted path must be absolute' },
      { type: 'fatal', kind: 'uncaughtException', message: 'Error: boom\n    at x' },
      { type: 'fatal', kind: 'unhandledRejection', message: 'Error: ENOSPC', code: 'ENOSPC', path: '/runs/r/metrics.jsonl' },
    ];
    for (const message of sent) expect(parseTrainerMessage(message), JSON.stringify(message)).toEqual({ ok: true, message });
  });

  test('a malformed one is refused, naming the field', () => {
    expect(refusal(parseTrainerMessage({ type: 'ready', pid: -1 }))).toMatch(/^pid: /);
    expect(refusal(parseTrainerMessage({ type: 'ready' }))).toMatch(/^pid: /);
    expect(refusal(parseTrainerMessage({ type: 'error', message: 7 }))).toMatch(/^message: /);
    expect(refusal(parseTrainerMessage({ type: 'fatal', kind: 'segfault', message: 'x' }))).toMatch(/^kind: /);
    expect(refusal(parseTrainerMessage({ type: 'fatal', kind: 'uncaughtException', message: 'x', code: 28 }))).toMatch(/^code: /);
    expect(refusal(parseTrainerMessage({ type: 'hello' }))).toMatch(/^type: /);
  });

  test("the GPU host's requests are the trainer's messages too", () => {
    const requests: TrainerGpuRequest[] = [{ type: 'gpu-host-probe', id: 0 }, { type: 'gpu-core', id: 1 }];
    const all: TrainerToMain[] = [...requests, { type: 'ready', pid: 1 }];
    expect(all).toHaveLength(3);
  });
});

describe('the new protocol files', () => {
  test('import only zod, other protocol files and (types of) the models\' pure adapter facts', () => {
    const allowed: Record<string, string[]> = {
      'parent-port.ts': ['zod', './gpu-host', './grants'],
      // webgpu-adapter.ts imports nothing (plain facts about adapters).
      'gpu-host.ts': ['../models/webgpu-adapter'],
    };
    for (const [file, names] of Object.entries(allowed)) {
      const source = readFileSync(fileURLToPath(new URL(`../${file}`, import.meta.url)), 'utf8');
      const imports = [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
      expect(imports.length, file).toBeGreaterThan(0);
      for (const name of imports) expect(names, `${file} imports ${name}`).toContain(name);
    }
    const adapter = readFileSync(fileURLToPath(new URL('../../models/webgpu-adapter.ts', import.meta.url)), 'utf8');
    expect([...adapter.matchAll(/from '([^']+)'/g)]).toEqual([]);
  });
});
