// Issue 14, 4: a run's display name is what the charts' legends and the compare view call
// it, with its id kept in the full label (the tooltip), so two runs never read alike.
import { describe, expect, it } from 'vitest';
import { parseRunRecord, runLabel } from '../../../lib/run-records';
import { shortRunLabel } from '../run-charts';
import { RELU_ID, runRecord } from './fixtures';

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
