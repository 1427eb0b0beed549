// Follow-up of issue 14, 5.5: Run detail says which steps have no metrics (run.json's `gaps`,
// recorded when a resume found a cut or damaged metrics.jsonl).
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, expect, test } from 'vitest';
import { gapsNote, parseRunRecord } from '../../../lib/run-records';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import RunsView from '../RunsView.svelte';
import { getRunReply, listEntries, RELU_ID } from './fixtures';

const GAPS = [
  { from: 21, to: 50, reason: 'metrics.jsonl ends before them (cut short)' },
  { from: 63, to: 63, reason: 'its line in metrics.jsonl was damaged' },
];

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

test('Run detail shows the recorded gaps as a note', async () => {
  const { session } = await scriptedSession({
    listRuns: () => listEntries(),
    getRun: ({ runId }) => {
      const reply = getRunReply(runId);
      return runId === RELU_ID ? { ...reply, record: { ...reply.record, gaps: GAPS } } : reply;
    },
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
  });
  render(RunsView, { session });
  await fireEvent.click(await screen.findByRole('button', { name: `Open ${RELU_ID}` }));
  const note = await screen.findByTestId('run-gaps');
  expect(note).toHaveTextContent(
    'No metrics were recorded for steps 21-50 (metrics.jsonl ends before them (cut short)); step 63 (its line in metrics.jsonl was damaged): the curves have gaps there.',
  );
});

test('no gaps, or a malformed gaps field, says nothing', () => {
  const base = getRunReply(RELU_ID).record;
  const parsed = (gaps: unknown) => {
    const result = parseRunRecord({ ...base, gaps });
    if (!result.ok) throw new Error(result.reason);
    return result.record;
  };
  expect(gapsNote(parsed(undefined))).toBeNull();
  expect(gapsNote(parsed([]))).toBeNull();
  expect(gapsNote(parsed('nonsense'))).toBeNull();
  expect(gapsNote(parsed([GAPS[0]]))).toBe('No metrics were recorded for steps 21-50 (metrics.jsonl ends before them (cut short)): the curves have a gap there.');
});
