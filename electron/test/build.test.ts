// The app's build: electron-vite emits main, the trainer, a CommonJS preload and
// the renderer, and the built trainer runs as a plain Node child process.
import { execFileSync, fork } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { unpackedUrl } from '../../datasets/asar-unpacked';
import { PROTOCOL_VERSION } from '#protocol/version';
import { loadPackaging, packageClosure, productionRoots, type Packaging } from './packaging';

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

beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'pipe' });
});

describe('electron-vite build', () => {

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

  test("the GPU host's window, preload and page are built: a hidden, sandboxed, unthrottled window, one self-contained CommonJS preload", () => {
    for (const file of ['out/preload/gpu-host.cjs', 'out/renderer/gpu-host.html']) expect(existsSync(join(root, file)), file).toBe(true);
    // A sandboxed preload can require electron's modules only: neither preload may load a chunk.
    for (const file of ['out/preload/index.cjs', 'out/preload/gpu-host.cjs']) {
      const text = readFileSync(join(root, file), 'utf8');
      expect([...text.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]), file).toEqual(['electron']);
      expect(text, file).not.toMatch(/^import /m);
    }
    const preload = readFileSync(join(root, 'out/preload/gpu-host.cjs'), 'utf8');
    expect(preload).toMatch(/exposeInMainWorld\(["']gpuHost["']/);
    expect(preload).toMatch(/lab:gpu-host-core/);
    const main = readFileSync(join(root, 'out/main/index.js'), 'utf8');
    expect(main).toMatch(/preload\/gpu-host\.cjs/);
    expect(main).toMatch(/backgroundThrottling: false/);
    expect(main).toMatch(/["']gpu-host\.html["']/);
    const html = readFileSync(join(root, 'out/renderer/gpu-host.html'), 'utf8');
    expect(html).toMatch(/http-equiv="Content-Security-Policy"[\s\S]*script-src 'self';/);
    expect(html).toMatch(/<script type="module" crossorigin src="\.\/assets\/gpuHost-[^"]+\.js"><\/script>/);
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

  test('the app loads none of the command-line-only packages that electron-builder.yml leaves out, and every package it does load ships', async () => {
    const packaging = await loadPackaging();
    const bundles = [...readdirSync(join(root, 'out/main')).map((f) => `out/main/${f}`), ...readdirSync(join(root, 'out/preload')).map((f) => `out/preload/${f}`)].filter((f) => /\.[cm]?js$/.test(f));
    const loaded = new Set<string>();
    for (const bundle of bundles) {
      const text = readFileSync(join(root, bundle), 'utf8');
      // Static imports (statements at the start of a line), import() and require() of a bare name.
      for (const m of text.matchAll(/(?:^\s*(?:import|export)\b[^;]*?\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"'./][^"']*)["']/gm)) {
        const specifier = m[1] as string;
        if (specifier.startsWith('node:') || specifier === 'electron') continue;
        loaded.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string));
      }
    }
    expect(loaded).toContain('sharp');
    for (const name of loaded) {
      expect(productionRoots, `${name} is imported by the app`).toContain(name);
      expect(packaging.shipsModuleFile(`node_modules/${name}/package.json`), `${name} is imported by the app`).toBe(true);
    }
    for (const name of ['tsx', 'commander', 'cli-progress', 'ws', 'webgpu']) {
      expect(loaded.has(name), `${name} is imported by the app`).toBe(false);
      expect(packaging.shipsModuleFile(`node_modules/${name}/package.json`), name).toBe(false);
    }
    // What the app loads depends only on packages that ship.
    const runtime = packageClosure([...loaded]);
    expect([...runtime].filter((key) => existsSync(join(root, key, 'package.json')) && !packaging.shipsModuleFile(`${key}/package.json`))).toEqual([]);
  });
});

/** Worker scripts the main-side bundles start (`new URL('./x.js', import.meta.url)`), and the files those import, relative to the project. */
function workerScripts(): string[] {
  const found = new Set<string>();
  const todo: string[] = [];
  for (const bundle of readdirSync(join(root, 'out/main')).filter((f) => f.endsWith('.js'))) {
    const text = readFileSync(join(root, 'out/main', bundle), 'utf8');
    for (const m of text.matchAll(/new URL\(\s*["'](\.{1,2}\/[^"']+)["']\s*,\s*import\.meta\.url\s*\)/g)) todo.push(posix.join('out/main', m[1] as string));
  }
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (found.has(file)) continue;
    found.add(file);
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g)) todo.push(posix.join(posix.dirname(file), m[1] as string));
  }
  return [...found].sort();
}

describe('packaged: worker threads load from app.asar.unpacked', () => {
  let packaging: Packaging;
  beforeAll(async () => {
    packaging = await loadPackaging();
  });

  test('every worker script the trainer starts, and what it imports, ships unpacked, as an ES module by an unpacked package.json', () => {
    const scripts = workerScripts();
    expect(scripts).toEqual(['out/main/batch-kernel.js', 'out/main/batch-worker.js']);
    for (const file of scripts) {
      expect(packaging.shipsAppFile(file), file).toBe(true);
      expect(packaging.unpacked(file), file).toBe(true);
      // In app.asar.unpacked the nearest package.json is the nearest one unpacked with it.
      let scope: string | null = null;
      for (let dir = posix.dirname(file); scope === null; dir = posix.dirname(dir)) {
        const candidate = dir === '.' ? 'package.json' : `${dir}/package.json`;
        if (existsSync(join(root, candidate)) && packaging.shipsAppFile(candidate) && packaging.unpacked(candidate)) scope = candidate;
        else if (dir === '.') break;
      }
      expect(scope, `the package.json that makes ${file} an ES module in app.asar.unpacked`).not.toBeNull();
      expect(JSON.parse(readFileSync(join(root, scope as string), 'utf8'))).toMatchObject({ type: 'module' });
    }
    // The trainer starts the batch worker from the unpacked copy.
    const bundle = readFileSync(join(root, 'out/main/trainer.js'), 'utf8');
    expect(bundle).toMatch(/unpackedUrl(\$\d+)?\(new URL\(["']\.\/batch-worker\.js["'], import\.meta\.url\)\)/);
  });

  test('in a packaged layout (app.asar a file, its unpacked files a folder) the batch worker starts from the unpacked copy and answers', async () => {
    const resources = mkdtempSync(join(tmpdir(), 'face-cnn-lab-packaged-'));
    try {
      // Plain Node cannot read inside app.asar at all: what works here needs no asar support.
      writeFileSync(join(resources, 'app.asar'), 'an archive');
      for (const file of readdirSync(join(root, 'out/main')).map((f) => `out/main/${f}`)) {
        if (!packaging.shipsAppFile(file) || !packaging.unpacked(file)) continue;
        mkdirSync(dirname(join(resources, 'app.asar.unpacked', file)), { recursive: true });
        copyFileSync(join(root, file), join(resources, 'app.asar.unpacked', file));
      }
      // As the trainer bundle computes it: resolved against out/main/trainer.js inside the archive.
      const url = unpackedUrl(new URL('./batch-worker.js', pathToFileURL(join(resources, 'app.asar/out/main/trainer.js'))));
      // A child without syntax detection: the unpacked package.json must make the files ES modules.
      const script = `
        import { Worker } from 'node:worker_threads';
        const pixels = new Uint8Array(new SharedArrayBuffer(16)).fill(255);
        const worker = new Worker(new URL(process.argv[1]), { workerData: { pixels, storedSize: 4, inputSize: 2, labels: new Int32Array([7]) }, execArgv: ['--no-experimental-detect-module'] });
        worker.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); });
        worker.on('message', (m) => { console.log(JSON.stringify({ xs: Array.from(m.xs), ys: Array.from(m.ys) })); process.exit(0); });
        worker.postMessage({ type: 'batch', batch: 0, images: new Int32Array([0]), crops: null });`;
      const out = execFileSync(process.execPath, ['--no-experimental-detect-module', '--input-type=module', '-e', script, url.href], { encoding: 'utf8', timeout: 20_000 });
      expect(url.href).toContain('app.asar.unpacked');
      expect(JSON.parse(out)).toEqual({ xs: [1, 1, 1, 1], ys: [7] });
    } finally {
      rmSync(resources, { recursive: true, force: true });
    }
  });
});

/** The GPU host page's script (out/renderer/assets/gpuHost-*.js). */
function gpuHostBundle(): string {
  const assets = join(root, 'out/renderer/assets');
  const entry = readdirSync(assets).find((f) => /^gpuHost-.*\.js$/.test(f));
  expect(entry).toBeDefined();
  return join(assets, entry as string);
}

describe('renderer bundle', () => {
  test("never constructs a Function: zod's eval probe (a CSP violation under script-src 'self') does not run", () => {
    const assets = join(root, 'out/renderer/assets');
    const entry = readdirSync(assets).find((f) => /^index-.*\.js$/.test(f));
    expect(entry).toBeDefined();
    // The whole bundle in a DOM without #app: every module runs, then main.ts stops at the mount.
    const script = `
      import { pathToFileURL } from 'node:url';
      import { JSDOM } from 'jsdom';
      const bundle = process.argv[1];
      const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: pathToFileURL(bundle).href });
      for (const name of ['window', 'document', 'navigator', 'location', 'HTMLElement', 'Node', 'Element', 'getComputedStyle', 'requestAnimationFrame', 'matchMedia']) {
        if (name in dom.window) Object.defineProperty(globalThis, name, { value: name === 'window' ? dom.window : dom.window[name], configurable: true, writable: true });
      }
      const constructed = [];
      globalThis.Function = new Proxy(Function, {
        construct(target, args) { constructed.push(args.map(String)); return Reflect.construct(target, args); },
        apply(target, self, args) { constructed.push(args.map(String)); return Reflect.apply(target, self, args); },
      });
      let error = '';
      try { await import(pathToFileURL(bundle).href); } catch (e) { error = String(e?.message ?? e); }
      console.log(JSON.stringify({ constructed, error, jitless: globalThis.__zod_globalConfig?.jitless ?? null }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, join(assets, entry as string)], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(out) as { constructed: string[][]; error: string; jitless: boolean | null };
    expect(result.error).toBe('index.html has no #app element');
    expect(result.jitless).toBe(true);
    expect(result.constructed).toEqual([]);
  });

  test("the GPU host page (tfjs and its WebGPU backend included) runs under script-src 'self', reports through window.gpuHost, and serves a core on each port its preload posts", () => {
    const bundle = gpuHostBundle();
    // WebGPU is bundled with the whole compute core; a few MB, not tens.
    expect(statSync(bundle).size).toBeLessThan(8 * 2 ** 20);
    expect(readFileSync(bundle, 'utf8')).toMatch(/webgpu/);
    // Without navigator.gpu (jsdom has none) the page must say so through its bridge, not throw.
    const script = `
      import { pathToFileURL } from 'node:url';
      import { JSDOM } from 'jsdom';
      const bundle = process.argv[1];
      const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: pathToFileURL(bundle).href });
      for (const name of ['window', 'document', 'navigator', 'location', 'HTMLElement', 'Node', 'Element', 'getComputedStyle', 'requestAnimationFrame', 'matchMedia']) {
        if (name in dom.window) Object.defineProperty(globalThis, name, { value: name === 'window' ? dom.window : dom.window[name], configurable: true, writable: true });
      }
      // The page's own window: its message listener, and what its preload exposes.
      const listeners = [];
      globalThis.addEventListener = (type, listener) => listeners.push([type, listener]);
      const calls = [];
      globalThis.gpuHost = { report: (report) => calls.push(['report', report]), lost: (reason) => calls.push(['lost', reason]) };
      const constructed = [];
      globalThis.Function = new Proxy(Function, {
        construct(target, args) { constructed.push(args.map(String)); return Reflect.construct(target, args); },
        apply(target, self, args) { constructed.push(args.map(String)); return Reflect.apply(target, self, args); },
      });
      let error = '';
      try { await import(pathToFileURL(bundle).href); } catch (e) { error = String(e?.message ?? e); }
      for (let i = 0; i < 100 && calls.length === 0; i++) await new Promise((done) => setTimeout(done, 20));
      // A port as the preload posts it (source: the page's window), and one posted by anyone else.
      const served = [];
      const port = (name) => ({ addEventListener: (type) => served.push([name, type]), removeEventListener() {}, start: () => served.push([name, 'start']), postMessage() {}, close() {} });
      for (const [type, listener] of listeners) {
        if (type !== 'message') continue;
        listener({ source: globalThis, data: { type: 'lab:gpu-host-core' }, ports: [port('ours')] });
        listener({ source: {}, data: { type: 'lab:gpu-host-core' }, ports: [port('foreign')] });
        listener({ source: globalThis, data: { type: 'lab:port' }, ports: [port('other type')] });
      }
      console.log(JSON.stringify({ constructed, error, calls, served, jitless: globalThis.__zod_globalConfig?.jitless ?? null }));
      process.exit(0);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, bundle], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { constructed: string[][]; error: string; calls: unknown[]; served: string[][]; jitless: boolean | null };
    expect(result.error).toBe('');
    expect(result.calls).toEqual([['report', { ok: false, reason: expect.stringMatching(/^this page has no WebGPU \(navigator\.gpu\)/), hint: expect.stringMatching(/CPU backends/) }]]);
    expect(result.constructed).toEqual([]);
    expect(result.jitless).toBe(true);
    expect(new Set(result.served.map(([name]) => name))).toEqual(new Set(['ours']));
    expect(result.served).toContainEqual(['ours', 'message']);
  });
});
