import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, expect, test } from 'vitest';
import RunDetail from '../RunDetail.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import { getRunReply, RELU_ID, snapshotReply } from './fixtures';

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

async function detail() {
  const { session } = await scriptedSession({
    getRun: ({ runId }) => getRunReply(runId),
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
    loadSnapshot: ({ step }) => snapshotReply(step),
  });
  render(RunDetail, { session, runId: RELU_ID, onBack: () => {} });
  await screen.findByTestId('chart-loss');
}

const chartName = (id: string) => within(screen.getByTestId(id)).getByRole('img').getAttribute('aria-label') ?? '';

// issue 14, 4: smoothing on loss and accuracy, log scale on loss, in Run detail.
test('the smoothing slider smooths the loss and accuracy charts (not the learning rate)', async () => {
  await detail();
  expect(chartName('chart-loss')).not.toContain('smoothed');
  await fireEvent.input(screen.getByRole('slider', { name: 'Smoothing' }), { target: { value: '0.9' } });
  expect(chartName('chart-loss')).toContain('smoothed (weight 0.90)');
  expect(chartName('chart-accuracy')).toContain('smoothed (weight 0.90)');
  expect(chartName('chart-lr')).not.toContain('smoothed');
});

test('the log toggle puts loss on a log scale and keeps the chance line', async () => {
  await detail();
  await fireEvent.click(screen.getByRole('checkbox', { name: 'Log scale (loss)' }));
  expect(chartName('chart-loss')).toContain('log scale');
  expect(chartName('chart-loss')).toContain('reference: chance (ln 20 = 3.00)');
  expect(chartName('chart-accuracy')).not.toContain('log scale');
});
