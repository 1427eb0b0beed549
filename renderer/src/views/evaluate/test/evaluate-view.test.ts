import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { EvaluationView } from '#protocol/workbench';
import EvaluateView from '../EvaluateView.svelte';
import { scriptedSession, type Handlers } from '../../../test-support/scripted-trainer';
import { evaluation, listEntries, PRELU_ID, RELU_ID } from '../../runs/test/fixtures';

async function view(extra: Handlers = {}, evaluateRunId: string | null = null) {
  const { trainer, session } = await scriptedSession({
    listRuns: () => listEntries(),
    getEvaluation: ({ runId }) => (runId === RELU_ID ? evaluation(RELU_ID) : null),
    ...extra,
  });
  session.chooseEvaluateRun(evaluateRunId);
  render(EvaluateView, { session });
  return { trainer, session };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

describe('the Evaluate view', () => {
  test('preloads the last saved evaluation of the run chosen in Runs', async () => {
    const { trainer } = await view({}, RELU_ID);
    const summary = await screen.findByTestId('eval-summary');
    expect(trainer.commands('getEvaluation')).toEqual([{ name: 'getEvaluation', runId: RELU_ID }]);
    expect(summary).toHaveTextContent('(last saved evaluation)');
    expect(summary).toHaveTextContent('86.33% ± 1.42%');
    expect(summary).toHaveTextContent('over 10 folds');
    // 300 mismatched pairs: FAR 1% allows 3 false accepts (shown, but rough); FAR 0.1% not even one (not shown).
    const tar1 = within(summary).getByText('TAR @ FAR 1%').nextElementSibling;
    expect(tar1).toHaveTextContent('41.00% rough');
    expect(tar1).toHaveAttribute('title', expect.stringContaining('only 3 false accepts'));
    const tar01 = within(summary).getByText('TAR @ FAR 0.1%').nextElementSibling;
    expect(tar01).toHaveTextContent(/^— \(needs at least 1,000 mismatched pairs/);
    expect(tar01).not.toHaveTextContent('18.00%');
    expect(tar01).toHaveAttribute('title', expect.stringContaining('needs at least 1,000 mismatched pairs'));
    expect(within(summary).getByTestId('tar-note')).toHaveTextContent('TAR @ FAR 0.1%: — because 300 mismatched pairs cannot resolve it');
    expect(within(summary).getByText('EER').nextElementSibling).toHaveTextContent('14.20%');
    expect(within(summary).getByText('AUC').nextElementSibling).toHaveTextContent('0.9210');
    expect(within(summary).getByText('Rank-1 identification').nextElementSibling).toHaveTextContent('71.00% (142/200)');
    expect(await screen.findByRole('combobox', { name: 'Run' })).toHaveValue(RELU_ID);
    expect(screen.getByText('The pairs were generated from the held-out identities only.')).toBeInTheDocument();
  });

  test('with enough mismatched pairs every TAR @ FAR is shown as it is', async () => {
    await view({ getEvaluation: ({ runId }) => ({ ...evaluation(runId), pairs: 22_000, matchedPairs: 2000, mismatchedPairs: 20_000 }) }, RELU_ID);
    const summary = await screen.findByTestId('eval-summary');
    expect(within(summary).getByText('TAR @ FAR 1%').nextElementSibling).toHaveTextContent(/^41\.00%$/);
    expect(within(summary).getByText('TAR @ FAR 0.1%').nextElementSibling).toHaveTextContent(/^18\.00%$/);
    expect(within(summary).queryByTestId('tar-note')).toBeNull();
  });

  test("says the generated pairs measure fit: identity-disjoint folds of people seen in training", async () => {
    await view({}, RELU_ID);
    const generated = screen.getByRole('radio', { name: /Generated from the run's dataset/ });
    expect(generated.closest('label')).toHaveTextContent("Generated from the run's dataset (seeded identity-disjoint folds; these people were seen in training)");
    expect(generated.closest('label')).not.toHaveTextContent('held-out identities');
  });

  test('a run list that arrives after the view has gone is dropped without touching its deriveds', async () => {
    const list = deferred<unknown>();
    const warn = vi.spyOn(console, 'warn');
    try {
      const { trainer, session } = await scriptedSession({ listRuns: () => list.promise as never, getEvaluation: () => null });
      const rendered = render(EvaluateView, { session });
      await waitFor(() => expect(trainer.commands('listRuns')).toHaveLength(1));
      rendered.unmount(); // the user switched tabs before the trainer answered
      list.resolve(listEntries());
      await new Promise((r) => setTimeout(r, 20));
      expect(warn.mock.calls.map((c) => String(c[0]))).not.toContainEqual(expect.stringContaining('derived_inert'));
      expect(session.evaluateRunId).toBeNull();
    } finally {
      warn.mockRestore();
    }
  });

  test('without a chosen run it picks the newest, and says when a run has no evaluation', async () => {
    const { session } = await view();
    await waitFor(() => expect(session.evaluateRunId).toBe(PRELU_ID));
    expect(await screen.findByText('This run has not been evaluated yet: press Evaluate.')).toBeInTheDocument();
    expect(screen.queryByTestId('eval-summary')).toBeNull();
    const select = screen.getByRole('combobox', { name: 'Run' });
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([`${PRELU_ID} (finished)`, `${RELU_ID} (stopped)`]);
    await fireEvent.change(select, { target: { value: RELU_ID } });
    expect(session.evaluateRunId).toBe(RELU_ID);
    expect(await screen.findByTestId('eval-summary')).toHaveTextContent('86.33%');
  });

  test('evaluates with generated pairs: progress from the events, then the results with the hardest pairs', async () => {
    const answer = deferred<EvaluationView>();
    const { trainer } = await view({ getEvaluation: () => null, evaluateRun: () => answer.promise }, PRELU_ID);
    await screen.findByText('This run has not been evaluated yet: press Evaluate.');
    expect(screen.getByRole('radio', { name: /Generated from the run's dataset/ })).toBeChecked();
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).toEqual({ name: 'evaluateRun', runId: PRELU_ID, hardest: 8 });
    expect(screen.getByRole('button', { name: 'Evaluate' })).toBeDisabled();
    // Before the first progress event: an indeterminate bar.
    expect(screen.getByRole('progressbar')).not.toHaveAttribute('value');

    trainer.event({ type: 'evaluateProgress', requestId: 3, runId: PRELU_ID, phase: 'embedding', done: 120, total: 400 });
    trainer.event({ type: 'evaluateProgress', requestId: 9, runId: 'some-other-run', phase: 'scoring', done: 1, total: 2 });
    await waitFor(() => expect(screen.getByRole('progressbar')).toHaveAttribute('value', '120'));
    expect(screen.getByRole('progressbar')).toHaveAttribute('max', '400');
    expect(screen.getByRole('status')).toHaveTextContent('Embedding the faces (120 of 400)');

    answer.resolve(evaluation(PRELU_ID));
    const summary = await screen.findByTestId('eval-summary');
    expect(screen.queryByRole('progressbar')).toBeNull();
    expect(summary).not.toHaveTextContent('last saved');
    expect(summary).toHaveTextContent('86.33% ± 1.42%');
    expect(screen.getByTestId('chart-roc')).toHaveAttribute('data-points', '8');
    expect(screen.getByTestId('chart-histogram')).toHaveAttribute('data-points', '6');
    expect(within(screen.getByTestId('chart-histogram')).getByRole('img')).toHaveAccessibleName(/matched \(same person, 300 pairs\).*mismatched \(different people, 300 pairs\)/);

    const hardest = screen.getByTestId('hardest-pairs');
    const falseMatches = within(hardest).getByRole('region', { name: 'Hardest false matches' });
    expect(within(falseMatches).getAllByRole('img').map((img) => img.getAttribute('alt'))).toEqual([
      'id-0003, image 12',
      'id-0017, image 170',
      'id-0005, image 51',
      'id-0009, image 93',
    ]);
    expect(falseMatches).toHaveTextContent('id-0003 vs id-0017');
    expect(falseMatches).toHaveTextContent('score 0.910');
    const falseNonMatches = within(hardest).getByRole('region', { name: 'Hardest false non-matches' });
    expect(within(falseNonMatches).getAllByRole('img')).toHaveLength(2);
    expect(within(falseNonMatches).getAllByRole('img')[0]).toHaveAttribute('src', expect.stringMatching(/^data:image\/png;base64,/));
    expect(falseNonMatches).toHaveTextContent('id-0011, both');
    expect(falseNonMatches).toHaveTextContent('score 0.050');
  });

  test('the ROC curve can use a log FAR axis (FAR 0 left out)', async () => {
    await view({}, RELU_ID);
    const roc = await screen.findByTestId('chart-roc');
    await fireEvent.click(screen.getByRole('checkbox', { name: 'Log FAR axis' }));
    await waitFor(() => expect(roc).toHaveAttribute('data-points', '7'));
  });

  test('a pairs file is sent as a typed path in serve mode', async () => {
    const { trainer } = await view({ evaluateRun: ({ runId }) => evaluation(runId) }, RELU_ID);
    await screen.findByTestId('eval-summary');
    await fireEvent.click(screen.getByRole('radio', { name: /A pairs file/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Type the path of a pairs file first.');
    expect(trainer.commands('evaluateRun')).toHaveLength(0);
    await fireEvent.input(screen.getByRole('textbox', { name: "Pairs file path (on the trainer's machine)" }), { target: { value: '/data/lfw/pairs.txt' } });
    await fireEvent.input(screen.getByRole('spinbutton', { name: 'Hardest pairs to show' }), { target: { value: '4' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).toEqual({ name: 'evaluateRun', runId: RELU_ID, hardest: 4, pairs: { kind: 'typed', path: '/data/lfw/pairs.txt' } });
  });

  test('a pairs file comes from the native dialog in the app', async () => {
    const grant = 'cd'.repeat(16);
    (window as { lab?: unknown }).lab = { choosePairsFile: async () => ({ grant, label: 'pairs.txt' }) };
    const { trainer } = await view({ evaluateRun: ({ runId }) => evaluation(runId) }, RELU_ID);
    await screen.findByTestId('eval-summary');
    await fireEvent.click(screen.getByRole('radio', { name: /A pairs file/ }));
    expect(screen.queryByRole('textbox')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Choose pairs file…' }));
    expect(await screen.findByText('pairs.txt')).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
    expect(trainer.commands('evaluateRun')[0]).toMatchObject({ pairs: { kind: 'grant', grant } });
  });

  test('a failed evaluation is shown in the view', async () => {
    await view(
      {
        evaluateRun: () => {
          throw Object.assign(new Error('the run has no checkpoint to evaluate'), { code: 'not-found' });
        },
      },
      RELU_ID,
    );
    await screen.findByTestId('eval-summary');
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The evaluation failed: the run has no checkpoint to evaluate');
    expect(screen.getByRole('button', { name: 'Evaluate' })).toBeEnabled();
  });

  test('issue 14, 4: the evaluation says about how long is left after a few updates', async () => {
    let now = 5_000_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const answer = deferred<EvaluationView>();
      const { trainer } = await view({ getEvaluation: () => null, evaluateRun: () => answer.promise }, PRELU_ID);
      await screen.findByText('This run has not been evaluated yet: press Evaluate.');
      await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
      await waitFor(() => expect(trainer.commands('evaluateRun')).toHaveLength(1));
      for (const done of [0, 10, 20]) {
        trainer.event({ type: 'evaluateProgress', requestId: 3, runId: PRELU_ID, phase: 'embedding', done, total: 400 });
        await waitFor(() => expect(screen.getByRole('progressbar')).toHaveAttribute('value', String(done)));
        expect(screen.queryByTestId('eval-time-left')).not.toBeInTheDocument();
        now += 30_000;
      }
      // 30 faces in 90 s: 370 left at 3 s each ≈ 19 min.
      trainer.event({ type: 'evaluateProgress', requestId: 3, runId: PRELU_ID, phase: 'embedding', done: 30, total: 400 });
      await waitFor(() => expect(screen.getByTestId('eval-time-left')).toHaveTextContent('about 19 min left'));
    } finally {
      clock.mockRestore();
    }
  });
});
