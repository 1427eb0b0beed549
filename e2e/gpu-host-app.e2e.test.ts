// The app's own GPU host page, as the app's build makes it (out/renderer/gpu-host.html and its
// bundle), in Debian's Chromium on SwiftShader, served with the CSP header main sends. Electron
// itself cannot start here, so the test stands in for its two parts the page talks to: the
// preload's `window.gpuHost` (e2e/gpu-host-app-bridge.ts keeps the page's reports) and main's
// hand-over of a port per core. Everything else is the app's: the page reports the adapter as
// main's checks accept it, and the trainer's own link (gpu-host/host-link.ts), given the page's
// report and ports as main would give them, trains a run named onto webgpu in the page, to the
// cpu backend's losses.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { contentSecurityPolicy } from '../electron/main/policy';
import { GpuHostLink } from '../electron/trainer/gpu-host/host-link';
import { readHostReport, type GpuHostReport } from '#protocol/gpu-host';
import { tempDir } from '../datasets/test/fixtures';
import { runSession, type Of } from '../electron/trainer/training/test/run-session';
import { findChromium, launchChromium, NO_CHROMIUM } from './browser';
import { buildApp, type BuiltApp } from './build';
import { PagePort } from './page-port';

const SKIP = process.env['FACE_CNN_LAB_SKIP_E2E'] === '1';
const root = resolve(import.meta.dirname, '..');
/** Float32 on another GPU implementation, reductions in another order (as in gpu-host.e2e.test.ts). */
const TOLERANCE = 1e-4;
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

let built: BuiltApp | undefined;
let server: Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let current: PagePort | undefined;
const problems: string[] = [];

/** The app's renderer folder over http://127.0.0.1 (a secure context: WebGPU is offered only to those), its pages with main's CSP header. */
function serve(dir: string): Promise<number> {
  server = createServer((request, response) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir + sep)) return void response.writeHead(403).end();
    readFile(path).then(
      (body) => {
        const type = TYPES[extname(path)] ?? 'application/octet-stream';
        response.writeHead(200, { 'content-type': type, ...(type === 'text/html' ? { 'content-security-policy': contentSecurityPolicy(null) } : {}) }).end(body);
      },
      () => response.writeHead(404).end(),
    );
  });
  return new Promise((done) => server!.listen(0, '127.0.0.1', () => done((server!.address() as { port: number }).port)));
}

async function reports(): Promise<GpuHostReport[]> {
  return (page as Page).evaluate(() => (globalThis as unknown as { __reports: GpuHostReport[] }).__reports);
}

describe.skipIf(SKIP)("the app's GPU host page, as built, on Chromium's WebGPU", () => {
  beforeAll(async () => {
    const chromiumPath = findChromium();
    if (!chromiumPath) throw new Error(NO_CHROMIUM);
    built = await buildApp();
    const bridge = await build({ entryPoints: [join(root, 'e2e/gpu-host-app-bridge.ts')], bundle: true, platform: 'browser', format: 'iife', write: false, logLevel: 'error' });
    const port = await serve(built.rendererDir);
    browser = await launchChromium(chromiumPath, { webgpu: true });
    page = await browser.newPage();
    page.on('console', (message) => {
      // A 404 is told by URL below; Chromium's own console line for it names none.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
    });
    page.on('response', (response) => {
      // The browser asks for /favicon.ico by itself (a file:// page in Electron does not).
      if (response.status() >= 400 && new URL(response.url()).pathname !== '/favicon.ico') problems.push(`${response.status()} ${response.url()}`);
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.exposeFunction('__toNode', (message: unknown) => current?.receive(message));
    await page.addInitScript({ content: bridge.outputFiles[0]!.text });
    await page.goto(`http://127.0.0.1:${port}/gpu-host.html`);
    await page.waitForFunction(() => (globalThis as unknown as { __reports: unknown[] }).__reports.length > 0, undefined, { timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
    await built?.remove();
  });

  test('the page starts WebGPU under the app\'s CSP and reports SwiftShader once, as main\'s checks accept it', async () => {
    const [report, ...more] = await reports();
    expect(more).toEqual([]);
    expect(report).toMatchObject({ ok: true, adapter: { api: 'Chromium', software: expect.stringMatching(/SwiftShader/) } });
    expect(readHostReport(report)).toEqual(report);
    expect(problems).toEqual([]); // no CSP violation, no error
  });

  test('the trainer\'s link, given the page\'s report and ports as main gives them, trains a run named onto webgpu in the page, to the cpu backend\'s losses', async () => {
    const [report] = await reports();
    let cores = 0;
    const link: GpuHostLink = new GpuHostLink({
      send: (request) => {
        if (request.type === 'gpu-host-probe') return void setTimeout(() => link.receive({ type: 'gpu-host-probe', id: request.id, report }, undefined), 0);
        cores++;
        void (page as Page).evaluate(() => (globalThis as unknown as { __appBridge: { open(): void } }).__appBridge.open()).then(() => {
          current = new PagePort(page as Page, '__appBridge');
          link.receive({ type: 'gpu-core', id: request.id }, [current]);
        });
      },
    });
    // A software adapter is never the automatic choice: the run names webgpu, as a user picking it would.
    const gpu = await runSession({ dataDir: await tempDir(), maxSteps: 4, session: { gpuHost: link, backend: 'webgpu' } });
    const cpu = await runSession({ dataDir: await tempDir(), maxSteps: 4, session: { backend: 'cpu' } });
    expect(cores).toBe(1);
    expect(gpu.events.find((e) => e.type === 'started')).toMatchObject({ backendName: 'webgpu', adapter: expect.stringMatching(/swiftshader.*in Chromium/i) } satisfies Partial<Record<keyof Of<'started'>, unknown>>);
    expect(gpu.losses.map(([step]) => step)).toEqual([1, 2, 3, 4]);
    const a = gpu.losses.map(([, l]) => l);
    const b = cpu.losses.map(([, l]) => l);
    const error = Math.sqrt(a.reduce((s, x, i) => s + (x - (b[i] as number)) ** 2, 0) / b.reduce((s, x) => s + x * x, 0));
    expect(error).toBeLessThan(TOLERANCE);
    expect(gpu.events.some((e) => e.type === 'frames')).toBe(true);
    expect(problems).toEqual([]);
  }, 180_000);
});
