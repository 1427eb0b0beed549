// Issue 14, 3: Stop asks first, and says the run can be resumed from Runs.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { expect, test } from 'vitest';
import RunControls from '../RunControls.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';

const status = { state: 'running' as const, runId: 'run-1', step: 0, totalSteps: 100 };

async function controls() {
  const { trainer, session } = await scriptedSession({ stop: () => ({ ...status, state: 'stopped' }), pause: () => ({ ...status, state: 'paused' }) });
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 100, backend: 'cpu', resumed: false });
  render(RunControls, { session, live: null });
  await waitFor(() => expect(screen.getByRole('button', { name: 'Stop' })).toBeEnabled());
  return { trainer, session };
}

test('Stop asks first, in an alert dialog that says the run can be resumed from Runs; keeping the run sends nothing', async () => {
  const { trainer } = await controls();
  const stop = screen.getByRole('button', { name: 'Stop' });
  await fireEvent.click(stop);
  const dialog = await screen.findByRole('alertdialog', { name: 'Stop this run?' });
  expect(dialog).toHaveAccessibleDescription(/checkpoint.*resume it later from Runs/);
  expect(trainer.commands('stop')).toHaveLength(0);
  // The safe answer has the focus; Stop cannot be pressed twice meanwhile.
  const keep = within(dialog).getByRole('button', { name: 'Keep the run' });
  await waitFor(() => expect(keep).toHaveFocus());
  expect(stop).toBeDisabled();
  expect(stop).toHaveAttribute('aria-expanded', 'true');
  await fireEvent.click(keep);
  expect(screen.queryByRole('alertdialog')).toBeNull();
  await waitFor(() => expect(stop).toHaveFocus());
  expect(trainer.commands('stop')).toHaveLength(0);

  // Escape keeps it too.
  await fireEvent.click(stop);
  await fireEvent.keyDown(await screen.findByRole('alertdialog'), { key: 'Escape' });
  expect(screen.queryByRole('alertdialog')).toBeNull();
  expect(trainer.commands('stop')).toHaveLength(0);
});

test('confirming sends stop once', async () => {
  const { trainer } = await controls();
  await fireEvent.click(screen.getByRole('button', { name: 'Stop' }));
  await fireEvent.click(within(await screen.findByRole('alertdialog')).getByRole('button', { name: 'Stop the run' }));
  await waitFor(() => expect(trainer.commands('stop')).toHaveLength(1));
  expect(screen.queryByRole('alertdialog')).toBeNull();
});

test('a run that ends while the question is open takes the question away', async () => {
  const { trainer } = await controls();
  await fireEvent.click(screen.getByRole('button', { name: 'Stop' }));
  await screen.findByRole('alertdialog');
  trainer.event({ type: 'state', state: 'finished', runId: 'run-1' });
  await waitFor(() => expect(screen.queryByRole('alertdialog')).toBeNull());
});
