// Issue 14, 4: in the Runs view a run can be renamed (in place, from the keyboard), given
// notes, and moved to the trash after a confirmation that says where it goes and how to
// restore it; the table can be filtered by dataset, model and activation. The trainer's
// refusal (a run being trained) is shown as it says it.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, test } from 'vitest';
import RunsView from '../RunsView.svelte';
import { editableRuns, scriptedSession } from '../../../test-support/scripted-trainer';
import { evaluation, getRunReply, listEntries, PRELU_ID, RELU_ID, runRecord } from './fixtures';

const ORL_ID = '2026-11-27T10-00-00_lightcnn9_mfm_beef';

async function view(options: { locked?: Set<string>; extra?: boolean } = {}) {
  const entries = listEntries() as { ok: boolean; id: string; record?: Record<string, unknown> }[];
  if (options.extra) {
    entries.unshift({
      ok: true,
      id: ORL_ID,
      record: {
        ...runRecord(ORL_ID, 'mfm:2/1', { createdAt: '2026-11-27T10:00:00.000Z' }),
        config: { ...runRecord(ORL_ID, 'mfm:2/1').config, model: 'lightcnn9' },
        dataset: { name: 'orl_faces', source: '/faces/orl_faces', hash: 'ff', identities: 40, images: 400, synthetic: false },
      },
    });
  }
  const runs = editableRuns(entries, { detail: (id) => getRunReply(id), ...(options.locked ? { locked: options.locked } : {}) });
  const { trainer, session } = await scriptedSession({
    ...runs,
    getEvaluation: ({ runId }) => (runId === RELU_ID ? evaluation(RELU_ID) : null),
    listSnapshots: () => ({ snapshots: [] }),
  });
  render(RunsView, { session });
  await screen.findByTestId('runs-table');
  return { trainer, runs };
}

