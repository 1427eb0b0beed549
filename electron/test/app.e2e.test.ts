// The desktop app end to end: the real Electron binary opens the built app, the window shows
// the Data view, and the page has `window.lab` but no Node (contextIsolation, sandbox,
// nodeIntegration off). Skipped, with the reason printed, where Electron cannot start: its
// binary is downloaded on first use (no network here) and Linux needs a display.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { _electron as electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../datasets/test/fixtures';

const root = resolve(import.meta.dirname, '../..');

/** The Electron binary to launch, or why Electron cannot start here. */
function findElectron(): { binary: string } | { skip: string } {
  // As node_modules/electron/index.js finds it, without its download on first use (a test
  // must not fetch 100 MB; `npm start` does that once).
  const packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  const pathFile = join(packageDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : null;
  const override = process.env['ELECTRON_OVERRIDE_DIST_PATH'];
  const binary = override ? join(override, relative ?? 'electron') : relative !== null ? join(packageDir, 'dist', relative) : null;
  if (binary === null || !existsSync(binary)) return { skip: "Electron's binary is not downloaded (`npm start` fetches it once, or: node node_modules/electron/install.js; it needs the network)" };
  if (process.platform === 'linux' && !process.env['DISPLAY'] && !process.env['WAYLAND_DISPLAY']) return { skip: 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)' };
  return { binary };
}

const found = findElectron();
const skipReason = 'skip' in found ? found.skip : null;
if (skipReason) console.log(`electron/test/app.e2e.test.ts skipped: ${skipReason}.`);

describe.skipIf(skipReason !== null)('the desktop app', () => {
  let app: ElectronApplication;
  let page: Page;

  beforeAll(async () => {
    // Test the code as it is now, not an older build.
    execFileSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'pipe' });
    const env = { ...process.env, FACE_CNN_LAB_DATA: await tempDir('fcl-e2e-') } as Record<string, string>;
    // A dev server URL would make main load it instead of the build.
    delete env['ELECTRON_RENDERER_URL'];
    app = await electron.launch({ executablePath: 'binary' in found ? found.binary : undefined, args: [join(root, 'out/main/index.js')], cwd: root, env, timeout: 60_000 });
    page = await app.firstWindow();
  }, 180_000);

  afterAll(async () => {
    await app?.close();
  });

  test('opens on the Data view', async () => {
    await page.locator('[data-testid="view-data"]').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.getByRole('heading', { name: 'Data' }).isVisible()).toBe(true);
  });

  test('the page has window.lab and no Node', async () => {
    const facts = await page.evaluate(() => {
      const scope = globalThis as unknown as Record<string, unknown>;
      const lab = scope['lab'] as Record<string, unknown> | undefined;
      return {
        lab: typeof lab,
        methods: lab ? Object.keys(lab).sort() : [],
        require: typeof scope['require'],
        process: typeof scope['process'],
        module: typeof scope['module'],
      };
    });
    expect(facts.lab).toBe('object');
    expect(facts.methods).toEqual(['chooseDataset', 'chooseExportPath', 'choosePairsFile', 'connectTrainer', 'onTrainerExit', 'restartTrainer', 'versions']);
    expect(facts.require).toBe('undefined');
    expect(facts.process).toBe('undefined');
    expect(facts.module).toBe('undefined');
  });

  test("the window's title follows the page's (main does not override it)", async () => {
    const title = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.getTitle());
    expect(title).toBe(await page.title());
  });

  test('the page cannot reach the network, nor navigate away', async () => {
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
});
