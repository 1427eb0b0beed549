// End-to-end steps for a network trained elsewhere (issue 15), run in lab serve's browser
// session (paths are typed there; the desktop app takes them from native dialogs): a PyTorch
// checkpoint is imported from the Runs view, looked inside with a dataset in the Train view
// (maps, dead counts), evaluated on that dataset in the Evaluate view (the run has none of its
// own), and its pass is listed in Run detail apart from training.
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { makeImage, writeFiles } from '../datasets/test/fixtures';
import { buildModel } from '../models/lightcnn';
import { stateDictOf } from '../electron/trainer/interchange/export-run';
import { writeStateDict } from '../electron/trainer/interchange/torch-writer';
import { canvasPixels, drawn } from './canvas';
import type { ScenarioSession, StepFunction } from './scenario';

/** What the steps need on disk: a checkpoint PyTorch could have written (the reference's names, torch's zip format) and a small folder of faces. */
export interface ImportedFixtures {
  readonly checkpoint: string;
  readonly faces: string;
}

/** Writes a tiny Light CNN's weights at 32 px as a torch checkpoint, and 8 people of 4 PGM faces, under `dir`. */
export async function writeImportedFixtures(dir: string): Promise<ImportedFixtures> {
  await tf.setBackend('cpu');
  const built = buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 10, seed: 7 });
  const checkpoint = join(dir, 'tiny_from_pytorch.pth');
  try {
    // DataParallel's prefix, as the published Light CNN files have it.
    await writeStateDict(checkpoint, (await stateDictOf(built)).map((entry) => ({ ...entry, name: `module.${entry.name}` })));
  } finally {
    built.model.dispose();
  }
  const faces = join(dir, 'faces');
  const files: Record<string, Buffer> = {};
  for (let person = 1; person <= 8; person++) for (let k = 1; k <= 4; k++) files[`person_${person}/${k}.pgm`] = await makeImage('pgm', person * 10 + k);
  await writeFiles(faces, files);
  return { checkpoint, faces };
}

export function importedRunSteps(options: { session: () => ScenarioSession | undefined; fixtures: () => ImportedFixtures | undefined; artifacts: string }): (step: StepFunction) => void {
  let runId = '';
  const page = (): Page => {
    const session = options.session();
    if (!session) throw new Error('no page');
    return session.page;
  };
  const fixtures = (): ImportedFixtures => {
    const made = options.fixtures();
    if (!made) throw new Error('the imported-run fixtures were not written (see the setup)');
    return made;
  };
  const view = (name: string): Locator => page().getByTestId(`view-${name}`);
  const openTab = async (title: string): Promise<Locator> => {
    await page().getByRole('tab', { name: title, exact: true }).click();
    const panel = view(title.toLowerCase());
    await panel.waitFor({ state: 'visible' });
    return panel;
  };
  const shot = (name: string) => page().screenshot({ path: join(options.artifacts, `${name}.png`), fullPage: true });
  const openRun = async (): Promise<Locator> => {
    const runs = await openTab('Runs');
    await runs.getByLabel(`Open ${runId}`, { exact: true }).click();
    const detail = runs.getByTestId('run-detail');
    await detail.waitFor();
    return detail;
  };

  return (step) => {
    step('import-checkpoint', 'Runs: a PyTorch checkpoint is imported by its path, and the view says what it decided (issue 15)', ['app'], 60_000, async () => {
      const runs = await openTab('Runs');
      await runs.getByRole('button', { name: 'Import PyTorch checkpoint…', exact: true }).click();
      const form = runs.getByRole('form', { name: 'Import a PyTorch checkpoint' });
      await form.getByLabel("Checkpoint file (a path on the trainer's machine)").fill(fixtures().checkpoint);
      await form.getByLabel('Run name (optional)').fill('tiny from PyTorch');
      await form.getByRole('button', { name: 'Import', exact: true }).click();
      const result = runs.getByTestId('import-checkpoint-result');
      await result.waitFor({ timeout: 45_000 });
      const text = (await result.textContent()) ?? '';
      runId = /as run (\S+?)\./.exec(text.replace(/\s+/g, ' '))?.[1] ?? '';
      expect(runId, text).toMatch(/_tiny_imported_/);
      const decisions = await runs.getByTestId('import-decisions').allTextContents();
      expect(decisions.join(' | ')).toMatch(/DataParallel's module\. prefix removed/);
      expect(decisions.join(' | ')).toMatch(/architecture: Tiny Light CNN/);
      await shot('import-checkpoint');
    });

    step('inspect-imported', 'Runs → Train: the imported run, looked inside with a dataset, shows activation maps and dead counts without training (issue 15)', ['import-checkpoint'], 90_000, async () => {
      const detail = await openRun();
      expect(await detail.getByTestId('run-origin').textContent()).toMatch(/imported from .*tiny_from_pytorch\.pth/);
      await detail.getByRole('button', { name: 'Look inside with a dataset', exact: true }).click();
      const form = detail.getByRole('form', { name: 'Look inside with a dataset' });
      await form.getByLabel("Dataset path (on the trainer's machine)").fill(fixtures().faces);
      await form.getByRole('button', { name: 'Look inside', exact: true }).click();
      const train = view('train');
      await train.waitFor({ state: 'visible', timeout: 15_000 });
      await expect.poll(async () => (await train.getByTestId('run-inspection').textContent().catch(() => '')) ?? '', { timeout: 30_000 }).toMatch(/inspecting: pass over faces/);
      const maps = train.getByTestId('activation-grid').getByTestId('filter-map');
      await expect.poll(async () => (await canvasPixels(maps)).filter(drawn).length, { timeout: 45_000 }).toBeGreaterThan(0);
      const counts = train.getByTestId('dead-counts').locator('[data-layer]');
      await expect.poll(() => counts.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      await shot('inspect-imported');
    });

    step('evaluate-imported', 'Evaluate: the imported run needs a dataset, and is scored on one, its overlap unknown (issue 15)', ['inspect-imported'], 120_000, async () => {
      const detail = await openRun();
      await detail.getByRole('button', { name: 'Evaluate', exact: true }).click();
      const panel = view('evaluate');
      await panel.waitFor({ timeout: 15_000 });
      // Disabled once the view has the run's record (an imported run has no dataset of its own).
      const own = panel.getByRole('radio', { name: /The run's own training dataset/ });
      await expect.poll(() => own.isDisabled(), { timeout: 15_000 }).toBe(true);
      await panel.getByRole('radio', { name: /Another dataset/ }).check();
      await panel.getByLabel("Dataset path (on the trainer's machine)").fill(fixtures().faces);
      await panel.getByRole('button', { name: /^(Evaluate|Run evaluation|Start)/ }).first().click();
      const summary = panel.getByTestId('eval-summary');
      await summary.waitFor({ timeout: 100_000 });
      expect((await summary.textContent()) ?? '').toMatch(/\d/);
      expect((await panel.getByTestId('eval-overlap').textContent()) ?? '').toMatch(/not checked/);
      await shot('evaluate-imported');
    });

    step('imported-inspections', 'Run detail: the pass is listed apart from training, dead counts per layer (issue 15)', ['inspect-imported'], 60_000, async () => {
      const detail = await openRun();
      const pass = detail.getByTestId('run-inspections').getByTestId('inspection').first();
      await pass.waitFor({ timeout: 30_000 });
      expect(await pass.textContent()).toMatch(/Pass over faces/);
      await expect.poll(() => pass.getByTestId('inspection-layers').locator('tbody tr').count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
      await shot('run-inspections');
    });
  };
}
