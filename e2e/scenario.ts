// The end-to-end scenario, shared by the two ways the lab runs: the built UI in Debian's
// Chromium against `lab serve` (app.e2e.test.ts) and the desktop app in Electron
// (electron.e2e.test.ts). A user's afternoon in a few minutes: import faces (ORL, or the
// synthetic set), train a tiny model at 32 px, watch the loss, the activation maps of conv1
// and the dead counts, pause, resume, stop, train a second run with another activation,
// find both in Runs, compare them, evaluate one. Screenshots of every view go to the
// caller's artifacts folder.
//
// `registerScenario` registers the steps as vitest tests in the current describe block;
// the caller's beforeAll makes the page (`session`). The steps share that page and run in
// order. A step that needs an earlier one which did not pass is skipped with the reason, so
// one broken view does not hide how far the others got. Any uncaught error in the page fails
// the step it happened in, and the last step ('clean').
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { ORL } from '../datasets/test/fixtures';
import type { PageWatch } from './browser';
import { repoRoot } from './build';
import { canvasPixels, drawn } from './canvas';
import type { PageGlobals } from './page-globals';

/** The page the steps drive, and what it has reported so far. */
export interface ScenarioSession {
  page: Page;
  watch: PageWatch;
}

/** Which faces the Data step imports. */
export type ScenarioDataset =
  /** ORL by its path, typed into the Data view (serve mode: the desktop app takes paths from native dialogs only). */
  | { kind: 'orl'; path: string }
  /** The seeded synthetic set (20 identities, 200 images by default); `why` says why not ORL. */
  | { kind: 'synthetic'; why: string };

/** One scenario step: `needs` are keys of steps that must have passed. */
export type StepFunction = (key: string, title: string, needs: string[], timeoutMs: number, body: () => Promise<void>) => void;

export interface ScenarioOptions {
  /** Where screenshots go (the caller empties it before the run). */
  artifacts: string;
  /** The page, once the caller's beforeAll has made it. */
  session(): ScenarioSession | undefined;
  /** Brings the page to the lab (Chromium: goes to lab serve's URL; Electron: the window loads the app itself). */
  open(page: Page): Promise<void>;
  dataset: ScenarioDataset;
  /** The backend's output (lab serve's, or the app's), whose last lines go into a failed step's message. */
  log?: { name: string; output(): string };
  /** The caller's own steps, registered after the scenario's and before the final 'clean' check. */
  extraSteps?(step: StepFunction): void;
}

/** ORL where the shared datasets are; FACE_CNN_LAB_E2E_SYNTHETIC=1 takes the synthetic faces anyway (the path taken elsewhere). */
export function servedDataset(): ScenarioDataset {
  if (process.env['FACE_CNN_LAB_E2E_SYNTHETIC'] === '1') return { kind: 'synthetic', why: 'FACE_CNN_LAB_E2E_SYNTHETIC=1' };
  if (!existsSync(join(ORL, 's1'))) return { kind: 'synthetic', why: 'ORL is not on this machine' };
  return { kind: 'orl', path: ORL };
}

/** The first run: ReLU, long enough to be paused, resumed and stopped by hand (it is stopped long before its cap). */
const RUN1 = { model: 'tiny', inputSize: 32, activation: /^relu$/, batch: 16, epochs: 100, maxSteps: 1500 };
/** The second run: leaky ReLU, a few steps, left to finish on its own. */
const RUN2 = { activation: /^leaky_relu/, maxSteps: 60 };

/** Writes the page's uncaught errors and console warnings and errors to `page-console.log`. */
export async function saveConsole(artifacts: string, watch: PageWatch): Promise<void> {
  if (!existsSync(artifacts)) return;
  await writeFile(join(artifacts, 'page-console.log'), [...watch.errors.map((e) => `[pageerror] ${e}`), ...watch.console].join('\n') + '\n');
}

