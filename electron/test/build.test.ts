// The app's build: electron-vite emits main, the trainer, a CommonJS preload and
// the renderer, and the built trainer runs as a plain Node child process.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { PROTOCOL_VERSION } from '../trainer/version';

const root = resolve(import.meta.dirname, '../..');

function talkTo(entry: string, execArgv: string[] = []): Promise<unknown[]> {
  return new Promise((done, fail) => {
    // 'advanced' serialization: activation frames are ArrayBuffers.
    const child = fork(entry, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const replies: unknown[] = [];
    child.on('message', (message) => {
      replies.push(message);
      if (replies.length === 1) {
        child.send({ type: 'command', id: 1, command: { name: 'status' } });
        child.send({ type: 'launch-missiles' });
      }
      if (replies.length === 3) child.kill();
    });
    child.on('exit', () => done(replies));
    child.on('error', fail);
    setTimeout(() => child.kill(), 20_000).unref();
  });
}

describe('electron-vite build', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'pipe' });
  });

  test('emits every entry; the preload is CommonJS (sandboxed preloads cannot be ES modules)', () => {
    for (const file of ['out/main/index.js', 'out/main/trainer.js', 'out/preload/index.cjs', 'out/renderer/index.html']) expect(existsSync(join(root, file)), file).toBe(true);
    const preload = readFileSync(join(root, 'out/preload/index.cjs'), 'utf8');
    expect(preload).toMatch(/require\(["']electron["']\)/);
    expect(preload).not.toMatch(/^import /m);
    const main = readFileSync(join(root, 'out/main/index.js'), 'utf8');
    expect(main).toMatch(/contextIsolation: true/);
    expect(main).toMatch(/sandbox: true/);
    expect(main).toMatch(/preload\/index\.cjs/);
    // The trainer runs as a utility process started from main's folder, and windows get ports to it.
    expect(main).toMatch(/utilityProcess\.fork\(/);
    expect(main).toMatch(/["']trainer\.js["']/);
    expect(main).toMatch(/MessageChannelMain/);
    expect(preload).toMatch(/lab:port/);
  });

  test("the batch prefetcher's worker ships beside the trainer bundle, as batches.ts starts it", async () => {
    const bundle = readFileSync(join(root, 'out/main/trainer.js'), 'utf8');
    expect(bundle).toMatch(/new URL\(["']\.\/batch-worker\.js["'], import\.meta\.url\)/);
    const kernel = (await import(join(root, 'out/main/batch-kernel.js'))) as { assembleBatch?: unknown };
    expect(typeof kernel.assembleBatch).toBe('function');
    expect(readFileSync(join(root, 'out/main/batch-worker.js'), 'utf8')).toMatch(/from ['"]\.\/batch-kernel\.js['"]/);
  });

  test('the built trainer runs under child_process.fork and answers', async () => {
    const replies = await talkTo(join(root, 'out/main/trainer.js'));
    expect(replies[0]).toMatchObject({ type: 'welcome', protocol: PROTOCOL_VERSION });
    // The reply and the refusal of the unknown message may come in either order.
    expect(replies.slice(1)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'reply', id: 1, ok: true, result: expect.objectContaining({ state: null, viewers: 1 }) }),
        expect.objectContaining({ type: 'error', message: expect.stringMatching(/type/) }),
      ]),
    );
  });
});
