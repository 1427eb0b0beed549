// Follow-up of issue 14, 5.8 (a): Run detail offers Resume only when the trainer found a
// checkpoint to resume from (getRun's `resume`), not on run.json's word alone.
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, expect, test } from 'vitest';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import RunsView from '../RunsView.svelte';
import { getRunReply, listEntries, RELU_ID } from './fixtures';

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

async function detail(resume: unknown) {
  const { session, trainer } = await scriptedSession({
    listRuns: () => listEntries(),
    getRun: ({ runId }) => ({ ...getRunReply(runId), ...(resume === undefined ? {} : { resume }) }),
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
    resumeRun: () => ({ runId: RELU_ID }),
  });
  render(RunsView, { session });
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${RELU_ID}` }));
  await screen.findByTestId('run-detail');
  return { trainer, resume: await screen.findByRole('button', { name: 'Resume' }) };
}

test('a stopped run whose checkpoints are all damaged cannot be resumed, and says why', async () => {
  const { resume } = await detail({
    kind: 'none',
    damaged: [
      { step: 40, reason: 'The checkpoint is damaged (checksum mismatch)' },
      { step: 20, reason: 'The checkpoint is damaged (truncated: 12 of 900 bytes)' },
    ],
  });
  expect(resume).toBeDisabled();
  expect(screen.getByText(/cannot resume:/)).toHaveTextContent('(cannot resume: every checkpoint is damaged (step 40: damaged (checksum mismatch); step 20: damaged (truncated: 12 of 900 bytes)))');
});

test('a damaged newest checkpoint: Resume says the step it starts from', async () => {
  const { resume } = await detail({ kind: 'checkpoint', step: 20, damaged: [{ step: 40, reason: 'The checkpoint is damaged (checksum mismatch)' }] });
  expect(resume).toBeEnabled();
  expect(screen.getByTestId('resume-from')).toHaveTextContent('(from step 20: newer checkpoints are damaged: step 40: damaged (checksum mismatch))');
});

test('an older trainer (no resume field) or a malformed one: run.json decides, as before', async () => {
  expect((await detail(undefined)).resume).toBeEnabled();
});

test('a malformed resume field is ignored', async () => {
  expect((await detail({ kind: 'none', damaged: 'all of them' })).resume).toBeEnabled();
});