/** Registers the scenario's steps (then `extraSteps`, then 'clean') in the current describe block. */
export function registerScenario(options: ScenarioOptions): void {
  const { artifacts, dataset } = options;
  const shown = relative(repoRoot, artifacts);
  const passed = new Set<string>();
  const runIds: string[] = [];
  /** The Train view's activation layers in model order (issue 14, 2.4: other views keep it). */
  let trainLayerOrder: string[] = [];
  // The page of the current step (set by `step` before its body runs).
  let page!: Page;
  let watch: PageWatch = { errors: [], console: [] };

  // -------------------------------------------------------------------------
  // Steps

  /** One scenario step: skipped when a step it needs did not pass; fails on uncaught page errors; screenshots a failure. */
  const step: StepFunction = (key, title, needs, timeoutMs, body) => {
    test(`${key}: ${title}`, async (context) => {
      const unmet = needs.filter((need) => !passed.has(need));
      if (unmet.length > 0) context.skip(`needs ${unmet.join(', ')}, which did not pass`);
      const session = options.session();
      if (!session) throw new Error('no page: the setup (beforeAll) did not make one');
      ({ page, watch } = session);
      const errorsBefore = watch.errors.length;
      try {
        await body();
        const fresh = watch.errors.slice(errorsBefore);
        if (fresh.length > 0) throw new Error(`uncaught error(s) in the page:\n${fresh.join('\n---\n')}`);
        passed.add(key);
      } catch (error) {
        await page.screenshot({ path: join(artifacts, `failed-${key}.png`), fullPage: true }).catch(() => undefined);
        const tail = (options.log?.output().split('\n').slice(-15) ?? []).map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line)).join('\n');
        if (error instanceof Error) error.message += `\n(screenshot: ${shown}/failed-${key}.png${options.log ? `; last lines of ${options.log.name}:\n${tail}` : ''})`;
        throw error;
      }
    }, timeoutMs);
  };

  // -------------------------------------------------------------------------
  // Page helpers

  const view = (name: string): Locator => page.getByTestId(`view-${name}`);

  async function openTab(title: string): Promise<Locator> {
    await page.getByRole('tab', { name: title, exact: true }).click();
    const panel = view(title.toLowerCase());
    await panel.waitFor({ state: 'visible' });
    return panel;
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  }

  /** The header's status: "backend · runId · state" while there is a run. */
  async function status(): Promise<{ text: string; runId: string | null; state: string | null }> {
    const text = ((await page.getByTestId('connection-status').textContent()) ?? '').replace(/\s+/g, ' ').trim();
    const parts = text.split('·').map((part) => part.trim());
    return { text, runId: parts[1] || null, state: parts[2] || null };
  }

  /** Waits until the header shows one of `states` (for `runId` when given); gives up at once on a failed run. */
  async function waitForState(states: string | string[], timeout: number, runId?: string): Promise<string> {
    const wanted = Array.isArray(states) ? states : [states];
    const deadline = Date.now() + timeout;
    for (;;) {
      const now = await status();
      const ours = runId === undefined || now.runId === runId;
      if (ours && now.state !== null && wanted.includes(now.state)) return now.runId!;
      if (ours && now.state === 'failed') {
        const alerts = await page.getByRole('alert').allTextContents();
        throw new Error(`the run failed while waiting for ${wanted.join(' or ')}: "${now.text}"; alerts: ${alerts.join(' | ') || 'none'}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for the run${runId ? ` ${runId}` : ''} to be ${wanted.join(' or ')}; the header says "${now.text}"`);
      // Polling the page, not timing the run: the next read comes when the page has had a moment.
      await page.waitForTimeout(100);
    }
  }

  /** Picks the first option whose value or label matches; returns its value. */
  async function choose(select: Locator, pattern: RegExp): Promise<string> {
    await select.waitFor({ state: 'visible' });
    const options = await select.locator('option').evaluateAll((elements) =>
      elements.map((element) => ({ value: (element as unknown as { value: string }).value, label: (element.textContent ?? '').trim() })),
    );
    const found = options.find((option) => pattern.test(option.value) || pattern.test(option.label));
    if (!found) throw new Error(`no option matching ${pattern} in ${select}; it has: ${options.map((o) => o.value).join(', ')}`);
    await select.selectOption({ value: found.value });
    return found.value;
  }

  async function setNumber(input: Locator, value: number): Promise<void> {
    await input.fill(String(value));
    await input.press('Tab');
    expect(Number(await input.inputValue()), `${input}`).toBe(value);
  }

  /** A Train view chart's data-points. */
  async function points(chart: string): Promise<number> {
    return Number((await view('train').getByTestId(chart).getAttribute('data-points')) ?? NaN);
  }

  /** One hash for the pixels of every canvas the locator matches. */
  async function pixelsHash(canvases: Locator): Promise<string> {
    return (await canvasPixels(canvases)).map((c) => c.hash).join(',');
  }

  // -------------------------------------------------------------------------

  step('app', 'the page loads, shows the five views as tabs and connects to the trainer', [], 45_000, async () => {
    await options.open(page);
    const tabs = page.getByRole('tab');
    await tabs.first().waitFor();
    expect(await tabs.allTextContents()).toEqual(['Data', 'Experiment', 'Train', 'Runs', 'Evaluate']);
    // The header names the backend once labInfo has arrived.
    await expect.poll(async () => (await status()).text, { timeout: 30_000 }).toMatch(/^(tensorflow-gpu|webgpu|tensorflow|wasm|cpu)\b/);
    await page.getByTestId('view-data').waitFor();
  });

  step('experiment', 'Experiment: the tiny model at 32 px, ReLU, with its layers listed', ['app'], 45_000, async () => {
    const panel = await openTab('Experiment');
    await choose(panel.getByLabel('Model', { exact: true }), new RegExp(`^${RUN1.model}$`));
    await setNumber(panel.getByLabel('Input size', { exact: true }), RUN1.inputSize);
    await choose(panel.getByLabel('Activation', { exact: true }), RUN1.activation);
    // One row per activation layer of the tiny model, each with its own activation select.
    // Wait for the tiny model's own rows: until its description arrives, the table still lists the previous model's layers.
    const rows = panel.getByTestId('layer-activations').locator('[data-layer]');
    const layerNames = () => rows.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-layer') ?? ''));
    await expect.poll(layerNames, { timeout: 15_000 }).toEqual(['conv1', 'group1.a', 'group1.b', 'fc']);
    const layers = await layerNames();
    for (const layer of layers) await panel.getByLabel(`Activation for ${layer}`, { exact: true }).waitFor();
    await setNumber(panel.getByLabel(/^batch/i).first(), RUN1.batch);
    await setNumber(panel.getByLabel(/^epochs/i).first(), RUN1.epochs);
    await setNumber(panel.getByLabel(/^max(imum)?\.? steps/i).first(), RUN1.maxSteps);
    // The backend picker: the automatic choice and the trainer's whole chain, each with its reason in
    // the page; wasm trains anywhere the lab runs, one that cannot train is disabled and says why.
    const picker = panel.getByRole('group', { name: 'Train on', exact: true });
    expect(await picker.locator('[data-backend]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-backend')))).toEqual(['automatic', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    expect(await picker.getByRole('radio', { name: /^Automatic \(/ }).isChecked()).toBe(true);
    expect(await picker.getByRole('radio', { name: 'wasm', exact: true }).isEnabled()).toBe(true);
    for (const name of ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']) {
      const why = ((await picker.locator(`[data-backend="${name}"] .why`).textContent()) ?? '').trim();
      expect(why, `${name}'s reason`).not.toBe('');
      if (await picker.getByRole('radio', { name, exact: true }).isDisabled()) expect(why, `${name}'s reason`).toMatch(/^cannot train: /);
    }
    await shot('experiment');
  });

  const dataTitle = dataset.kind === 'orl' ? 'ORL (40 identities, 400 images)' : `the synthetic faces (${dataset.why})`;
  step('experiment-bar', 'Experiment: the run bar covers no hyper-parameter hint, at the top of the page or scrolled (issue 14, 3)', ['experiment'], 30_000, async () => {
    const panel = view('experiment');
    const covered = async () =>
      panel.evaluate((element) => {
        const height = element.ownerDocument.documentElement.clientHeight;
        const bar = element.querySelector('[data-run-bar]')!.getBoundingClientRect();
        return [...element.querySelectorAll('.note')]
          .filter((note) => !note.closest('[data-run-bar]'))
          .map((note) => ({ text: (note.textContent ?? '').trim().slice(0, 40), r: note.getBoundingClientRect() }))
          .filter(({ r }) => r.height > 0 && r.bottom > bar.top + 0.5 && r.top < bar.bottom - 0.5 && r.bottom > 0 && r.top < height)
          .map(({ text }) => text);
      });
    // (A string: this file is type-checked without the DOM's globals.)
    await page.evaluate('window.scrollTo(0, 0)');
    expect(await covered(), 'hints under the run bar at rest').toEqual([]);
    // Fields of the hyper-parameters' last row and of the first, focused in turn (the second
    // scrolls the page back up): neither the field nor its note is under the bar.
    for (const field of [panel.getByLabel(/^max(imum)?\.? steps/i).first(), panel.getByLabel(/^optimi[sz]er/i).first()]) {
      // From the bottom of the page: focusing the field scrolls it back up, to below the sticky bar.
      await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
      await field.focus();
      const noteId = (await field.getAttribute('aria-describedby'))?.split(' ')[0] ?? '';
      const under = await field.evaluate((input, id) => {
        const doc = input.ownerDocument;
        const bar = doc.querySelector('[data-run-bar]')!.getBoundingClientRect();
        const overlaps = (r: typeof bar) => r.height > 0 && r.bottom > bar.top + 0.5 && r.top < bar.bottom - 0.5;
        const note = id ? doc.getElementById(id) : null;
        return [overlaps(input.getBoundingClientRect()) ? 'the field' : '', note && overlaps(note.getBoundingClientRect()) ? 'its note' : ''].filter(Boolean);
      }, noteId);
      expect(under, `${field}: under the run bar`).toEqual([]);
    }
    await page.evaluate('window.scrollTo(0, 0)');
  });

  step('data', `Data: import ${dataTitle}`, ['app'], 120_000, async () => {
    const panel = await openTab('Data');
    if (dataset.kind === 'synthetic') await panel.getByRole('radio', { name: 'Synthetic' }).or(panel.getByRole('tab', { name: 'Synthetic' })).first().click();
    else await panel.getByLabel('Folder or archive path').fill(dataset.path);
    // The progress may come and go faster than a poll: note whether it was ever in the page.
    await page.evaluate(() => {
      const win = globalThis as unknown as PageGlobals;
      const seen = () => win.document.querySelector('[data-testid="import-progress"]') !== null;
      win.sawImportProgress = seen();
      new win.MutationObserver((_, observer) => {
        if (seen()) {
          win.sawImportProgress = true;
          observer.disconnect();
        }
      }).observe(win.document.body, { childList: true, subtree: true });
    });
    await panel.getByRole('button', { name: 'Import', exact: true }).click();
    const summary = panel.getByTestId('dataset-summary');
    await summary.waitFor({ timeout: 90_000 });
    const text = (await summary.textContent()) ?? '';
    const [identities, images] = dataset.kind === 'orl' ? [40, 400] : [20, 200];
    // "40 identities" or "Identities: 40" (or "Identities40" as a definition list reads).
    const count = (n: number, noun: string) => new RegExp(`(?<!\\d)${n}(?!\\d)\\s*${noun}|${noun}\\s*:?\\s*${n}(?!\\d)`, 'i');
    expect(text).toMatch(count(identities, 'identities'));
    expect(text).toMatch(count(images, '(images|faces)'));
    await panel.getByTestId('import-report').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sawImportProgress === true), 'import-progress was shown').toBe(true);
    // The faces are shown, and their images have loaded.
    const faces = panel.getByTestId('face-grid').locator('img');
    await expect.poll(() => faces.count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect
      .poll(() => faces.first().evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0), { timeout: 15_000 })
      .toBe(true);
    await shot('data');
  });

  step('train', 'Train: the run starts from the Experiment view and the loss chart gains points', ['experiment', 'data'], 90_000, async () => {
    const panel = await openTab('Experiment');
    await shot('experiment'); // again, now with a dataset: ready to train
    await panel.getByRole('button', { name: 'Train', exact: true }).click();
    const train = view('train');
    await train.waitFor({ timeout: 30_000 });
    const runId = await waitForState('running', 30_000);
    runIds.push(runId);
    expect(runId).toMatch(/tiny/);
    // Probes often, so that the maps move while the test watches.
    await setNumber(train.getByLabel('Probe rate (ms)', { exact: true }), 100);
    await train.getByLabel('Colour scale', { exact: true }).waitFor();
    await train.getByLabel('Probe face', { exact: true }).waitFor();
    for (const chart of ['chart-loss', 'chart-accuracy', 'chart-lr', 'chart-dead']) await train.getByTestId(chart).waitFor();
    await expect.poll(() => points('chart-loss'), { timeout: 45_000 }).toBeGreaterThanOrEqual(2);
    // Chance level for this dataset's identities is drawn and named on loss and accuracy (issue 14, 1).
    const classes = dataset.kind === 'orl' ? 40 : 20;
    await expect.poll(async () => (await train.getByTestId('chart-loss').textContent()) ?? '', { timeout: 15_000 }).toContain(`chance (ln ${classes} = ${Math.log(classes).toFixed(2)})`);
    expect((await train.getByTestId('chart-accuracy').textContent()) ?? '').toContain(`chance (1/${classes} = ${Number((1 / classes).toPrecision(2))})`);
    const before = await points('chart-loss');
    await expect.poll(() => points('chart-loss'), { timeout: 30_000 }).toBeGreaterThan(before + 2);
  });

  step('maps', 'Train: conv1 activation maps are drawn, change while training, and open at full size', ['train'], 90_000, async () => {
    const train = view('train');
    await choose(train.getByLabel('Layer', { exact: true }), /^conv1/);
    const maps = train.getByTestId('activation-grid').getByTestId('filter-map');
    await expect.poll(() => maps.count(), { timeout: 30_000 }).toBeGreaterThan(0);
    // Not blank: at least one filter's map holds more than one colour.
    await expect.poll(async () => (await canvasPixels(maps)).filter(drawn).length, { timeout: 30_000 }).toBeGreaterThan(0);
    const deadFlags = await maps.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-dead')));
    expect(deadFlags.every((flag) => flag === 'true' || flag === 'false'), `data-dead: ${deadFlags.join(',')}`).toBe(true);
    const filters = await maps.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-filter')));
    expect(filters.every((f, i) => f === String(i)), `data-filter: ${filters.join(',')}`).toBe(true);
    // They change as the weights do.
    const first = await pixelsHash(maps);
    await expect.poll(() => pixelsHash(maps), { timeout: 30_000, interval: 200 }).not.toBe(first);
    await shot('train');
    // A click opens the filter at full size.
    const alive = deadFlags.indexOf('false');
    await maps.nth(Math.max(alive, 0)).click();
    const full = train.getByTestId('full-map');
    await full.waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await canvasPixels(full)).filter(drawn).length, { timeout: 20_000 }).toBe(1);
    await shot('train-full-map');
  });

  step('dead', 'Train: dead counts and health for every activation layer', ['train'], 60_000, async () => {
    const train = view('train');
    const counts = train.getByTestId('dead-counts').locator('[data-layer]');
    await expect.poll(() => counts.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const layers = await counts.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-layer') ?? ''));
    expect(layers.some((layer) => layer.startsWith('conv1')), `dead-counts layers: ${layers.join(', ')}`).toBe(true);
    for (const text of await counts.allTextContents()) expect(text).toMatch(/\d/);
    const health = train.getByTestId('layer-health').locator('[data-layer]');
    await expect.poll(() => health.count(), { timeout: 15_000 }).toBe(layers.length);
    await expect.poll(() => points('chart-dead'), { timeout: 30_000 }).toBeGreaterThan(0);
  });

  step('dead-window', 'Train: dead-count points start once the stats window has filled; legends show values off the plot (issue 14, 2.3, 2.7)', ['dead'], 60_000, async () => {
    const train = view('train');
    const panel = train.getByTestId('dead-panel');
    const window = Number(await panel.getAttribute('data-window'));
    const total = Number(await panel.getAttribute('data-total-steps'));
    expect(window, 'the stats window').toBeGreaterThan(1);
    trainLayerOrder = await train.getByTestId('dead-counts').locator('[data-layer]').evaluateAll((elements) => elements.map((e) => e.getAttribute('data-layer') ?? ''));
    if (window > total) {
      expect(await train.getByTestId('dead-window-warning').textContent()).toMatch(/longer than this run/);
      return;
    }
    // Before the window fills the heading says the counts are "since step 1" and nothing is drawn; after, points start at the window.
    const heading = async () => ((await train.getByTestId('dead-window').textContent()) ?? '').trim();
    const first = async () => (await panel.getAttribute('data-first-point')) ?? '';
    if (/since step 1/.test(await heading())) expect(await first(), 'a point drawn before the window filled').toBe('');
    await expect.poll(heading, { timeout: 45_000 }).toBe(`dead over the last ${window} steps`);
    await expect.poll(async () => Number((await first()) || NaN), { timeout: 15_000 }).toBeGreaterThanOrEqual(window);
    expect((await train.getByTestId('dead-window-note').textContent()) ?? '').toContain(`Points start at step ${window}`);
    // Off the plot, every legend shows a value, not uPlot's "--".
    await page.mouse.move(0, 0);
    const legend = train.getByTestId('chart-loss').locator('.u-legend .u-value');
    await expect.poll(async () => await legend.allTextContents(), { timeout: 10_000 }).not.toContain('--');
  });

  step('train-histograms', "Train: the chosen layer's weight and activation histograms gain steps; the first layer's filters are drawn (issue 14, 4)", ['train'], 90_000, async () => {
    const panel = view('train').getByTestId('histograms-panel');
    await panel.scrollIntoViewIfNeeded();
    for (const chart of ['chart-hist-weights', 'chart-hist-activations']) {
      // Step 1 and every 5th step: two ridges within a few seconds of a tiny model at 32 px.
      await expect.poll(async () => Number(await panel.getByTestId(chart).getAttribute('data-points')), { timeout: 60_000, message: chart }).toBeGreaterThanOrEqual(2);
      expect(await panel.getByTestId(chart).locator('svg path').count(), `${chart}: ridges drawn`).toBeGreaterThanOrEqual(2);
    }
    const filters = panel.getByTestId('first-filters');
    await filters.waitFor({ timeout: 30_000 });
    expect(Number(await filters.getAttribute('data-count')), 'first-layer filters').toBeGreaterThan(0);
    expect(Number(await filters.getAttribute('data-scale')), "the filters' colour scale").toBeGreaterThan(0);
    await shot('train-histograms');
  });

  step('pause', 'Train: pause holds the run, resume continues it', ['train'], 60_000, async () => {
    const train = view('train');
    const runId = runIds[0]!;
    await train.getByRole('button', { name: 'Pause', exact: true }).click();
    await waitForState('paused', 20_000, runId);
    const held = await points('chart-loss');
    await shot('train-paused');
    expect(await points('chart-loss'), 'loss points while paused').toBe(held);
    await train.getByRole('button', { name: 'Resume', exact: true }).click();
    await waitForState('running', 20_000, runId);
    await expect.poll(() => points('chart-loss'), { timeout: 30_000 }).toBeGreaterThan(held);
    // Running again: it can be paused again.
    const pause = train.getByRole('button', { name: 'Pause', exact: true });
    await expect.poll(() => pause.isEnabled(), { timeout: 10_000, message: 'Pause is enabled again once the resumed run is running' }).toBe(true);
    expect(await train.textContent()).not.toMatch(/pausing after this step/);
  });

  step('theme', 'Train: light and dark screenshots', ['train'], 30_000, async () => {
    const background = () => page.evaluate(() => {
      const { getComputedStyle, document } = globalThis as unknown as PageGlobals;
      return getComputedStyle(document.body).backgroundColor;
    });
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await shot('train-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(background).not.toBe(light);
    await shot('train-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  step('stop', 'Train: stop asks first, saying the run can be resumed from Runs, then ends the run', ['train'], 60_000, async () => {
    await view('train').getByRole('button', { name: 'Stop', exact: true }).click();
    const confirm = view('train').getByRole('alertdialog', { name: 'Stop this run?' });
    await confirm.waitFor();
    expect((await confirm.textContent()) ?? '').toMatch(/resume it later from Runs/);
    await confirm.getByRole('button', { name: 'Stop the run', exact: true }).click();
    await waitForState('stopped', 45_000, runIds[0]!);
  });

  step('second', 'a second run with leaky ReLU trains up to its step cap', ['stop'], 120_000, async () => {
    const panel = await openTab('Experiment');
    await choose(panel.getByLabel('Activation', { exact: true }), RUN2.activation);
    await setNumber(panel.getByLabel(/^max(imum)?\.? steps/i).first(), RUN2.maxSteps);
    await panel.getByRole('button', { name: 'Train', exact: true }).click();
    await view('train').waitFor({ timeout: 30_000 });
    await expect.poll(async () => (await status()).runId, { timeout: 30_000 }).not.toBe(runIds[0]);
    const runId = (await status()).runId!;
    runIds.push(runId);
    expect(runId).toMatch(/leaky/);
    // A run that reaches its step cap stops (resumable), one that runs all its epochs finishes.
    await waitForState(['stopped', 'finished'], 90_000, runId);
    await shot('train-second-run');
  });

  step('leaky', 'Train: leaky ReLU cannot die, and the dead counts say so', ['second'], 30_000, async () => {
    const text = (await view('train').getByTestId('dead-counts').textContent()) ?? '';
    expect(text).toMatch(/negative|cannot die|can.t die/i);
  });

  step('ended-maps', 'Train: after the run ended, another layer and its pre-activation get maps of the final weights (issue 14, 2.1)', ['second'], 60_000, async () => {
    const train = await openTab('Train');
    const finalStep = Number(((await train.getByTestId('run-status').textContent()) ?? '').match(/step (\d+)/)?.[1]);
    expect(finalStep, 'the ended run\'s last step').toBeGreaterThan(0);
    const maps = train.getByTestId('activation-grid').getByTestId('filter-map');
    const frameStep = async () => ((await train.getByTestId('frame-step').textContent().catch(() => '')) ?? '').trim();
    for (const [layer, kind] of [[/^group1\.b/, 'preactivation'], [/^group1\.a/, 'activation']] as const) {
      await choose(train.getByLabel('Layer', { exact: true }), layer);
      await train.getByLabel('Maps', { exact: true }).selectOption(kind);
      await expect.poll(async () => train.getByTestId('activation-grid').getAttribute('data-kind')).toBe(kind);
      // Maps of the final step come, not "waiting" forever.
      await expect.poll(frameStep, { timeout: 20_000 }).toMatch(new RegExp(`^step ${finalStep}\\b`));
      await expect.poll(async () => (await canvasPixels(maps)).filter(drawn).length, { timeout: 20_000 }).toBeGreaterThan(0);
      expect(await train.getByTestId('maps-waiting').count()).toBe(0);
    }
    await shot('train-ended-maps');
  });

  step('runs-fit', 'Runs: at 1280x800 the table fits, with no sideways scroll, every column visible, the dataset named', ['second'], 30_000, async () => {
    const panel = await openTab('Runs');
    const table = panel.getByTestId('runs-table');
    for (const runId of runIds) await table.locator(`[data-run="${runId}"]`).waitFor({ timeout: 15_000 });
    // Chromium's page is 1280x800 (app.e2e.test.ts); Electron's window is made 1280x800 (main) and reports no viewport.
    const viewport = page.viewportSize();
    if (viewport) expect(viewport).toEqual({ width: 1280, height: 800 });
    const layout = await table.evaluate((element) => {
      const wrap = element.parentElement!;
      const root = element.ownerDocument.documentElement;
      const box = wrap.getBoundingClientRect();
      const inside = (r: typeof box) => r.width > 0 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5 && r.right <= root.clientWidth + 0.5;
      const headers = [...element.querySelectorAll('thead th')].map((th) => ({ text: (th.textContent ?? '').replace(/\s+/g, ' ').trim(), visible: inside(th.getBoundingClientRect()) }));
      const buttons = [...element.querySelectorAll('tbody button')].map((b) => ({ name: b.getAttribute('aria-label') ?? '', visible: inside(b.getBoundingClientRect()) }));
      return { page: [root.scrollWidth, root.clientWidth], wrap: [wrap.scrollWidth, wrap.clientWidth], table: element.getBoundingClientRect().width, headers, buttons };
    });
    expect(layout.page[0], `the page scrolls sideways: ${JSON.stringify(layout)}`).toBeLessThanOrEqual(layout.page[1]!);
    expect(layout.wrap[0], `the table scrolls sideways in its box: ${JSON.stringify(layout)}`).toBeLessThanOrEqual(layout.wrap[1]!);
    expect(layout.headers.map((h) => h.text)).toEqual(expect.arrayContaining(['Run', 'Created', 'State', 'Dataset', 'Model', 'Activation', 'Eval acc.']));
    expect(layout.headers.filter((h) => !h.visible), 'columns not wholly in view').toEqual([]);
    expect(layout.buttons.length).toBeGreaterThanOrEqual(runIds.length);
    expect(layout.buttons.filter((b) => !b.visible), 'Open buttons not wholly in view').toEqual([]);
    // The dataset column names what each run trained on.
    const datasetColumn = layout.headers.findIndex((h) => h.text === 'Dataset');
    for (const runId of runIds) {
      const cell = ((await table.locator(`[data-run="${runId}"] td`).nth(datasetColumn).textContent()) ?? '').trim();
      expect(cell, runId).toMatch(dataset.kind === 'orl' ? /orl|att|s\d|faces/i : /synthetic/i);
    }
  });

  step('runs', 'Runs: both runs are listed and compared', ['second'], 60_000, async () => {
    const panel = await openTab('Runs');
    const table = panel.getByTestId('runs-table');
    for (const runId of runIds) await table.locator(`[data-run="${runId}"]`).waitFor({ timeout: 15_000 });
    await shot('runs');
    for (const runId of runIds) await panel.getByLabel(`Select ${runId}`, { exact: true }).check();
    await panel.getByRole('button', { name: 'Compare', exact: true }).click();
    const compare = panel.getByTestId('compare-view');
    await compare.waitFor({ timeout: 20_000 });
    const loss = compare.getByTestId('chart-compare-loss');
    await loss.waitFor();
    const lossPoints = await loss.getAttribute('data-points');
    if (lossPoints !== null) await expect.poll(async () => Number(await loss.getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThan(0);
    const compareTable = compare.getByTestId('compare-table');
    await compareTable.waitFor();
    for (const runId of runIds) expect((await compareTable.textContent()) ?? '').toContain(runId);
    expect((await compareTable.textContent()) ?? '').toMatch(/leaky/i);
    await compare.scrollIntoViewIfNeeded();
    await shot('compare');
  });

  step('units', 'Runs: dead counts are % of the layer in model order; training accuracy is one number with one name in the table, Run detail and Compare (issue 14, 2.4, 2.5)', ['runs'], 60_000, async () => {
    const panel = view('runs');
    const compare = panel.getByTestId('compare-view');
    const table = compare.getByTestId('compare-table');
    await table.waitFor();
    const rowName = async (row: Locator) => ((await row.locator('th').first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
    const rows = table.locator('tbody tr');
    const names: string[] = [];
    for (let i = 0; i < (await rows.count()); i++) names.push(await rowName(rows.nth(i)));
    expect(names).toContain('Dataset');
    // Dead counts: % of the layer (the count on hover), the layers in the model's order.
    const deadRows = names.filter((name) => name.startsWith('Dead filters, % of the layer'));
    expect(deadRows.map((name) => name.split(': ').at(-1))).toEqual(trainLayerOrder.length > 0 ? trainLayerOrder : deadRows.map((name) => name.split(': ').at(-1)));
    expect(deadRows.length).toBeGreaterThan(0);
    const deadCells = table.locator('td[data-layer]');
    for (const cell of await deadCells.all()) {
      expect(((await cell.textContent()) ?? '').trim()).toMatch(/^(\d+\.\d%|cannot die \(\d+\.\d% negative\))/);
      expect(await cell.getAttribute('title')).toMatch(/^\d+ of \d+ filters (dead|in the negative regime)$/);
    }
    expect((await compare.getByTestId('chart-compare-dead').textContent()) ?? '').toContain('% of their filters');
    // One training accuracy: the Runs table's, Compare's and Run detail's for the first run.
    const runId = runIds[0]!;
    const column = (await table.locator('thead th').evaluateAll((ths) => ths.map((th) => th.getAttribute('data-run')))).indexOf(runId);
    const accuracyRow = rows.filter({ has: page.getByRole('rowheader', { name: 'Accuracy (last epoch)', exact: true }) });
    const inCompare = ((await accuracyRow.locator('td').nth(column - 1).textContent()) ?? '').trim();
    await compare.getByRole('button', { name: '← All runs' }).click();
    const runsTable = panel.getByTestId('runs-table');
    await runsTable.waitFor();
    const headers = await runsTable.locator('thead th').evaluateAll((ths) => ths.map((th) => (th.textContent ?? '').replace(/\s+/g, ' ').trim()));
    const accColumn = headers.indexOf('Acc. (last epoch)');
    expect(accColumn, `Runs table headers: ${headers.join(' | ')}`).toBeGreaterThanOrEqual(0);
    const inTable = ((await runsTable.locator(`[data-run="${runId}"] td`).nth(accColumn).textContent()) ?? '').trim();
    await panel.getByLabel(`Open ${runId}`, { exact: true }).click();
    const detail = panel.getByTestId('run-detail');
    const final = detail.locator('dl[aria-label="Final numbers"]');
    await final.waitFor();
    const inDetail = ((await final.locator('div', { has: page.locator('dt', { hasText: /^Accuracy \(last epoch\)$/ }) }).locator('dd').textContent()) ?? '').trim();
    const same = (text: string) => (text === '—' || text === 'no epoch completed' ? 'none' : text);
    expect([same(inCompare), same(inDetail)], `Runs table ${inTable}, Compare ${inCompare}, Run detail ${inDetail}`).toEqual([same(inTable), same(inTable)]);
    expect(await final.textContent()).not.toMatch(/mean of last/);
    // The run's recorded histograms and first-layer filters (issue 14, 4).
    const histograms = detail.getByTestId('run-histograms');
    await histograms.scrollIntoViewIfNeeded();
    await expect.poll(async () => Number(await histograms.getByTestId('run-hist-weights').getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    expect(Number(await histograms.getByTestId('first-filters').getAttribute('data-count'))).toBeGreaterThan(0);
    await shot('run-histograms');
    await detail.getByRole('button', { name: '← All runs' }).click();
    await runsTable.waitFor();
  });

  step('evaluate', 'Evaluate: the view opens', ['app'], 30_000, async () => {
    await openTab('Evaluate');
    await shot('evaluate');
  });

  step('evaluate-run', 'Evaluate: the first run, opened in Runs and sent to Evaluate, gets a verification summary', ['evaluate', 'stop'], 150_000, async () => {
    const runs = await openTab('Runs');
    await runs.getByLabel(`Open ${runIds[0]!}`, { exact: true }).click();
    await runs.getByTestId('run-detail').getByRole('button', { name: 'Evaluate', exact: true }).click();
    const panel = view('evaluate');
    await panel.waitFor({ timeout: 15_000 });
    const summary = panel.getByTestId('eval-summary');
    // The view may start the evaluation itself, or wait for its own Evaluate button.
    const start = panel.getByRole('button', { name: /^(Evaluate|Run evaluation|Start)/ });
    await summary.or(start).first().waitFor({ timeout: 15_000 });
    if (!(await summary.isVisible())) await start.first().click();
    await summary.waitFor({ timeout: 120_000 });
    expect((await summary.textContent()) ?? '').toMatch(/\d/);
    await shot('evaluate-result');
  });

  step('histogram', "Evaluate: the score histogram bins over the scores' own range (issue 14, 2.2)", ['evaluate-run'], 30_000, async () => {
    const chart = view('evaluate').getByTestId('chart-histogram');
    await chart.waitFor();
    // All 40 bins span the scores' min to max (fixed bins over [-1, 1] left a few bars for scores packed near 1).
    expect(Number(await chart.getAttribute('data-points'))).toBe(40);
    const description = (await chart.getByRole('img').getAttribute('aria-label')) ?? '';
    const range = description.match(/40 bins from (-?[\d.]+) to (-?[\d.]+)/);
    expect(range, description).not.toBeNull();
    const [lo, hi] = [Number(range![1]), Number(range![2])];
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(lo);
    // Its legend, off the plot, gives the range and each kind's peak (issue 14, 2.7), not "--".
    await page.mouse.move(0, 0);
    const legend = await chart.locator('.u-legend .u-value').allTextContents();
    expect(legend.length).toBe(3);
    expect(legend).not.toContain('--');
    expect(legend[1]).toMatch(/^peak /);
  });

  options.extraSteps?.(step);

  step('icon', 'the page has an icon: no failed request for /favicon.ico over the session (issue 14, 3)', ['app'], 10_000, async () => {
    expect(watch.console.filter((line) => /favicon|Failed to load resource/i.test(line))).toEqual([]);
  });

  step('clean', 'no uncaught errors in the page over the whole session', ['app'], 10_000, async () => {
    expect(watch.errors).toEqual([]);
  });
}
