// Compare has the smoothing control and the loss log scale of Run detail and the Train view
// (the same SmoothingControls over the same LineChart options).
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, expect, test } from 'vitest';
import RunCompare from '../RunCompare.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import { getRunReply, PRELU_ID, RELU_ID } from './fixtures';

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

async function compare(getRun: (id: string) => ReturnType<typeof getRunReply> = getRunReply) {
  const { session } = await scriptedSession({ getRun: ({ runId }) => getRun(runId), getEvaluation: () => null });
  render(RunCompare, { session, ids: [RELU_ID, PRELU_ID], onBack: () => {} });
  await screen.findByTestId('chart-compare-loss');
}

const chartName = (id: string) => within(screen.getByTestId(id)).getByRole('img').getAttribute('aria-label') ?? '';

test('the smoothing slider smooths the loss and training accuracy of every run (not the epoch-end or dead-filter charts)', async () => {
  await compare();
  expect(chartName('chart-compare-loss')).not.toContain('smoothed');
  await fireEvent.input(screen.getByRole('slider', { name: 'Smoothing' }), { target: { value: '0.9' } });
  expect(chartName('chart-compare-loss')).toContain('smoothed (weight 0.90)');
  expect(chartName('chart-compare-accuracy')).toContain('smoothed (weight 0.90)');
  // Both runs' curves are still there, under their short names.
  expect(chartName('chart-compare-loss')).toContain(`${RELU_ID} · relu +1`);
  expect(chartName('chart-compare-loss')).toContain(`${PRELU_ID} · prelu`);
  expect(chartName('chart-compare-val')).not.toContain('smoothed');
  expect(chartName('chart-compare-dead')).not.toContain('smoothed');
});

test('the log toggle puts loss on a log scale and keeps the chance line', async () => {
  await compare();
  await fireEvent.click(screen.getByRole('checkbox', { name: 'Log scale (loss)' }));
  expect(chartName('chart-compare-loss')).toContain('log scale');
  expect(chartName('chart-compare-loss')).toContain('reference: chance (ln 20 = 3.00)');
  expect(chartName('chart-compare-accuracy')).not.toContain('log scale');
});

test('a run with a loss of 0 disables the log toggle', async () => {
  await compare((id) => {
    const reply = getRunReply(id);
    if (id !== PRELU_ID) return reply;
    let first = true;
    const metrics = reply.metrics.map((row) => {
      if (row['kind'] !== 'step' || !first) return row;
      first = false;
      return { ...row, loss: 0 };
    });
    return { ...reply, metrics };
  });
  expect(screen.getByRole('checkbox', { name: 'Log scale (loss)' })).toBeDisabled();
  expect(chartName('chart-compare-loss')).not.toContain('log scale');
});
