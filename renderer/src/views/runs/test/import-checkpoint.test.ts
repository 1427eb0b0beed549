// The Runs view's "Import PyTorch checkpoint…" (ImportCheckpoint.svelte) against a scripted
// trainer: the file typed (serve mode) or chosen in the app's dialog, a name and the collapsed
// overrides; progress while the trainer works; what it decided, and the new run listed and
// selected; a refusal shown as the trainer words it.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { CheckpointImportView } from '#protocol/workbench';
import RunsView from '../RunsView.svelte';
import { checkpointInterchange, editableRuns, scriptedSession, type Handlers, type ScriptedCheckpoint } from '../../../test-support/scripted-trainer';
import { getRunReply, listEntries, runRecord } from './fixtures';

const PUBLISHED = '/home/me/Downloads/LightCNN_9Layers_checkpoint.pth.tar';
const LIGHTCNN9: ScriptedCheckpoint = {
  format: 'legacy',
  config: { model: 'lightcnn9', inputSize: 128, width: 1, activation: 'mfm:2/1' },
  classifier: { present: true, classes: 79077 },
  parameters: 5_480_864,
  decisions: ['weights: the dict\'s "state_dict"', "names: DataParallel's module. prefix removed", 'architecture: LightCNN-9, from the tensors\' names', "width: 1 (conv1's channels)", "input size: 128 px (the fc's inputs)"],
  notes: ['arch: LightCNN-9', 'epoch: 80'],
};

async function view(options: { handlers?: Handlers; grant?: string } = {}) {
  const entries = listEntries() as { ok: boolean; id: string; record?: Record<string, unknown>; interrupted?: boolean }[];
  const runs = editableRuns(entries, { detail: (id) => (entries.find((e) => e.id === id && e.record?.['origin']) ? { metrics: [], warnings: [] } : getRunReply(id)) });
  const interchange = checkpointInterchange({
    checkpoints: { [PUBLISHED]: LIGHTCNN9, ...(options.grant ? { [options.grant]: LIGHTCNN9 } : {}) },
    onRun: (made: CheckpointImportView, command) => {
      const base = runRecord(made.runId, made.config.activation);
      entries.unshift({
        ok: true,
        id: made.runId,
        interrupted: false,
        record: {
          ...base,
          ...(command.displayName ? { displayName: command.displayName } : {}),
          config: { ...base.config, data: 'imported:LightCNN_9Layers_checkpoint.pth.tar', model: made.config.model, inputSize: made.config.inputSize },
          dataset: { name: 'none (imported weights)', source: PUBLISHED, hash: '', identities: made.classifier.classes, images: 0, synthetic: false },
          backend: 'pytorch (imported)',
          state: 'finished',
          summary: undefined,
          lastCheckpoint: { file: 'checkpoints/step-000000.ckpt', step: 0 },
          origin: { kind: 'imported', file: PUBLISHED, sha256: 'ab'.repeat(32), format: made.format, classifier: made.classifier.present, notes: made.notes },
        },
      });
    },
  });
  const { trainer, session } = await scriptedSession({ ...runs, ...interchange, getEvaluation: () => null, listSnapshots: () => ({ snapshots: [] }), ...options.handlers });
  render(RunsView, { session });
  await screen.findByTestId('runs-table');
  return { trainer, session, entries };
}

