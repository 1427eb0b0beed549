// issue 14, 4: a recorded run's histograms over the steps (per layer) and its first-layer
// filters at a chosen recorded step, in Run detail.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, expect, test } from 'vitest';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import { firstFilters, histogramsRow } from '../../../test-support/histograms';
import RunsView from '../RunsView.svelte';
import { getRunReply, listEntries, RELU_ID } from './fixtures';

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

const LAYERS = ['conv1.act', 'conv2.act'];

async function openRun(extraRows: Record<string, unknown>[]) {
  const { session } = await scriptedSession({
    listRuns: () => listEntries(),
    getRun: ({ runId }) => {
      const reply = getRunReply(runId);
      return runId === RELU_ID ? { ...reply, metrics: [...reply.metrics, ...extraRows] } : reply;
    },
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
  });
  render(RunsView, { session });
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${RELU_ID}` }));
  return screen.findByTestId('run-histograms');
}

test('Run detail draws the recorded histograms of the picked layer, one ridge per step', async () => {
  const section = await openRun([histogramsRow(10, LAYERS, firstFilters({ count: 2 })), histogramsRow(20, LAYERS), histogramsRow(30, LAYERS, firstFilters({ count: 3 })), histogramsRow(40, ['conv1.act'])]);
  const weights = within(section).getByTestId('run-hist-weights');
  expect(weights).toHaveAttribute('data-points', '4');
  expect([...weights.querySelectorAll('g[data-step]')].map((g) => g.getAttribute('data-step'))).toEqual(['10', '20', '30', '40']);
  expect(within(section).getByRole('img', { name: /^conv1\.act weights: 4 steps from 10 to 40/ })).toBeInTheDocument();
  expect(within(section).getByTestId('run-hist-activations-newest')).toHaveTextContent('Newest: step 40: 0 to 40, 86 values.');
  // Another layer: only the steps that recorded it.
  await fireEvent.change(within(section).getByLabelText('Layer'), { target: { value: 'conv2.act' } });
  expect(within(section).getByTestId('run-hist-weights')).toHaveAttribute('data-points', '3');
  expect(within(section).getByRole('img', { name: /^conv2\.act activations: 3 steps from 10 to 30/ })).toBeInTheDocument();
});

test('the filters at a chosen recorded step: the newest first, a slider over the steps that have them', async () => {
  const section = await openRun([histogramsRow(10, LAYERS, firstFilters({ count: 2 })), histogramsRow(20, LAYERS), histogramsRow(30, LAYERS, firstFilters({ count: 3 }))]);
  const grid = within(section).getByTestId('first-filters');
  expect(grid).toHaveAttribute('data-step', '30');
  expect(grid).toHaveAttribute('data-count', '3');
  // Filter f at (y, x) is (f + 1) * 0.01 * (y - x): the largest |weight| of 3 filters is 0.06.
  expect(within(section).getByTestId('filters-legend')).toHaveTextContent('Mid-grey = 0, black −0.06, white +0.06; one scale for all 3 filters');
  const slider = within(section).getByRole('slider');
  expect(slider).toHaveAttribute('aria-valuetext', 'step 30');
  await fireEvent.input(slider, { target: { value: '0' } });
  expect(within(section).getByTestId('first-filters')).toHaveAttribute('data-step', '10');
  expect(within(section).getByTestId('first-filters')).toHaveAttribute('data-count', '2');
  expect(within(section).getByTestId('filters-legend')).toHaveTextContent('±0.04');
  expect(within(section).getByRole('img', { name: /First-layer filters at step 10: 2 filters of 3×3 over 1 input channel \(greyscale\)/ })).toBeInTheDocument();
});

test('a run without histograms rows says so', async () => {
  const section = await openRun([]);
  expect(section).toHaveTextContent('No histograms were recorded for this run.');
  expect(within(section).queryByTestId('first-filters')).not.toBeInTheDocument();
});
