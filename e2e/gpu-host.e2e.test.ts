// The GPU host for real, here: the lab's compute core in a page of Debian's Chromium on its
// WebGPU (SwiftShader, the software Vulkan it ships: the WebGPU implementation Electron has),
// driven by the real trainer code in this process over the core's port protocol. Playwright
// carries the messages where the app will hand over a MessagePort. A tiny run's loss rows
// match the in-process cpu backend's; maps come back; a checkpoint is written and resumed;
// a lost device ends the run with a message that says so.
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeFrame } from '#protocol/frames';
import { RemoteCore } from '../electron/trainer/training/core-port';
import type { TrainEvent } from '../electron/trainer/training/session';
import { runSession, type Of } from '../electron/trainer/training/test/run-session';
import { findChromium, launchChromium, NO_CHROMIUM } from './browser';
import { PagePort } from './page-port';

const SKIP = process.env['FACE_CNN_LAB_SKIP_E2E'] === '1';
const root = resolve(import.meta.dirname, '..');
/** Float32 on another GPU implementation, reductions in another order. */
const TOLERANCE = 1e-4;

let server: Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let folder: string | undefined;
let current: PagePort | undefined;

async function host<T>(call: string, ...args: unknown[]): Promise<T> {
  return (page as Page).evaluate(([name, rest]) => (globalThis as unknown as { __gpuHost: Record<string, (...a: unknown[]) => unknown> }).__gpuHost[name as string]!(...(rest as unknown[])), [call, args] as const) as Promise<T>;
}

/** A core in the page, on a fresh channel (one per run). */
async function pageCore(spec: Parameters<typeof RemoteCore.create>[1]): Promise<RemoteCore> {
  await host('open');
  current = new PagePort(page as Page, '__gpuHost');
  return RemoteCore.create(current, spec);
}

/** A tiny run: its compute core in the page (`onPage`), or in this process on cpu. */
function train(dataDir: string, options: { maxSteps: number; onPage: boolean; resume?: string; onEvent?: (e: TrainEvent) => void }) {
  return runSession({
    dataDir,
    maxSteps: options.maxSteps,
    ...(options.resume !== undefined ? { resume: options.resume } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    // The session's own side picks cpu; with `core`, the page computes.
    session: { backend: 'cpu', ...(options.onPage ? { core: pageCore } : {}) },
  });
}

function relativeError(a: readonly number[], b: readonly number[]): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  });
  return Math.sqrt(num / den);
}

describe.skipIf(SKIP)('the GPU host: the compute core on Chromium\'s WebGPU', () => {
  beforeAll(async () => {
    const chromiumPath = findChromium();
    if (!chromiumPath) throw new Error(NO_CHROMIUM);
    folder = await mkdtemp(join(tmpdir(), 'face-cnn-lab-gpu-host-'));
    const bundle = await build({ entryPoints: [join(root, 'e2e/gpu-host-page.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'error' });
    const files: Record<string, { type: string; body: Uint8Array | string }> = {
      '/': { type: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>GPU host</title><script type="module" src="/host.js"></script>' },
      '/host.js': { type: 'text/javascript', body: bundle.outputFiles[0]!.contents },
    };
    server = createServer((request, response) => {
      const file = files[request.url ?? ''];
      if (!file) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': file.type }).end(file.body);
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    browser = await launchChromium(chromiumPath, { webgpu: true });
    page = await browser.newPage();
    await page.exposeFunction('__toNode', (message: unknown) => current?.receive(message));
    // 127.0.0.1 is a secure context: WebGPU is offered only to those.
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => '__gpuHost' in globalThis);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  test('Chromium gives SwiftShader, named and known as a software adapter', async () => {
    const started = await host<{ description: string; adapter: { software: string | null; maxStorageBufferBindingSize: number } }>('start');
    expect(started.description).toMatch(/swiftshader.*in Chromium/i);
    expect(started.adapter.software).toMatch(/SwiftShader/);
    expect(started.adapter.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  test('a tiny run trains in the page: loss rows as on cpu, maps, a checkpoint resumed', async () => {
    const gpuDir = await mkdtemp(join(folder as string, 'gpu-'));
    const gpu = await train(gpuDir, { maxSteps: 8, onPage: true });
    const cpu = await train(await mkdtemp(join(folder as string, 'cpu-')), { maxSteps: 8, onPage: false });
    expect(gpu.outcome.state).toBe('stopped');
    expect(gpu.losses.map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(relativeError(gpu.losses.map(([, l]) => l), cpu.losses.map(([, l]) => l))).toBeLessThan(TOLERANCE);
    const frames = (gpu.events.filter((e) => e.type === 'frames') as Of<'frames'>[]).flatMap((e) => e.frames.map((f) => decodeFrame(f)));
    expect(frames.length).toBeGreaterThan(0);
    expect(Math.max(...frames[0]!.map(0, 0))).toBe(255); // a real map, not zeros
    expect(gpu.events.some((e) => e.type === 'checkpoint' && e.step === 8)).toBe(true);

    const resumed = await train(gpuDir, { maxSteps: 12, onPage: true, resume: gpu.runId });
    expect(resumed.losses.map(([step]) => step)).toEqual([9, 10, 11, 12]);
    const cpuLonger = await train(await mkdtemp(join(folder as string, 'cpu12-')), { maxSteps: 12, onPage: false });
    expect(relativeError(resumed.losses.map(([, l]) => l), cpuLonger.losses.slice(8).map(([, l]) => l))).toBeLessThan(TOLERANCE);
  }, 240_000);

  test('a device lost mid-run ends the run with a message that names it', async () => {
    const dir = await mkdtemp(join(folder as string, 'lost-'));
    let lost = false;
    const run = train(dir, {
      maxSteps: 40,
      onPage: true,
      onEvent: (e) => {
        if (e.type === 'progress' && e.step === 3 && !lost) {
          lost = true;
          void host('loseDevice');
        }
      },
    });
    await expect(run).rejects.toThrow(/GPU device was lost|GPU host .* is gone/);
  }, 120_000);
});