async function openPanel() {
  await fireEvent.click(screen.getByRole('button', { name: 'Import PyTorch checkpoint…' }));
  return screen.findByRole('form', { name: 'Import a PyTorch checkpoint' });
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

describe('Import PyTorch checkpoint (serve mode: a typed path)', () => {
  test('sends the path and the name, shows progress, then what was decided; the new run is listed, selected, and opens', async () => {
    let release = () => {};
    const held = new Promise<void>((done) => (release = done));
    const interchange = checkpointInterchange({ checkpoints: { [PUBLISHED]: LIGHTCNN9 } });
    const { trainer, entries } = await view({
      handlers: {
        importCheckpoint: async (command) => {
          await held;
          // As the trainer: the run appears in the list once made.
          const made = await (interchange.importCheckpoint as NonNullable<Handlers['importCheckpoint']>)(command);
          const base = runRecord(made.runId, 'mfm:2/1');
          entries.unshift({ ok: true, id: made.runId, interrupted: false, record: { ...base, displayName: 'LightCNN-9 as published', state: 'finished' } });
          return made;
        },
      },
    });
    const button = screen.getByRole('button', { name: 'Import PyTorch checkpoint…' });
    expect(button).toHaveAttribute('aria-expanded', 'false');
    const form = await openPanel();
    expect(button).toHaveAttribute('aria-expanded', 'true');
    // The overrides are collapsed: the file decides unless told.
    const advanced = form.querySelector('details') as HTMLDetailsElement;
    expect(advanced.open).toBe(false);
    expect(within(advanced).getByText('Advanced: settings the file does not say')).toBeInTheDocument();

    await fireEvent.input(within(form).getByRole('textbox', { name: "Checkpoint file (a path on the trainer's machine)" }), { target: { value: `  ${PUBLISHED} ` } });
    await fireEvent.input(within(form).getByRole('textbox', { name: 'Run name (optional)' }), { target: { value: 'LightCNN-9 as published' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));

    await waitFor(() => expect(trainer.commands('importCheckpoint')).toHaveLength(1));
    expect(trainer.commands('importCheckpoint')[0]).toEqual({ name: 'importCheckpoint', source: { kind: 'typed', path: PUBLISHED }, displayName: 'LightCNN-9 as published' });
    expect(await screen.findByText(/Importing LightCNN_9Layers_checkpoint\.pth\.tar: reading the file, checking every tensor/)).toHaveAttribute('role', 'status');
    expect(screen.getByRole('button', { name: 'Import PyTorch checkpoint…' })).toBeDisabled();

    release();
    const result = await screen.findByTestId('import-checkpoint-result');
    expect(result).toHaveTextContent(/Imported LightCNN_9Layers_checkpoint\.pth\.tar \(torch's legacy format\) as run 2026-12-01T10-00-00_lightcnn9_imported_beef/);
    expect(result).toHaveTextContent('lightcnn9 at 128 px, width 1, activation mfm:2/1; 5,480,864 parameters without the classifier');
    expect(result).toHaveTextContent('Classifier: 79,077 identities');
    expect(within(within(result).getByTestId('import-decisions')).getAllByRole('listitem').map((li) => li.textContent)).toEqual(LIGHTCNN9.decisions);
    expect(within(result).getByTestId('import-notes')).toHaveTextContent('epoch: 80');
    expect(screen.queryByRole('form', { name: 'Import a PyTorch checkpoint' })).toBeNull();

    const runId = '2026-12-01T10-00-00_lightcnn9_imported_beef';
    const checkbox = await screen.findByRole('checkbox', { name: `Select ${runId}` });
    await waitFor(() => expect(checkbox).toBeChecked());
    expect(screen.getByTestId('runs-table').querySelector(`tr[data-run="${runId}"]`)).toHaveTextContent('LightCNN-9 as published');

    await fireEvent.click(within(result).getByRole('button', { name: 'Open run' }));
    const detail = await screen.findByTestId('run-detail');
    expect(detail.querySelector('#run-detail-title')).toHaveTextContent(runId);
  });

  test('the advanced settings go with the file when given; a bad width is caught before anything is sent', async () => {
    const { trainer } = await view();
    const form = await openPanel();
    await fireEvent.input(within(form).getByRole('textbox', { name: "Checkpoint file (a path on the trainer's machine)" }), { target: { value: PUBLISHED } });
    (form.querySelector('details') as HTMLDetailsElement).open = true;
    await fireEvent.change(within(form).getByRole('combobox', { name: 'Model' }), { target: { value: 'lightcnn9' } });
    await fireEvent.input(within(form).getByRole('textbox', { name: 'Activation' }), { target: { value: 'mfm:3/2' } });
    const width = within(form).getByRole('textbox', { name: 'Width' });
    await fireEvent.input(width, { target: { value: '0' } });
    expect(width).toHaveAttribute('aria-invalid', 'true');
    expect(within(form).getByText('Type a number above 0.')).toBeInTheDocument();
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    expect(await screen.findByText(/The import failed: Fix the advanced settings first/)).toHaveAttribute('role', 'alert');
    expect(trainer.commands('importCheckpoint')).toHaveLength(0);

    await fireEvent.input(width, { target: { value: '0.5' } });
    await fireEvent.input(within(form).getByRole('textbox', { name: 'Input size (px)' }), { target: { value: '96' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(trainer.commands('importCheckpoint')).toHaveLength(1));
    expect(trainer.commands('importCheckpoint')[0]).toEqual({
      name: 'importCheckpoint',
      source: { kind: 'typed', path: PUBLISHED },
      model: 'lightcnn9',
      activation: 'mfm:3/2',
      width: 0.5,
      inputSize: 96,
    });
    expect(await screen.findByTestId('import-checkpoint-result')).toHaveTextContent('lightcnn9 at 96 px, width 0.5, activation mfm:3/2');
  });

  test("a file that is not a checkpoint: the trainer's reason, the file and the way out; no run is added", async () => {
    const { trainer, entries } = await view();
    const before = entries.length;
    const form = await openPanel();
    await fireEvent.input(within(form).getByRole('textbox', { name: "Checkpoint file (a path on the trainer's machine)" }), { target: { value: '/home/me/notes.txt' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent("The import failed: the file is not a PyTorch checkpoint (neither torch's zip format nor its legacy one): /home/me/notes.txt. Check that this is a PyTorch checkpoint written by torch.save");
    // The form stays, to choose another file.
    expect(screen.getByRole('form', { name: 'Import a PyTorch checkpoint' })).toBeInTheDocument();
    expect(screen.queryByTestId('import-checkpoint-result')).toBeNull();
    expect(entries).toHaveLength(before);
    expect(trainer.commands('importCheckpoint')).toHaveLength(1);

    // A model the file is not: the remedy names the advanced settings.
    await fireEvent.input(within(form).getByRole('textbox', { name: "Checkpoint file (a path on the trainer's machine)" }), { target: { value: PUBLISHED } });
    await fireEvent.change(within(form).getByRole('combobox', { name: 'Model' }), { target: { value: 'lightcnn29' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent(/does not fit the network.*Check the model and the activation.*advanced settings/));
  });

  test('nothing typed: said, nothing sent', async () => {
    const { trainer } = await view();
    const form = await openPanel();
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(/Type the path of a checkpoint file first/);
    expect(trainer.commands('importCheckpoint')).toHaveLength(0);
  });
});

describe('Import PyTorch checkpoint (the desktop app: a native dialog)', () => {
  test('the file is chosen in the dialog and sent as its grant; no path can be typed', async () => {
    const grant = 'cd'.repeat(16);
    let asked = 0;
    (window as { lab?: unknown }).lab = {
      chooseCheckpoint: async () => {
        asked++;
        return { grant, label: 'LightCNN_9Layers_checkpoint.pth.tar' };
      },
    };
    const { trainer } = await view({ grant });
    const form = await openPanel();
    expect(within(form).queryByRole('textbox', { name: /Checkpoint file/ })).toBeNull();
    expect(within(form).getByTestId('import-checkpoint-chosen')).toHaveTextContent('No file chosen');
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Choose a checkpoint file first.');

    await fireEvent.click(within(form).getByRole('button', { name: 'Choose checkpoint…' }));
    await waitFor(() => expect(within(form).getByTestId('import-checkpoint-chosen')).toHaveTextContent('LightCNN_9Layers_checkpoint.pth.tar'));
    expect(asked).toBe(1);
    await fireEvent.click(within(form).getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(trainer.commands('importCheckpoint')).toEqual([{ name: 'importCheckpoint', source: { kind: 'grant', grant } }]));
    expect(await screen.findByTestId('import-checkpoint-result')).toHaveTextContent(/Imported LightCNN_9Layers_checkpoint\.pth\.tar/);
  });

  test('a dialog that fails says so', async () => {
    (window as { lab?: unknown }).lab = {
      chooseCheckpoint: async () => {
        throw new Error('The trainer is not running: restart it, then choose again');
      },
    };
    await view();
    const form = await openPanel();
    await fireEvent.click(within(form).getByRole('button', { name: 'Choose checkpoint…' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The import failed: The dialog failed: The trainer is not running: restart it, then choose again');
  });
});
