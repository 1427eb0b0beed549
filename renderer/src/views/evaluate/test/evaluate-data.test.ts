// The Evaluate view's dataset choice: the run's own, or another dataset (LFW's protocol) given
// as a typed path in serve mode or through the app's dialog; an imported run (no dataset of its
// own) says so and needs one; the results show the evaluated dataset and the overlap.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { EvaluationView } from '#protocol/workbench';
import EvaluateView from '../EvaluateView.svelte';
import { dataRequest, emptyDataDraft, overlapText } from '../eval-data';
import { scriptedSession, type Handlers } from '../../../test-support/scripted-trainer';
import { evaluation, listEntries, runRecord, PRELU_ID, RELU_ID } from '../../runs/test/fixtures';

const IMPORTED_ID = '2026-11-27T10-00-00_lightcnn9_imported_9f9f';
const CHECKPOINT = '/models/LightCNN_9Layers_checkpoint.pth.tar';

function importedEntry() {
  const record = {
    ...runRecord(IMPORTED_ID, 'mfm:2/1'),
    config: { ...runRecord(IMPORTED_ID, 'mfm:2/1').config, data: 'imported:LightCNN_9Layers_checkpoint.pth.tar' },
    dataset: { name: 'none (imported weights)', source: CHECKPOINT, hash: '', identities: 79077, images: 0, synthetic: false },
    origin: { kind: 'imported', file: CHECKPOINT, sha256: 'ab'.repeat(32), format: 'legacy', classifier: true, notes: [] },
  };
  return { ok: true, id: IMPORTED_ID, record, interrupted: false };
}

