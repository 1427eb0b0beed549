// Issue 14, 5.5: resuming a run whose metrics.jsonl was cut in the middle or holds a
// garbage line warns, and records the steps whose rows are lost in run.json (gaps).
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { openRun } from '../../runs/run-store';
import type { TrainConfigInput } from '../config';
import { TrainingSession, type TrainEvent } from '../session';

const SMALL: TrainConfigInput = {
  data: 'synthetic:6x8',
  model: 'tiny',
  inputSize: 16,
  batch: 4,
  epochs: 50,
  optimizer: 'adam',
  lr: 0.001,
  seed: 7,
  warmupSteps: 0,
  clipNorm: 0,
};

async function run(session: TrainingSession): Promise<void> {
  try {
    await session.train();
  } finally {
    session.dispose();
  }
}

const warnings = (events: TrainEvent[]): string[] => events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));

describe('resuming over a damaged metrics.jsonl', () => {
  test('a cut and a garbage line are warned about and recorded as gaps; a later resume keeps them without warning again', async () => {
    const dataDir = await tempDir();
    const first = await TrainingSession.start({ ...SMALL, maxSteps: 8, checkpointEvery: 4 }, { dataDir, backend: 'cpu', prefetch: 0 });
    const runId = first.run.id;
    await run(first);
    const handle = await openRun(dataDir, runId);
    expect(handle.record.lastCheckpoint?.step).toBe(8);

    // Steps 3-5 cut out of the middle; step 7's line overwritten with garbage.
    const lines = (await readFile(handle.metricsFile, 'utf8')).split('\n').filter((l) => l !== '');
    const stepOf = (line: string): { kind?: string; step: number } => JSON.parse(line) as { kind?: string; step: number };
    const damaged = lines
      .filter((line) => !(stepOf(line).step >= 3 && stepOf(line).step <= 5))
      .map((line) => (stepOf(line).kind === 'step' && stepOf(line).step === 7 ? 'Zm9vYmFy garbage \u0000' : line));
    await writeFile(handle.metricsFile, `${damaged.join('\n')}\n`);

    const events: TrainEvent[] = [];
    const resumed = await TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 10 }, onEvent: (e) => events.push(e) });
    await run(resumed);
    const said = warnings(events);
    expect(said).toContainEqual(expect.stringMatching(/^line \d+ of metrics\.jsonl is not valid JSON; it was removed when metrics\.jsonl was rewritten for the resume$/));
    expect(said).toContainEqual(expect.stringMatching(/^metrics\.jsonl has no rows for steps 3-5: their rows are missing from metrics\.jsonl \(the file was cut or rows were lost\)\. Training goes on from the checkpoint at step 8; the curves of this run have a gap there, recorded in run\.json \(gaps\)$/));
    expect(said).toContainEqual(expect.stringMatching(/^metrics\.jsonl has no rows for step 7: line \d+ of metrics\.jsonl was unreadable where that step's row should be\./));
    const after = await openRun(dataDir, runId);
    expect(after.record.gaps).toEqual([
      { from: 3, to: 5, reason: expect.stringMatching(/cut/) },
      { from: 7, to: 7, reason: expect.stringMatching(/unreadable/) },
    ]);
    const { rows } = await after.readMetrics();
    expect(rows.filter((r) => r['kind'] === 'step').map((r) => r.step)).toEqual([1, 2, 6, 8, 9, 10]);

    // Once recorded, the same gaps are not announced on every resume; they stay in run.json.
    const again: TrainEvent[] = [];
    const third = await TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 11 }, onEvent: (e) => again.push(e) });
    await run(third);
    expect(warnings(again).filter((w) => w.includes('metrics.jsonl'))).toEqual([]);
    expect((await openRun(dataDir, runId)).record.gaps).toHaveLength(2);
  }, 60_000);
});
