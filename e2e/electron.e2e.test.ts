// End to end in the desktop app: the same scenario as app.e2e.test.ts (scenario.ts), run
// against the real app through playwright-core's Electron support. The app is built into a
// folder of its own (build.ts says why not out/ and why inside the repository), started with
// an empty data folder (FACE_CNN_LAB_DATA) and an empty Electron profile (--user-data-dir:
// the single-instance lock lives there, so an open copy of the lab does not stop this one),
// and its first window is driven as a user would. The desktop app takes paths only from
// native dialogs, which a test cannot answer, so the Data step imports the synthetic faces.
// Then the desktop app's own checks: `window.lab` is the only bridge, frozen and read-only
// (contextIsolation), the page has no Node, the window's title is the page's, the hidden GPU
// host window is there, unseen and without Node, and its report reached main, no network and
// no navigating away.
//
// Skipped, with the reason printed, where Electron cannot start: its binary is downloaded on
// first use (`npm start` does that; it needs the network), and Linux needs a display.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { watchPage } from './browser';
import { buildApp, repoRoot, type BuiltApp } from './build';
import { registerScenario, saveConsole, type ScenarioSession } from './scenario';

/** Why Electron cannot start here, or null when it can. */
function whyNoElectron(): string | null {
  if (process.env['FACE_CNN_LAB_SKIP_E2E'] === '1') return 'FACE_CNN_LAB_SKIP_E2E=1 is set';
  // Where node_modules/electron/index.js (what `require('electron')` returns in Node, and what
  // Playwright launches) finds the binary, without index.js's download when it is missing: a
  // test must not fetch 100 MB.
  const packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  const pathFile = join(packageDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : null;
  const override = process.env['ELECTRON_OVERRIDE_DIST_PATH'];
  const binary = override ? join(override, relative ?? 'electron') : relative !== null ? join(packageDir, 'dist', relative) : null;
  if (binary === null || !existsSync(binary)) {
    return `Electron's binary is not downloaded${binary ? ` (no ${binary})` : ''}; \`npm start\` fetches it once, or: node node_modules/electron/install.js (it needs the network)`;
  }
  if (process.platform === 'linux' && !process.env['DISPLAY'] && !process.env['WAYLAND_DISPLAY']) return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  return null;
}

const skipReason = whyNoElectron();
if (skipReason) console.warn(`skipping the end-to-end test in Electron: ${skipReason}.`);

const ARTIFACTS = join(import.meta.dirname, 'artifacts', 'electron');

let built: BuiltApp | undefined;
let app: ElectronApplication | undefined;
let dataDir: string | undefined;
let profileDir: string | undefined;
let session: ScenarioSession | undefined;
let appLog = '';

/** Whether a URL is the GPU host's page (electron/main/gpu-host-window.ts loads it in a hidden window). */
const isGpuHostUrl = (url: string) => /\/gpu-host\.html(?:[?#].*)?$/.test(url);

/** The app's environment: the caller's, with its own data folder, and nothing that would make Electron run differently. */
function appEnv(data: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  // A dev server URL would make main load it instead of the build; ELECTRON_RUN_AS_NODE would start plain Node.
  delete env['ELECTRON_RENDERER_URL'];
  delete env['ELECTRON_RUN_AS_NODE'];
  env['FACE_CNN_LAB_DATA'] = data;
  return env;
}

describe.skipIf(skipReason !== null)(`the desktop app in Electron${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    await rm(ARTIFACTS, { recursive: true, force: true });
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'face-cnn-lab-e2e-data-'));
    profileDir = await mkdtemp(join(tmpdir(), 'face-cnn-lab-e2e-profile-'));
    // Inside the repository (e2e/artifacts/electron/, not in git), where main's bundle finds its dependencies.
    built = await buildApp({ parent: ARTIFACTS, desktop: true });
    // No executablePath: Playwright then starts node_modules/electron's binary with its loader
    // (which holds the app's 'ready' until Playwright is attached); whyNoElectron made sure
    // that binary is there, so nothing is downloaded.
    app = await electron.launch({
      args: [built.mainScript, `--user-data-dir=${profileDir}`],
      cwd: repoRoot,
      env: appEnv(dataDir),
      timeout: 60_000,
    });
    // Main's output and the trainer's (it passes the trainer's stderr on). Playwright reads
    // these streams too: their encoding is left alone.
    const child = app.process();
    for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer | string) => (appLog += chunk.toString()));
    const page = await app.firstWindow({ timeout: 60_000 });
    page.setDefaultTimeout(15_000);
    const watch = watchPage(page);
    // The window follows the system's theme; the screenshots start light, as in Chromium.
    await page.emulateMedia({ colorScheme: 'light' });
    session = { page, watch };
  }, 240_000);

  afterAll(async () => {
    if (session) await saveConsole(ARTIFACTS, session.watch);
    await writeFile(join(ARTIFACTS, 'electron.log'), appLog).catch(() => undefined);
    if (app) {
      // Quitting waits for the trainer to checkpoint a run; a hung quit is ended by force.
      const child = app.process();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await app.close().catch(() => undefined);
      clearTimeout(timer);
    }
    await built?.remove();
    for (const dir of [dataDir, profileDir]) if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  registerScenario({
    artifacts: ARTIFACTS,
    session: () => session,
    // The window loads the app by itself.
    open: async (page) => {
      await page.waitForLoadState('domcontentloaded');
    },
    dataset: { kind: 'synthetic', why: 'the desktop app opens folders and archives through native dialogs only' },
    log: { name: 'the app', output: () => appLog },
    extraSteps: (step) => {
      step('bridge', 'window.lab is the only bridge, frozen and read-only (contextIsolation)', ['app'], 15_000, async () => {
        const facts = await session!.page.evaluate(() => {
          const scope = globalThis as unknown as Record<string, unknown>;
          const lab = scope['lab'] as Record<string, unknown> | undefined;
          const descriptor = Object.getOwnPropertyDescriptor(scope, 'lab');
          const connect = lab?.['connectTrainer'];
          // What a hostile script in the page would try: replace the bridge, patch it, delete it.
          const attempt = (change: () => void) => {
            try {
              change();
            } catch {
              // refused loudly (strict mode); quietly is as good
            }
          };
          attempt(() => (scope['lab'] = { connectTrainer: () => undefined }));
          attempt(() => (lab!['connectTrainer'] = () => undefined));
          attempt(() => delete scope['lab']);
          return {
            lab: typeof lab,
            keys: lab ? Object.keys(lab).sort() : [],
            frozen: lab ? Object.isFrozen(lab) : false,
            versionsFrozen: lab ? Object.isFrozen(lab['versions']) : false,
            electron: (lab?.['versions'] as { electron?: unknown } | undefined)?.electron,
            writable: descriptor?.writable,
            configurable: descriptor?.configurable,
            stillThere: scope['lab'] === lab,
            unpatched: lab?.['connectTrainer'] === connect,
          };
        });
        expect(facts.lab).toBe('object');
        expect(facts.keys).toEqual(['chooseCheckpoint', 'chooseDataset', 'chooseExportFolder', 'chooseExportPath', 'choosePairsFile', 'connectTrainer', 'onTrainerExit', 'restartTrainer', 'versions']);
        expect(facts).toMatchObject({ frozen: true, versionsFrozen: true, writable: false, configurable: false, stillThere: true, unpatched: true });
        expect(facts.electron).toBe(await app!.evaluate(() => process.versions['electron']));
      });

      step('node', 'the page has no Node: no require, process, module or Buffer', ['app'], 15_000, async () => {
        const types = await session!.page.evaluate(() => {
          const scope = globalThis as unknown as Record<string, unknown>;
          return { require: typeof scope['require'], process: typeof scope['process'], module: typeof scope['module'], Buffer: typeof scope['Buffer'] };
        });
        expect(types).toEqual({ require: 'undefined', process: 'undefined', module: 'undefined', Buffer: 'undefined' });
      });

      step('title', "the window's title follows the page's (main does not override it)", ['app'], 15_000, async () => {
        // The app's window, not the hidden GPU host's.
        const title = await app!.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().find((win) => !/\/gpu-host\.html(?:[?#].*)?$/.test(win.webContents.getURL()))?.getTitle());
        expect(title).toBe(await session!.page.title());
      });

      step('gpu-host', 'the hidden GPU host window: never shown, not throttled, no Node in its page, and its report reached main', ['app'], 60_000, async () => {
        const electronApp = app!;
        // The trainer asks for the host when it looks at its backends: by now, or soon.
        await expect
          .poll(async () => electronApp.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().filter((win) => /\/gpu-host\.html(?:[?#].*)?$/.test(win.webContents.getURL())).length), { timeout: 30_000 })
          .toBe(1);
        const window = await electronApp.evaluate(({ BrowserWindow }) => {
          const host = BrowserWindow.getAllWindows().find((win) => /\/gpu-host\.html(?:[?#].*)?$/.test(win.webContents.getURL()));
          return { visible: host?.isVisible(), throttled: host?.webContents.getBackgroundThrottling(), title: host?.webContents.getTitle() };
        });
        expect(window).toEqual({ visible: false, throttled: false, title: 'Face CNN Lab GPU host' });
        const page = electronApp.windows().find((candidate) => isGpuHostUrl(candidate.url()));
        expect(page, 'the GPU host page among the app\'s pages').toBeDefined();
        const globals = await page!.evaluate(() => {
          const scope = globalThis as unknown as Record<string, unknown>;
          const bridge = scope['gpuHost'] as Record<string, unknown> | undefined;
          return {
            require: typeof scope['require'],
            process: typeof scope['process'],
            module: typeof scope['module'],
            Buffer: typeof scope['Buffer'],
            lab: typeof scope['lab'],
            gpuHost: bridge ? Object.keys(bridge).sort() : null,
            frozen: bridge ? Object.isFrozen(bridge) : false,
          };
        });
        expect(globals).toEqual({ require: 'undefined', process: 'undefined', module: 'undefined', Buffer: 'undefined', lab: 'undefined', gpuHost: ['lost', 'report'], frozen: true });
        // main says what the page reported, either way (a GPU, a software adapter, or why there is none).
        await expect.poll(() => appLog, { timeout: 30_000 }).toMatch(/Face CNN Lab GPU host: (WebGPU on .+|no usable WebGPU: .+)/);
      });

      // Last of the app's checks: were navigation not refused, the page would be gone.
      step('offline', 'the page cannot reach the network, nor navigate away', ['app'], 15_000, async () => {
        const page = session!.page;
        const fetched = await page.evaluate(() => fetch('https://example.com/').then(() => 'loaded', () => 'blocked'));
        expect(fetched).toBe('blocked');
        const before = page.url();
        await page.evaluate(() => {
          // http, not https: an https link would be opened in the user's browser.
          (globalThis as unknown as { location: { href: string } }).location.href = 'http://example.com/';
        });
        await page.waitForTimeout(500);
        expect(page.url()).toBe(before);
      });
    },
  });
});