async function open(id: string) {
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${id}` }));
  const detail = await screen.findByTestId('run-detail');
  await within(detail).findByTestId('run-manage');
  return detail;
}

describe('rename', () => {
  test('in place: the heading and the table show the name, the id stays visible; Escape cancels', async () => {
    const { trainer } = await view();
    const detail = await open(RELU_ID);
    await fireEvent.click(within(detail).getByRole('button', { name: 'Rename' }));
    const input = within(detail).getByRole('textbox', { name: 'Run name' });
    expect(input).toHaveFocus();
    await fireEvent.input(input, { target: { value: 'ReLU, lr 0.1' } });
    await fireEvent.keyDown(input, { key: 'Escape' });
    expect(within(detail).queryByRole('textbox', { name: 'Run name' })).toBeNull();
    expect(within(detail).getByRole('button', { name: 'Rename' })).toHaveFocus();
    expect(trainer.commands('renameRun')).toHaveLength(0);

    await fireEvent.click(within(detail).getByRole('button', { name: 'Rename' }));
    await fireEvent.input(within(detail).getByRole('textbox', { name: 'Run name' }), { target: { value: 'ReLU, lr 0.1' } });
    await fireEvent.click(within(detail).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(trainer.commands('renameRun')).toEqual([{ name: 'renameRun', runId: RELU_ID, displayName: 'ReLU, lr 0.1' }]));
    const heading = detail.querySelector('#run-detail-title') as HTMLElement;
    await waitFor(() => expect(heading).toHaveTextContent(`ReLU, lr 0.1 ${RELU_ID}`));
    expect(within(detail).getByTestId('run-detail-id')).toHaveTextContent(RELU_ID);

    await fireEvent.click(within(detail).getByRole('button', { name: '← All runs' }));
    const row = (await screen.findByTestId('runs-table')).querySelector(`tr[data-run="${RELU_ID}"]`) as HTMLElement;
    await waitFor(() => expect(row.querySelector('.display-name')).toHaveTextContent('ReLU, lr 0.1'));
    expect(row.querySelector('.id')).toHaveTextContent(RELU_ID);
  });

  test('a run being trained is refused with the trainer\'s reason', async () => {
    await view({ locked: new Set([RELU_ID]) });
    const detail = await open(RELU_ID);
    await fireEvent.click(within(detail).getByRole('button', { name: 'Rename' }));
    await fireEvent.input(within(detail).getByRole('textbox', { name: 'Run name' }), { target: { value: 'x' } });
    await fireEvent.click(within(detail).getByRole('button', { name: 'Save' }));
    expect(await within(detail).findByRole('alert')).toHaveTextContent(/Rename failed: Run .* is being trained .*stop it first/);
    expect(within(detail).getByRole('textbox', { name: 'Run name' })).toBeInTheDocument();
  });
});

describe('notes', () => {
  test('are saved to the run and shown again when it is opened', async () => {
    const { trainer } = await view();
    let detail = await open(PRELU_ID);
    const notes = within(detail).getByRole('textbox', { name: 'Notes' });
    const save = within(detail).getByRole('button', { name: 'Save notes' });
    expect(save).toBeDisabled();
    await fireEvent.input(notes, { target: { value: 'no dead filters\nat all' } });
    await fireEvent.click(save);
    await waitFor(() => expect(trainer.commands('setRunNotes')).toEqual([{ name: 'setRunNotes', runId: PRELU_ID, notes: 'no dead filters\nat all' }]));
    expect(await within(within(detail).getByTestId('run-manage')).findByRole('status')).toHaveTextContent('Notes saved.');
    await fireEvent.click(within(detail).getByRole('button', { name: '← All runs' }));
    detail = await open(PRELU_ID);
    expect(within(detail).getByRole('textbox', { name: 'Notes' })).toHaveValue('no dead filters\nat all');
  });
});

describe('move to trash', () => {
  test('asks first, saying where the run goes and how to restore it; Keep it sends nothing', async () => {
    const { trainer } = await view();
    const detail = await open(RELU_ID);
    await fireEvent.click(within(detail).getByRole('button', { name: 'Move to trash…' }));
    const dialog = within(detail).getByRole('alertdialog');
    expect(dialog).toHaveTextContent(/moved to the trash folder in the lab's data folder; nothing is deleted/);
    expect(dialog).toHaveTextContent(/To restore it, move the folder back into runs/);
    expect(within(dialog).getByRole('button', { name: 'Keep it' })).toHaveFocus();
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Keep it' }));
    expect(within(detail).queryByRole('alertdialog')).toBeNull();
    expect(trainer.commands('deleteRun')).toHaveLength(0);

    await fireEvent.click(within(detail).getByRole('button', { name: 'Move to trash…' }));
    await fireEvent.click(within(within(detail).getByRole('alertdialog')).getByRole('button', { name: 'Move to trash' }));
    await waitFor(() => expect(trainer.commands('deleteRun')).toEqual([{ name: 'deleteRun', runId: RELU_ID }]));
    // Back in the list, without the run, saying where it went.
    const said = await screen.findByTestId('runs-trashed');
    expect(said).toHaveTextContent(`Run ${RELU_ID} was moved to the trash. To restore it, move the folder /home/me/.face-cnn-lab/trash/${RELU_ID} back to`);
    await waitFor(() => expect(screen.getByTestId('runs-table').querySelector(`tr[data-run="${RELU_ID}"]`)).toBeNull());
  });

  test('a refusal is shown and the run stays', async () => {
    await view({ locked: new Set([RELU_ID]) });
    const detail = await open(RELU_ID);
    await fireEvent.click(within(detail).getByRole('button', { name: 'Move to trash…' }));
    await fireEvent.click(within(within(detail).getByRole('alertdialog')).getByRole('button', { name: 'Move to trash' }));
    expect(await within(detail).findByRole('alert')).toHaveTextContent(/Moving to the trash failed: .*stop it first/);
    expect(screen.getByTestId('run-detail')).toBeInTheDocument();
  });
});

describe('filter', () => {
  test('by dataset, model and activation, among the values the runs have; Show all clears it', async () => {
    await view({ extra: true });
    const table = screen.getByTestId('runs-table');
    const rows = () => [...table.querySelectorAll<HTMLElement>('tbody tr[data-run]')].map((tr) => tr.dataset['run']);
    expect(rows()).toHaveLength(4);
    const group = screen.getByRole('group', { name: 'Filter the runs' });
    const dataset = within(group).getByRole('combobox', { name: 'Dataset' });
    expect([...(dataset as HTMLSelectElement).options].map((o) => o.textContent)).toEqual(['all', 'orl_faces', 'synthetic']);
    await fireEvent.change(dataset, { target: { value: 'synthetic' } });
    await waitFor(() => expect(rows()).toEqual([PRELU_ID, RELU_ID]));
    expect(group).toHaveTextContent('2 of 4 runs shown.');
    await fireEvent.change(within(group).getByRole('combobox', { name: 'Activation' }), { target: { value: 'relu' } });
    await waitFor(() => expect(rows()).toEqual([RELU_ID]));
    await fireEvent.click(within(group).getByRole('button', { name: 'Show all' }));
    await waitFor(() => expect(rows()).toHaveLength(4));
    await fireEvent.change(within(group).getByRole('combobox', { name: 'Model' }), { target: { value: 'lightcnn9' } });
    await waitFor(() => expect(rows()).toEqual([ORL_ID]));
  });
});