async function view(extra: Handlers = {}, evaluateRunId: string | null = RELU_ID) {
  const { trainer, session } = await scriptedSession({
    listRuns: () => [...listEntries(), importedEntry()],
    getEvaluation: () => null,
    evaluateRun: ({ runId }) => evaluation(runId),
    ...extra,
  });
  session.chooseEvaluateRun(evaluateRunId);
  render(EvaluateView, { session });
  await screen.findByText('This run has not been evaluated yet: press Evaluate.');
  return { trainer, session };
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

describe('the Evaluate view: which dataset', () => {
  test("the run's own dataset by default, named; the command then has no data", async () => {
    const { trainer } = await view();
    const own = screen.getByRole('radio', { name: /The run's own training dataset/ });
    expect(own).toBeChecked();
    expect(own.closest('label')).toHaveTextContent("The run's own training dataset (synthetic)");
    expect(screen.queryByTestId('eval-data-form')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).not.toHaveProperty('data');
  });

  test('another dataset in serve mode: a typed path with its layout and identity regex, and a pairs file', async () => {
    const { trainer } = await view();
    await fireEvent.click(screen.getByRole('radio', { name: /Another dataset/ }));
    expect(screen.getByRole('radio', { name: /Generated from that dataset/ }).closest('label')).toHaveTextContent('Generated from that dataset (seeded identity-disjoint folds)');
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Type the path of a folder or an archive on the trainer’s machine.');
    expect(trainer.commands('evaluateRun')).toHaveLength(0);

    await fireEvent.input(screen.getByRole('textbox', { name: "Dataset path (on the trainer's machine)" }), { target: { value: ' /data/lfw ' } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Layout' }), { target: { value: 'flat' } });
    await fireEvent.input(screen.getByRole('textbox', { name: 'Identity regex (flat folders)' }), { target: { value: '^(.+)_\\d+\\.' } });
    await fireEvent.click(screen.getByRole('radio', { name: /A pairs file/ }));
    await fireEvent.input(screen.getByRole('textbox', { name: "Pairs file path (on the trainer's machine)" }), { target: { value: '/data/lfw/pairs.txt' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).toEqual({
      name: 'evaluateRun',
      runId: RELU_ID,
      hardest: 8,
      pairs: { kind: 'typed', path: '/data/lfw/pairs.txt' },
      data: { kind: 'path', path: { kind: 'typed', path: '/data/lfw' }, layout: 'flat', identityRegex: '^(.+)_\\d+\\.' },
    });
  });

  test('a regex without a group is refused in the form before anything is sent', async () => {
    const { trainer } = await view();
    await fireEvent.click(screen.getByRole('radio', { name: /Another dataset/ }));
    await fireEvent.input(screen.getByRole('textbox', { name: "Dataset path (on the trainer's machine)" }), { target: { value: '/data/yale' } });
    await fireEvent.input(screen.getByRole('textbox', { name: 'Identity regex (flat folders)' }), { target: { value: 'subject' } });
    expect(screen.getByRole('textbox', { name: 'Identity regex (flat folders)' })).toHaveAttribute('aria-invalid', 'true');
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByText(/^The identity regex needs a group in parentheses/)).toBeInTheDocument();
    expect(trainer.commands('evaluateRun')).toHaveLength(0);
  });

  test("in the app a folder comes from the dataset dialog", async () => {
    const grant = 'ef'.repeat(16);
    const asked: string[] = [];
    (window as { lab?: unknown }).lab = {
      chooseDataset: async (kind: string) => {
        asked.push(kind);
        return { grant, label: 'lfw' };
      },
    };
    const { trainer } = await view();
    await fireEvent.click(screen.getByRole('radio', { name: /Another dataset/ }));
    expect(screen.queryByRole('textbox', { name: /Dataset path/ })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Choose a folder first.');
    await fireEvent.click(screen.getByRole('button', { name: 'Choose folder…' }));
    expect(await screen.findByText('lfw')).toBeInTheDocument();
    expect(asked).toEqual(['folder']);
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).toMatchObject({ data: { kind: 'path', path: { kind: 'grant', grant }, layout: 'auto' } });
  });

  test('an imported run says it needs a dataset: its own is not offered, and nothing is sent until one is given', async () => {
    const { trainer } = await view({}, IMPORTED_ID);
    const note = await screen.findByTestId('imported-note');
    expect(note).toHaveTextContent(`This run was imported from ${CHECKPOINT}: it has no training dataset of its own. Choose another dataset to evaluate it on (and a pairs file of its people).`);
    expect(screen.getByRole('radio', { name: /The run's own training dataset/ })).toBeDisabled();
    await waitFor(() => expect(screen.getByRole('radio', { name: /Another dataset/ })).toBeChecked());
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Type the path of a folder or an archive on the trainer’s machine.');
    expect(trainer.commands('evaluateRun')).toHaveLength(0);
    await fireEvent.input(screen.getByRole('textbox', { name: "Dataset path (on the trainer's machine)" }), { target: { value: '/data/lfw' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).toMatchObject({ runId: IMPORTED_ID, data: { kind: 'path', path: { kind: 'typed', path: '/data/lfw' } } });
  });

  test('choosing a trained run again offers its own dataset again', async () => {
    const { session } = await view({}, IMPORTED_ID);
    await screen.findByTestId('imported-note');
    session.chooseEvaluateRun(PRELU_ID);
    await waitFor(() => expect(screen.queryByTestId('imported-note')).toBeNull());
    expect(screen.getByRole('radio', { name: /The run's own training dataset/ })).toBeEnabled();
  });
});

describe('the Evaluate view: the evaluated dataset and the overlap in the results', () => {
  const withOverlap = (overlap: EvaluationView['overlap']): EvaluationView => ({
    ...evaluation(RELU_ID),
    data: { name: 'lfw', source: '/data/lfw', hash: '0123456789abcdef', identities: 5749, images: 13233 },
    ...(overlap ? { overlap } : {}),
  });

  test('an overlap is a warning naming the people and counting the images', async () => {
    await view({ evaluateRun: () => withOverlap({ checked: true, identities: 2, identityNames: ['Aaron_Eckhart', 'Zico'], images: 5 }) });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByTestId('eval-dataset')).toHaveTextContent('Dataset: lfw (/data/lfw; 5,749 identities, 13,233 images)');
    const overlap = screen.getByTestId('eval-overlap');
    expect(overlap).toHaveTextContent(
      'The pairs share 2 identities (Aaron_Eckhart, Zico) and 5 images with the run’s training data: this figure is not comparable with published ones, which are measured on people the model never saw.',
    );
    expect(overlap).toHaveClass('overlap-warning');
  });

  test('no overlap, and an overlap not checked, are said plainly', async () => {
    await view({ evaluateRun: () => withOverlap({ checked: true, identities: 0, identityNames: [], images: 0 }) });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    const overlap = await screen.findByTestId('eval-overlap');
    expect(overlap).toHaveTextContent('The pairs share no identity of the same name and no image with the run’s training data.');
    expect(overlap).not.toHaveClass('overlap-warning');
    expect(overlapText({ checked: false, identities: 0, identityNames: [], images: 0, note: 'overlap not checked: the lab does not know what the imported checkpoint was trained on' })).toBe(
      'Overlap with the run’s training data not checked: the lab does not know what the imported checkpoint was trained on.',
    );
    expect(overlapText({ checked: true, identities: 25, identityNames: Array.from({ length: 20 }, (_, i) => `p${i}`), images: 1 })).toMatch(/\(p0, .*, p19, and 5 more\) and 1 image /);
  });

  test('an evaluation saved before datasets were recorded shows neither', async () => {
    await view({ evaluateRun: ({ runId }) => evaluation(runId) });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await screen.findByTestId('eval-summary');
    expect(screen.queryByTestId('eval-dataset')).toBeNull();
    expect(screen.queryByTestId('eval-overlap')).toBeNull();
  });
});

describe('dataRequest', () => {
  test('a window that cannot name paths cannot evaluate on another dataset, and says why', () => {
    expect(dataRequest('other', emptyDataDraft('none'), 'none', null)).toEqual({ ok: false, reason: expect.stringMatching(/^This window cannot name a dataset/) });
  });
  test("an imported run cannot use its own dataset", () => {
    expect(dataRequest('own', emptyDataDraft('typed'), 'typed', '/m.pth')).toEqual({ ok: false, reason: expect.stringContaining('imported from /m.pth') });
  });
});
