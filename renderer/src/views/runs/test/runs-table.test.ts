// Issue 14, 3: the Runs table names each run's dataset (a synthetic run among ORL runs was
// unlabelled), and wraps long headers and cells instead of needing a sideways scroll (its fit
// at 1280x800 is checked in a real browser by the end-to-end scenario, step runs-fit).
import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, test } from 'vitest';
import { parseRunList, runDataset } from '../../../lib/run-records';
import RunsTable from '../RunsTable.svelte';
import { PRELU_ID, RELU_ID, runRecord } from './fixtures';

const ORL_RECORD = {
  ...runRecord(RELU_ID, 'relu', { state: 'stopped' }),
  config: { ...runRecord(RELU_ID, 'relu').config, data: '/home/ada/faces/orl_faces' },
  dataset: { name: 'orl_faces', source: '/home/ada/faces/orl_faces', hash: 'ff00', identities: 40, images: 400, synthetic: false },
};

function table(records: unknown[]) {
  const entries = parseRunList(records.map((record) => ({ ok: true, id: (record as { id: string }).id, record, interrupted: false })));
  render(RunsTable, { entries, selected: new Set<string>(), evaluations: new Map(), onToggle: () => {}, onOpen: () => {} });
  return screen.getByTestId('runs-table');
}

describe('the Runs table', () => {
  test('has a Dataset column naming each run\'s faces, a synthetic run marked as such, with the source and counts on hover', () => {
    const synthetic = { ...runRecord(PRELU_ID, 'prelu'), dataset: { name: 'faces', source: 'synthetic:20x10', hash: 'ab', identities: 20, images: 200, synthetic: true } };
    const element = table([ORL_RECORD, synthetic]);
    const headers = within(element).getAllByRole('columnheader').map((th) => th.textContent?.replace(/\s+/g, ' ').trim());
    const column = headers.indexOf('Dataset');
    expect(column).toBeGreaterThan(0);
    const cell = (id: string) => element.querySelectorAll(`tr[data-run="${id}"] td`)[column] as HTMLElement;
    expect(cell(RELU_ID)).toHaveTextContent(/^orl_faces$/);
    expect(cell(RELU_ID).title).toBe('/home/ada/faces/orl_faces; 40 identities, 400 images');
    expect(cell(PRELU_ID)).toHaveTextContent('faces (synthetic)');
    expect(cell(PRELU_ID).title).toMatch(/synthetic:20x10; 20 identities, 200 images; synthetic faces drawn by the lab/);
    // An unreadable run's message spans every column after its id.
    expect(headers).toHaveLength(14);
  });

  test('long headers and the evaluation wrap onto a second line instead of widening the table', () => {
    const element = table([ORL_RECORD]);
    const loss = within(element).getByRole('columnheader', { name: /^Loss/ });
    expect(loss.querySelector('.sub')).toHaveTextContent('(last epoch)');
    expect(loss).toHaveTextContent('Loss (last epoch)');
  });

  test('an older record without a dataset falls back to its config\'s data', () => {
    const { dataset: _dropped, ...old } = ORL_RECORD;
    const parsed = parseRunList([{ ok: true, id: RELU_ID, record: old }])[0]!;
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(runDataset(parsed.record)).toEqual({ name: 'orl_faces', synthetic: false, detail: '/home/ada/faces/orl_faces' });
    const synth = parseRunList([{ ok: true, id: PRELU_ID, record: { ...runRecord(PRELU_ID, 'prelu'), dataset: undefined } }])[0]!;
    if (!synth.ok) throw new Error(synth.reason);
    expect(runDataset(synth.record)).toMatchObject({ name: 'synthetic:20x10', synthetic: true });
  });
});
