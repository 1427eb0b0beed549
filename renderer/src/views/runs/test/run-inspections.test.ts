// Run detail and a run's saved inspection passes ("Look inside with a dataset"): a pass is not
// a point of the training curves (its dead counts are over another dataset, its window its
// batches), it is shown apart in an Inspections section, newest first; an imported run, which
// has only passes, shows them and where it came from instead of empty training charts.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import RunDetail from '../RunDetail.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import { formatDate } from '../../../lib/run-records';
import { getRunReply, RELU_ID } from './fixtures';
import { CHECKPOINT, IMPORTED_ID, importedRecord, inspectionLayersRow, inspectionRows, mark } from './inspection-fixtures';

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

async function detail(runId: string, reply: Record<string, unknown>) {
  const { session } = await scriptedSession({
    getRun: () => reply,
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
  });
  render(RunDetail, { session, runId, onBack: () => {} });
  return screen.findByTestId('run-detail').then(async (el) => {
    await within(el).findByText(/Configuration:/);
    return el;
  });
}

const chartName = (el: HTMLElement) => within(el).getByRole('img').getAttribute('aria-label') ?? '';
const cells = (row: Element) => [...row.querySelectorAll('th, td')].map((c) => c.textContent?.trim());

describe('a trained run with a saved inspection pass', () => {
  test('its training curves leave the pass out, and an Inspections section shows it', async () => {
    const pass = mark();
    const reply = getRunReply(RELU_ID);
    const view = await detail(RELU_ID, { ...reply, metrics: [...reply.metrics, ...inspectionRows(40, pass)] });

    // The dead-count curve: training's 5 rows, window 50, step 40's counts training's (4 of 16), not the pass's (8 of 16).
    const dead = within(view).getByTestId('chart-dead');
    expect(dead).toHaveAttribute('data-points', '5');
    expect(dead).toHaveTextContent('(window 50 steps)');
    expect(chartName(dead)).toMatch(/conv1\.act \(relu, of 16\) 25\.000 \(4 of 16 filters\)/);
    expect(chartName(dead)).not.toContain('8 of 16');
    expect(within(view).getByTestId('chart-loss')).toHaveAttribute('data-points', '40');
    // The pass's histograms are not training's.
    const histograms = within(view).getAllByTestId('run-histograms');
    expect(histograms).toHaveLength(1);
    expect(histograms[0]).toHaveTextContent('No histograms were recorded for this run.');
    const final = view.querySelector('dl[aria-label="Final numbers"]') as HTMLElement;
    expect(final).toHaveTextContent(/Steps\s*40/);

    const section = within(view).getByTestId('run-inspections');
    expect(within(section).getByRole('heading', { name: 'Inspections' })).toBeInTheDocument();
    expect(section).toHaveTextContent('dead when it is dead on every image of the pass');
    expect(section).toHaveTextContent("gradient numbers of a layer's health are not measured in a pass");
    const passes = within(section).getAllByTestId('inspection');
    expect(passes).toHaveLength(1);
    const shown = passes[0] as HTMLElement;
    expect(within(shown).getByRole('heading', { name: 'Pass over lfw' })).toBeInTheDocument();
    expect(within(shown).getByTestId('inspection-meta')).toHaveTextContent(`/data/lfw · 500 images · 16 batches · ${formatDate(pass.at)} · weights of the checkpoint at step 40`);
    const rows = [...within(shown).getByTestId('inspection-layers').querySelectorAll('tbody tr')];
    expect(rows.map(cells)).toEqual([
      ['conv1.act', 'relu', '50.0% (8 of 16)', '50.1% (513 of 1024)'],
      ['conv2.act', 'relu', '9.4% (3 of 32)', '9.4% (193 of 2048)'],
      ['fc1.act', 'prelu', 'cannot die (25.0% negative)', '—'],
    ]);
    expect(rows[0]?.querySelectorAll('td')[1]).toHaveAttribute('title', '8 of 16 filters dead');
    expect(rows[2]?.querySelectorAll('td')[1]).toHaveAttribute('title', '16 of 64 filters in the negative regime');

    // Its histograms, on demand, drawn by the Runs view's histogram component: the one step of the pass.
    expect(within(shown).queryByTestId('inspection-histograms')).toBeNull();
    await fireEvent.click(within(shown).getByRole('button', { name: "Show this pass's histograms" }));
    const passHistograms = within(shown).getByTestId('inspection-histograms');
    expect(within(passHistograms).getByTestId('run-hist-weights')).toHaveAttribute('data-points', '1');
    expect(passHistograms).toHaveTextContent('the activations of the pass\'s last batch');
  });
});

describe('an imported run', () => {
  test('shows its passes and where it came from, newest first beyond three folded away, and no empty training charts', async () => {
    const ats = ['2026-11-28T09:00:00.000Z', '2026-11-29T09:00:00.000Z', '2026-11-30T09:00:00.000Z', '2026-12-01T09:00:00.000Z'];
    const rows = ats.flatMap((at, i) => inspectionRows(0, mark({ data: `set${i}`, at })));
    const view = await detail(IMPORTED_ID, { record: importedRecord(), metrics: rows, warnings: [] });

    expect(within(view).getByTestId('no-training')).toHaveTextContent(`No training recorded: this run was imported from ${CHECKPOINT}.`);
    for (const id of ['chart-loss', 'chart-accuracy', 'chart-lr', 'chart-dead', 'chart-negative', 'run-histograms']) expect(within(view).queryByTestId(id)).toBeNull();
    expect(within(view).queryByRole('slider', { name: 'Smoothing' })).toBeNull();
    expect(view).not.toHaveTextContent('No steps were recorded');
    expect(view).not.toHaveTextContent('No points yet.');
    expect(view).not.toHaveTextContent('no epoch completed');

    const section = within(view).getByTestId('run-inspections');
    expect(section).not.toHaveTextContent('training curves');
    const names = within(section)
      .getAllByTestId('inspection')
      .map((p) => within(p).getByRole('heading').textContent);
    expect(names).toEqual(['Pass over set3', 'Pass over set2', 'Pass over set1', 'Pass over set0']);
    const earlier = within(section).getByTestId('inspections-earlier');
    expect(earlier.tagName).toBe('DETAILS');
    expect(earlier).not.toHaveAttribute('open');
    expect(within(earlier).getByText('1 earlier pass')).toBeInTheDocument();
    expect(within(earlier).getAllByTestId('inspection').map((p) => p.getAttribute('data-at'))).toEqual([ats[0]]);
  });

  test('without a pass yet it says how to look inside', async () => {
    const view = await detail(IMPORTED_ID, { record: importedRecord(), metrics: [], warnings: [] });
    expect(within(view).getByTestId('no-training')).toHaveTextContent(`No training recorded: this run was imported from ${CHECKPOINT}. Look inside it with a dataset to see what its layers do.`);
    expect(within(view).queryByTestId('run-inspections')).toBeNull();
    expect(within(view).queryByTestId('chart-loss')).toBeNull();
  });

  test('a pass without histograms offers none, and a mark it cannot fully read is still a pass', async () => {
    const view = await detail(IMPORTED_ID, { record: importedRecord(), metrics: [{ ...inspectionLayersRow(0, mark()), inspection: { data: 'lfw' } }], warnings: [] });
    const pass = within(view).getByTestId('inspection');
    expect(within(pass).getByTestId('inspection-meta')).toHaveTextContent('? · images: ? · at an unknown time · weights of the checkpoint at step 0');
    expect(within(pass).queryByRole('button', { name: /histograms/ })).toBeNull();
  });
});
