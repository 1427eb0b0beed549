import { describe, expect, it } from 'vitest';
import { runStateSchema as messagesRunState } from '../messages';
import {
  epochSummaryReader,
  resumeCheckSchema,
  RUN_STATES,
  runRecordReader,
  runRecordSchema,
  runStateSchema,
  stopSummaryReader,
  type RunRecord,
} from '../run-record';

/** A run.json as the run store writes it (electron/trainer/runs/run-store.ts createRun, then updates). */
function record(): RunRecord {
  return {
    format: 1,
    id: '2026-11-26T08-50-12_tiny_relu_a1b2',
    createdAt: '2026-11-26T08:50:12.000Z',
    updatedAt: '2026-11-26T09:02:40.000Z',
    config: { data: 'synthetic:20x10', model: 'tiny', activation: 'relu', lr: 0.1 },
    dataset: { name: 'synthetic', source: 'synthetic:20x10', hash: 'ab12cd34', identities: 20, images: 200, synthetic: true },
    backend: 'cpu',
    versions: { lab: '0.1.0', node: '20.11.0', tfjs: '4.22.0' },
    state: 'stopped',
    lastCheckpoint: { file: 'checkpoints/step-000040.ckpt', step: 40 },
    summary: { backend: 'training on cpu', lastEpoch: { step: 40, epoch: 1, trainLoss: 2.31, trainAccuracy: 0.42, valLoss: null, valAccuracy: null } },
    gaps: [{ from: 21, to: 25, reason: 'their rows are missing from metrics.jsonl (the file was cut or rows were lost)' }],
    displayName: 'ReLU baseline',
    notes: 'first try',
  };
}

/** The first issue's path and message, as the run store reports a damaged run.json. */
function refusal(raw: unknown): string {
  const parsed = runRecordSchema.safeParse(raw);
  if (parsed.success) throw new Error('expected a refusal');
  const issue = parsed.error.issues[0];
  return `${issue?.path.join('.')}: ${issue?.message}`;
}

describe('the run record (run.json)', () => {
  it('accepts a record as the run store writes it, through JSON', () => {
    const written = JSON.parse(JSON.stringify(record())) as unknown;
    expect(runRecordSchema.parse(written)).toEqual(record());
  });

  it('refuses a bad record naming the field', () => {
    expect(refusal({ ...record(), state: 'sleeping' })).toMatch(/^state: /);
    expect(refusal({ ...record(), dataset: { ...record().dataset, identities: -1 } })).toMatch(/^dataset\.identities: /);
    expect(refusal({ ...record(), createdAt: 'yesterday' })).toMatch(/^createdAt: /);
    expect(refusal({ ...record(), format: 2 })).toMatch(/^format: /);
    expect(refusal({ ...record(), gaps: [{ from: 0, to: 3, reason: 'x' }] })).toMatch(/^gaps\.0\.from: /);
    const { config: _config, ...noConfig } = record();
    expect(refusal(noConfig)).toMatch(/^config: /);
  });

  it('reads the records of labs before names, notes and gaps', () => {
    const { gaps: _gaps, displayName: _name, notes: _notes, summary: _summary, lastCheckpoint: _checkpoint, ...old } = record();
    expect(runRecordSchema.parse(old)).toEqual(old);
  });

  it('has one list of run states, the one the messages use', () => {
    expect(RUN_STATES).toEqual(['running', 'paused', 'stopped', 'finished', 'failed']);
    expect(messagesRunState).toBe(runStateSchema);
  });
});

describe('the lenient record reader (viewers)', () => {
  it('reads what the run store writes unchanged', () => {
    expect(runRecordReader.parse(record())).toEqual(record());
  });

  it("reads an older lab's record (no format, dataset, versions or updatedAt) and a newer lab's state and fields", () => {
    const older = { id: 'old-run', createdAt: '2025-01-01T00:00:00.000Z', state: 'finished', config: { data: '/faces/orl' } };
    expect(runRecordReader.parse(older)).toEqual(older);
    const newer = runRecordReader.parse({ ...record(), state: 'queued', futureField: { x: 1 } });
    expect(newer).toMatchObject({ state: 'queued', futureField: { x: 1 } });
  });

  it('turns a field of the wrong type into undefined, field by field, and needs only the id, creation time, state and config', () => {
    const odd = runRecordReader.parse({ ...record(), backend: 42, dataset: { name: 'orl', identities: 'many' }, failure: 'yes' });
    expect(odd.backend).toBeUndefined();
    expect(odd.failure).toBeUndefined();
    expect(odd.dataset).toEqual({ name: 'orl', identities: undefined });
    expect(runRecordReader.parse({ ...record(), dataset: 'odd' }).dataset).toBeUndefined();
    for (const field of ['id', 'createdAt', 'state', 'config'] as const) {
      const { [field]: _gone, ...rest } = record();
      const parsed = runRecordReader.safeParse(rest);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual([field]);
    }
  });

  it('reads the summary: the last epoch and a stop at the step limit, numbers that are not numbers as null', () => {
    expect(epochSummaryReader.parse({ step: 40, epoch: 1, trainLoss: 2.3, trainAccuracy: 'x', valLoss: null })).toEqual({ step: 40, epoch: 1, trainLoss: 2.3, trainAccuracy: null, valLoss: null, valAccuracy: null });
    expect(epochSummaryReader.safeParse('broken').success).toBe(false);
    expect(stopSummaryReader.parse({ step: 55, valLoss: 2.1 })).toEqual({ step: 55, valLoss: 2.1, valAccuracy: null });
  });
});

describe("getRun's resume check", () => {
  it('accepts each kind and refuses an unknown one', () => {
    expect(resumeCheckSchema.parse({ kind: 'start' })).toEqual({ kind: 'start' });
    expect(resumeCheckSchema.parse({ kind: 'checkpoint', step: 30, damaged: [{ step: 40, reason: 'checksum mismatch' }] })).toMatchObject({ step: 30 });
    expect(resumeCheckSchema.parse({ kind: 'none', damaged: [] })).toEqual({ kind: 'none', damaged: [] });
    expect(resumeCheckSchema.safeParse({ kind: 'later' }).success).toBe(false);
  });
});
