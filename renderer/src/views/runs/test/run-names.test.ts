// Issue 14, 4: a run's display name is what the charts' legends and the compare view call
// it, and the Evaluate view's run chooser shows it, the id kept beside it, so runs never read alike.
import { render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { parseRunRecord, runLabel } from '../../../lib/run-records';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import EvaluateView from '../../evaluate/EvaluateView.svelte';
import { shortRunLabel } from '../run-charts';
import { listEntries, PRELU_ID, RELU_ID, runRecord } from './fixtures';

function record(displayName?: string) {
  const parsed = parseRunRecord({ ...runRecord(RELU_ID, 'relu'), ...(displayName === undefined ? {} : { displayName }) });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
}

describe('run names', () => {
  it('a named run is called by its name, its id kept in the full label', () => {
    expect(shortRunLabel(RELU_ID, record('ReLU baseline'))).toBe('ReLU baseline');
    expect(runLabel(RELU_ID, record('ReLU baseline'))).toBe(`ReLU baseline (${RELU_ID}) · relu`);
  });

  it('a long name is cut in a legend; an unnamed run keeps activation and id tail', () => {
    expect(shortRunLabel(RELU_ID, record('x'.repeat(60)))).toBe(`${'x'.repeat(27)}…`);
    expect(shortRunLabel(RELU_ID, record())).toBe('relu · a1b2');
    expect(runLabel(RELU_ID, record())).toBe(`${RELU_ID} · relu`);
  });
});

describe('the Evaluate view\'s run chooser', () => {
  it('shows a named run\'s name before its id', async () => {
    const entries = listEntries();
    (entries[1] as { record: Record<string, unknown> }).record['displayName'] = 'ReLU baseline';
    const { session } = await scriptedSession({ listRuns: () => entries, getEvaluation: () => null });
    render(EvaluateView, { session });
    const select = await screen.findByRole('combobox', { name: 'Run' });
    await waitFor(() => expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([`${PRELU_ID} (finished)`, `ReLU baseline — ${RELU_ID} (stopped)`]));
  });
});
