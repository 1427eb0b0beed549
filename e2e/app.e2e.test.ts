// End to end in the browser: the real UI, built, served by `lab serve` on 127.0.0.1 (its own
// token and an empty data folder) and driven in Debian's Chromium through playwright-core.
// The scenario's steps are in scenario.ts, shared with the desktop app's test
// (electron.e2e.test.ts); here the Data step types ORL's path (serve mode takes typed
// paths), or picks the synthetic faces where ORL is absent; then a PyTorch checkpoint is
// imported, looked inside and evaluated (imported-steps.ts). Screenshots go to
// e2e/artifacts/chromium/ (see e2e/README.md).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe } from 'vitest';
import { findChromium, launchChromium, NO_CHROMIUM, watchPage } from './browser';
import { buildApp, type BuiltApp } from './build';
import { importedRunSteps, writeImportedFixtures, type ImportedFixtures } from './imported-steps';
import { registerScenario, saveConsole, servedDataset, type ScenarioSession } from './scenario';
import { startServe, type Serve } from './serve';

const SKIP = process.env['FACE_CNN_LAB_SKIP_E2E'] === '1';
if (SKIP) console.warn('skipping the end-to-end test in Chromium: FACE_CNN_LAB_SKIP_E2E=1 is set');

const ARTIFACTS = join(import.meta.dirname, 'artifacts', 'chromium');

let built: BuiltApp | undefined;
let serve: Serve | undefined;
let browser: Browser | undefined;
let dataDir: string | undefined;
let session: ScenarioSession | undefined;
let fixtures: ImportedFixtures | undefined;

describe.skipIf(SKIP)('the lab in Chromium against lab serve', () => {
  beforeAll(async () => {
    const chromiumPath = findChromium();
    if (!chromiumPath) throw new Error(NO_CHROMIUM);
    await rm(ARTIFACTS, { recursive: true, force: true });
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'face-cnn-lab-e2e-data-'));
    fixtures = await writeImportedFixtures(await mkdtemp(join(tmpdir(), 'face-cnn-lab-e2e-files-')));
    built = await buildApp();
    serve = await startServe({ rendererDir: built.rendererDir, dataDir });
    browser = await launchChromium(chromiumPath);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    session = { page, watch: watchPage(page) };
  }, 120_000);

  afterAll(async () => {
    if (session) await saveConsole(ARTIFACTS, session.watch);
    if (serve) await writeFile(join(ARTIFACTS, 'lab-serve.log'), serve.output()).catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await serve?.stop();
    await built?.remove();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (fixtures) await rm(join(fixtures.faces, '..'), { recursive: true, force: true });
  }, 60_000);

  registerScenario({
    artifacts: ARTIFACTS,
    session: () => session,
    open: async (page) => {
      await page.goto(serve!.url);
    },
    dataset: servedDataset(),
    log: { name: 'lab serve', output: () => serve?.output() ?? '' },
    // Serve mode only: the desktop app takes these paths from native dialogs.
    extraSteps: importedRunSteps({ session: () => session, fixtures: () => fixtures, artifacts: ARTIFACTS }),
  });
});
