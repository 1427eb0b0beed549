import { fireEvent, render, screen } from '@testing-library/svelte';
import { expect, test } from 'vitest';
import App from '../../App.svelte';
import { LabSession } from '../../lib/session.svelte';
import { ScriptedTrainer, TEST_LAB_INFO } from '../../test-support/scripted-trainer';

function app() {
  const trainer = new ScriptedTrainer({ labInfo: () => TEST_LAB_INFO, status: () => ({ state: null, runId: null, step: null, totalSteps: null }) });
  const session = new LabSession();
  render(App, { session, connect: async () => trainer.client });
  return { trainer, session };
}

test('connects, shows the backend, and switches views with the tabs and the arrow keys', async () => {
  const { session } = app();
  expect(await screen.findByText('cpu')).toBeInTheDocument();
  expect(screen.getByRole('tab', { name: 'Data' })).toHaveAttribute('aria-selected', 'true');
  await fireEvent.click(screen.getByRole('tab', { name: 'Runs' }));
  expect(session.view).toBe('runs');
  await fireEvent.keyDown(screen.getByRole('tab', { name: 'Runs' }), { key: 'ArrowRight' });
  expect(session.view).toBe('evaluate');
  expect(screen.getByRole('tab', { name: 'Evaluate' })).toHaveFocus();
  await fireEvent.keyDown(screen.getByRole('tab', { name: 'Evaluate' }), { key: 'Home' });
  expect(session.view).toBe('data');
  await fireEvent.keyDown(screen.getByRole('tab', { name: 'Data' }), { key: 'End' });
  expect(session.view).toBe('evaluate');
});

test('the window title follows the run and the backend', async () => {
  const { trainer } = app();
  await screen.findByText('cpu');
  trainer.event({ type: 'started', runId: 'run-1', step: 0, totalSteps: 10, backend: "training on wasm (WebAssembly with XNNPACK and the lab's training kernels): tfjs-node not installed", resumed: false });
  await screen.findByText(/run-1/);
  expect(document.title).toBe('Face CNN Lab · run-1 (running) · wasm');
});

test('a closed connection is said, with a way back', async () => {
  const { trainer } = app();
  await screen.findByText('cpu');
  trainer.close('the trainer is shutting down');
  expect(await screen.findByTestId('connection-closed')).toHaveTextContent('the trainer is shutting down');
  expect(screen.getByRole('button', { name: 'Connect again' })).toBeInTheDocument();
});

test('a trainer crash is shown with its last error and a restart button', async () => {
  const { session } = app();
  await screen.findByText('cpu');
  session.crashed(134, 'Error: out of memory');
  expect(await screen.findByTestId('trainer-crashed')).toHaveTextContent('out of memory');
  expect(screen.getByRole('button', { name: 'Restart the trainer' })).toBeInTheDocument();
});
