// A run's "Export for PyTorch / ONNX / torchrun…" (ExportFor.svelte, in the run's detail)
// against a scripted trainer: the format, then the folder (typed in serve mode, a native
// folder dialog in the app); a folder that holds files refused until "Replace files" is
// ticked; afterwards where the files went.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import RunsView from '../RunsView.svelte';
import { checkpointInterchange, editableRuns, scriptedSession, type Handlers } from '../../../test-support/scripted-trainer';
import { getRunReply, listEntries, RELU_ID } from './fixtures';

async function openDetail(extra: { fullFolders?: Set<string>; folderPaths?: Record<string, string>; handlers?: Handlers } = {}) {
  const runs = editableRuns(listEntries(), { detail: (id) => getRunReply(id) });
  const interchange = checkpointInterchange({ checkpoints: {}, ...(extra.fullFolders ? { fullFolders: extra.fullFolders } : {}), ...(extra.folderPaths ? { folderPaths: extra.folderPaths } : {}) });
  const { trainer, session } = await scriptedSession({ ...runs, ...interchange, getEvaluation: () => null, listSnapshots: () => ({ snapshots: [] }), ...extra.handlers });
  render(RunsView, { session });
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${RELU_ID}` }));
  const panel = await screen.findByTestId('run-detail');
  const exportFor = await within(panel).findByTestId('export-for');
  return { trainer, exportFor };
}

async function openForm(exportFor: HTMLElement) {
  await fireEvent.click(within(exportFor).getByRole('button', { name: 'Export for PyTorch / ONNX / torchrun…' }));
  return within(exportFor).findByRole('form', { name: 'Export for PyTorch, ONNX or torchrun' });
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

describe('Export for PyTorch / ONNX / torchrun (serve mode: a typed folder)', () => {
  test('PyTorch by default; ONNX when chosen; says where the files went', async () => {
    const { trainer, exportFor } = await openDetail();
    const button = within(exportFor).getByRole('button', { name: 'Export for PyTorch / ONNX / torchrun…' });
    expect(button).toHaveAttribute('aria-expanded', 'false');
    let form = await openForm(exportFor);
    const formats = within(form).getAllByRole('radio');
    expect(formats.map((r) => (r as HTMLInputElement).value)).toEqual(['pytorch', 'onnx', 'torchrun']);
    expect(within(form).getByRole('radio', { name: /PyTorch model\.pt/ })).toBeChecked();
    const folder = within(form).getByRole('textbox', { name: "Folder to write into (a path on the trainer's machine)" });
    await fireEvent.input(folder, { target: { value: ' /home/me/relu-pytorch ' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(trainer.commands('exportRunFor')).toHaveLength(1));
    // The protocol's parser fills `force`, as the trainer sees it.
    expect(trainer.commands('exportRunFor')[0]).toEqual({ name: 'exportRunFor', runId: RELU_ID, format: 'pytorch', destination: { kind: 'typed', path: '/home/me/relu-pytorch' }, force: false });
    const result = await within(exportFor).findByTestId('export-for-result');
    expect(result).toHaveTextContent('Wrote model.pt, model.py, config.json, README.md (the weights of step 40) to /home/me/relu-pytorch.');
    expect(result).toHaveTextContent('Its README.md says how to load it.');
    expect(within(exportFor).queryByRole('form')).toBeNull();

    form = await openForm(exportFor);
    await fireEvent.click(within(form).getByRole('radio', { name: /ONNX/ }));
    await fireEvent.input(within(form).getByRole('textbox', { name: /Folder to write into/ }), { target: { value: '/home/me/relu-onnx' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(trainer.commands('exportRunFor')).toHaveLength(2));
    expect(trainer.commands('exportRunFor')[1]).toMatchObject({ format: 'onnx', destination: { kind: 'typed', path: '/home/me/relu-onnx' } });
    expect(await within(exportFor).findByTestId('export-for-result')).toHaveTextContent('Wrote model.onnx, config.json, README.md (the weights of step 40) to /home/me/relu-onnx.');
  });

  test('a folder that holds files: the refusal is shown, and with "Replace files" ticked the export goes through', async () => {
    const { trainer, exportFor } = await openDetail({ fullFolders: new Set(['/home/me/experiments']) });
    const form = await openForm(exportFor);
    await fireEvent.click(within(form).getByRole('radio', { name: /torchrun/ }));
    await fireEvent.input(within(form).getByRole('textbox', { name: /Folder to write into/ }), { target: { value: '/home/me/experiments' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    expect(await within(exportFor).findByRole('alert')).toHaveTextContent(
      'The export failed: The folder /home/me/experiments is not empty: choose an empty folder (the dialog can create one), or tick "Replace files of the same names" to write into it anyway',
    );
    const replace = within(form).getByRole('checkbox', { name: /Replace files of the same names/ });
    expect(replace).not.toBeChecked();
    await fireEvent.click(replace);
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(trainer.commands('exportRunFor')).toHaveLength(2));
    expect(trainer.commands('exportRunFor')[1]).toMatchObject({ format: 'torchrun', force: true });
    const result = await within(exportFor).findByTestId('export-for-result');
    expect(result).toHaveTextContent('Wrote model.py, train.py, config.json, README.md');
    expect(result).toHaveTextContent('torchrun --nproc_per_node=2 train.py --data <folder of identities>');
    expect(within(exportFor).queryByRole('alert')).toBeNull();
  });

  test('a run with no weights: the trainer says why', async () => {
    const { exportFor } = await openDetail({
      handlers: {
        exportRunFor: ({ runId }) => {
          throw Object.assign(new Error(`Run ${runId} has no checkpoint yet, so it has no weights to export: let it train to the end of an epoch (or stop it, which saves one), then export it`), { code: 'no-checkpoint' });
        },
      },
    });
    const form = await openForm(exportFor);
    await fireEvent.input(within(form).getByRole('textbox', { name: /Folder to write into/ }), { target: { value: '/tmp/out' } });
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    expect(await within(exportFor).findByRole('alert')).toHaveTextContent(/has no checkpoint yet.*then export it/);
  });
});

describe('Export for PyTorch / ONNX / torchrun (the desktop app: a folder dialog)', () => {
  test("the folder dialog is asked for the chosen format; the folder's grant goes to the trainer", async () => {
    const grant = 'ef'.repeat(16);
    const asked: string[] = [];
    (window as { lab?: unknown }).lab = {
      chooseExportFolder: async (format: string) => {
        asked.push(format);
        return { grant, label: 'lightcnn-experiment' };
      },
    };
    const { trainer, exportFor } = await openDetail({ folderPaths: { [grant]: '/home/me/Documents/lightcnn-experiment' } });
    const form = await openForm(exportFor);
    expect(within(form).queryByRole('textbox')).toBeNull();
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    expect(await within(exportFor).findByRole('alert')).toHaveTextContent('Choose a folder first.');
    await fireEvent.click(within(form).getByRole('radio', { name: /torchrun/ }));
    await fireEvent.click(within(form).getByRole('button', { name: 'Choose folder…' }));
    await waitFor(() => expect(within(form).getByTestId('export-for-folder')).toHaveTextContent('lightcnn-experiment'));
    expect(asked).toEqual(['torchrun']);
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(trainer.commands('exportRunFor')).toEqual([{ name: 'exportRunFor', runId: RELU_ID, format: 'torchrun', destination: { kind: 'grant', grant }, force: false }]));
    expect(await within(exportFor).findByTestId('export-for-result')).toHaveTextContent('to /home/me/Documents/lightcnn-experiment.');
  });
});
