// Looking inside a run with a dataset (inspectRun): an imported run says where it came from and
// offers it instead of Resume; a finished run the lab trained offers it too; the dataset is
// named as the Evaluate view names one, the command goes out and the view switches to Train,
// which labels the pass (no loss curve) and keeps its stop note apt.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import { scriptedSession, type Handlers } from '../../../test-support/scripted-trainer';
import RunsView from '../RunsView.svelte';
import RunControls from '../../train/RunControls.svelte';
import { getRunReply, listEntries, PRELU_ID, runRecord } from './fixtures';

const IMPORTED_ID = '2026-11-27T10-00-00_lightcnn9_imported_9f9f';
const CHECKPOINT = '/models/LightCNN_9Layers_checkpoint.pth.tar';

function importedRecord() {
  const base = runRecord(IMPORTED_ID, 'mfm:2/1');
  return {
    ...base,
    config: { ...base.config, data: 'imported:LightCNN_9Layers_checkpoint.pth.tar' },
    dataset: { name: 'none (imported weights)', source: CHECKPOINT, hash: '', identities: 79077, images: 0, synthetic: false },
    origin: { kind: 'imported', file: CHECKPOINT, sha256: 'ab'.repeat(32), format: 'legacy', classifier: true, notes: [] },
  };
}

async function open(runId: string, extra: Handlers = {}) {
  const { session, trainer } = await scriptedSession({
    listRuns: () => [...listEntries(), { ok: true, id: IMPORTED_ID, record: importedRecord(), interrupted: false }],
    getRun: ({ runId: id }) => (id === IMPORTED_ID ? { record: importedRecord(), metrics: [], warnings: [] } : getRunReply(id)),
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
    inspectRun: ({ runId: id }) => ({ runId: id }),
    ...extra,
  });
  render(RunsView, { session });
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${runId}` }));
  await screen.findByTestId('run-detail');
  return { session, trainer };
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

describe('Look inside with a dataset', () => {
  test('an imported run: where it came from, no Resume, and a typed dataset sent as inspectRun before the view switches to Train', async () => {
    const { session, trainer } = await open(IMPORTED_ID);
    expect(screen.getByTestId('run-origin')).toHaveTextContent(`imported from ${CHECKPOINT}`);
    expect(screen.queryByRole('button', { name: 'Resume' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Look inside with a dataset' }));
    // Nothing named yet: said, nothing sent.
    await fireEvent.click(screen.getByRole('button', { name: 'Look inside' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Type the path of a folder or an archive on the trainer’s machine.');
    expect(trainer.commands('inspectRun')).toHaveLength(0);
    await fireEvent.input(screen.getByRole('textbox', { name: "Dataset path (on the trainer's machine)" }), { target: { value: ' /data/lfw ' } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Layout' }), { target: { value: 'flat' } });
    await fireEvent.input(screen.getByRole('textbox', { name: 'Identity regex (flat folders)' }), { target: { value: '^(.+)_\\d+\\.' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Look inside' }));
    await waitFor(() => expect(trainer.commands('inspectRun')).toHaveLength(1));
    expect(trainer.commands('inspectRun')[0]).toEqual({
      name: 'inspectRun',
      runId: IMPORTED_ID,
      data: { kind: 'path', path: { kind: 'typed', path: '/data/lfw' }, layout: 'flat', identityRegex: '^(.+)_\\d+\\.' },
    });
    await waitFor(() => expect(session.view).toBe('train'));
  });

  test('a finished run the lab trained offers it beside Evaluate; a refusal from the trainer is shown', async () => {
    const { trainer } = await open(PRELU_ID, {
      inspectRun: () => {
        throw Object.assign(new Error('run 2026-11-26T08-50-12_tiny_relu_a1b2 is training: stop it before starting another'), { code: 'busy' });
      },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Look inside with a dataset' }));
    await fireEvent.input(screen.getByRole('textbox', { name: "Dataset path (on the trainer's machine)" }), { target: { value: '/data/orl' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Look inside' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Looking inside failed: run 2026-11-26T08-50-12_tiny_relu_a1b2 is training: stop it before starting another');
    expect(trainer.commands('inspectRun')[0]).toMatchObject({ runId: PRELU_ID, data: { kind: 'path', path: { kind: 'typed', path: '/data/orl' }, layout: 'auto' } });
    expect(screen.queryByTestId('run-origin')).toBeNull();
  });

  test('a failed run with a checkpoint offers it too (the one the loss guard stopped is worth a look); one without a checkpoint does not', async () => {
    const failed = { ...runRecord(PRELU_ID, 'prelu'), state: 'failed', failure: { step: 12, message: 'the loss diverged' } };
    await open(PRELU_ID, { getRun: () => ({ record: failed, metrics: [], warnings: [] }) });
    expect(await screen.findByRole('button', { name: 'Look inside with a dataset' })).toBeInTheDocument();
    cleanup();
    const { lastCheckpoint: _none, ...noCheckpoint } = failed;
    await open(PRELU_ID, { getRun: () => ({ record: noCheckpoint, metrics: [], warnings: [] }) });
    await screen.findByTestId('run-detail');
    expect(screen.queryByRole('button', { name: 'Look inside with a dataset' })).toBeNull();
  });
});

test('the Train view labels a pass: dataset, batch i of n, no step count; stopping it says nothing is kept', async () => {
  const { session, trainer } = await scriptedSession({ stop: () => ({ state: 'stopped', runId: IMPORTED_ID, step: null, totalSteps: 4 }) });
  trainer.event({ type: 'started', runId: IMPORTED_ID, step: 0, totalSteps: 4, backend: 'cpu', resumed: false, inspection: { data: 'LFW', source: '/data/lfw', images: 13233, batches: 4, checkpointStep: 0 } });
  render(RunControls, { session, live: null });
  expect(await screen.findByTestId('run-inspection')).toHaveTextContent('inspecting: pass over LFW, batch 0 of 4 (13233 images, the weights of step 0; no training, no loss)');
  expect(screen.queryByText(/^step 0/)).toBeNull();
  expect(screen.getByRole('progressbar', { name: 'Inspection progress' })).toBeInTheDocument();
  expect(screen.queryByRole('spinbutton', { name: 'Stats window (steps)' })).toBeNull();
  await fireEvent.click(screen.getByRole('button', { name: 'Stop' }));
  expect(await screen.findByRole('alertdialog')).toHaveAccessibleDescription(/a pass cut short is not kept in the run/);
});
