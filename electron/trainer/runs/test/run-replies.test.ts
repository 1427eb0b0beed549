// The getRun and listRuns replies as the trainer builds them from the run store (server/lab-host.ts)
// are what protocol/messages.ts CommandResult says they are: checked by the compiler (the
// assignments below) and at run time with the protocol's schemas.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResult } from '#protocol/messages';
import { epochRowSchema, layersRowSchema, stepRowSchema } from '#protocol/metrics-rows';
import { runRecordSchema } from '#protocol/run-record';
import { createRun, listRuns, openRun } from '../run-store';

let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  scratch = await mkdtemp(join(tmpdir(), 'fcl-run-replies-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('the run replies', () => {
  it('carry the run store records and metrics rows as the protocol types them', async () => {
    const created = await createRun(scratch, {
      config: { model: 'tiny', activation: 'relu', lr: 0.1 },
      dataset: { name: 'synthetic', source: 'synthetic:20x10', hash: 'ab12', identities: 20, images: 200, synthetic: true },
      backend: 'cpu',
      versions: { lab: '0.1.0' },
      state: 'stopped',
    });
    const step = { kind: 'step', step: 1, epoch: 0, loss: NaN, accuracy: 0.1, lr: 0.1, gradNorm: 1, imagesPerSecond: 100, stepMs: 10 } as const;
    const epoch = { kind: 'epoch', step: 1, epoch: 0, trainLoss: 2.9, trainAccuracy: 0.1, valLoss: 3, valAccuracy: 0.05 } as const;
    await created.appendMetrics([step, epoch, { kind: 'layers', step: 1, epoch: 0, window: 50, layers: [] }]);

    const run = await openRun(scratch, created.id);
    const { rows, warnings } = await run.readMetrics();
    const detail: CommandResult['getRun'] = { record: run.record, metrics: rows, warnings };
    expect(runRecordSchema.parse(JSON.parse(JSON.stringify(detail.record)))).toEqual(detail.record);
    expect(stepRowSchema.parse(detail.metrics[0])).toMatchObject({ step: 1, loss: null });
    expect(epochRowSchema.parse(detail.metrics[1])).toMatchObject({ valAccuracy: 0.05 });
    expect(layersRowSchema.parse(detail.metrics[2])).toMatchObject({ window: 50 });

    const list: CommandResult['listRuns'] = (await listRuns(scratch)).map((info) =>
      info.ok ? { ok: true, id: info.id, record: info.record, interrupted: info.interrupted } : { ok: false, id: info.id, reason: info.reason },
    );
    expect(list).toEqual([{ ok: true, id: created.id, record: run.record, interrupted: false }]);
  });
});
