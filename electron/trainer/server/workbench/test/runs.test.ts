// The Runs and Evaluate views' commands on a real trained run, through a LabHost over a
// MessagePort as the desktop app talks to it: evaluateRun (with its progress events),
// getEvaluation, exportRun, listSnapshots and loadSnapshot.
import * as tf from '@tensorflow/tfjs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import sharp from 'sharp';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../../datasets/test/fixtures';
import type { LabClient } from '#protocol/client/lab-client';
import { connectInElectron } from '#protocol/client/connect';
import { evaluateRun, formatEvaluation } from '../../../evaluation/evaluate-run';
import { OLD_EVALUATION_NOTE } from '../../../evaluation/evaluation-view';
import { decodeFrame } from '#protocol/frames';
import type { TrainerEvent } from '#protocol/messages';
import type { EvaluationView } from '#protocol/workbench';
import { TrainingSession } from '../../../training/session';
import { portConnection } from '../../connection';
import { LabHost } from '../../lab-host';

type Listener = (event: { source: unknown; data: unknown; ports: readonly unknown[] }) => void;

/** The page's window as connectInElectron uses it; `lab.connectTrainer` does what main and the preload do. */
function appWindow(host: LabHost, pathInput: 'dialog' | 'typed') {
  const listeners = new Set<Listener>();
  const win = {
    addEventListener: (_type: 'message', l: Listener) => listeners.add(l),
    removeEventListener: (_type: 'message', l: Listener) => listeners.delete(l),
    lab: {
      connectTrainer: () => {
        const { port1, port2 } = new MessageChannel();
        host.addConnection(portConnection(port1 as never, `runs-test-${pathInput}`), { pathInput });
        setTimeout(() => listeners.forEach((l) => l({ source: win, data: { type: 'lab:port' }, ports: [port2] })));
      },
    },
  };
  return win;
}

let dataDir = '';
let runId = '';
let host: LabHost;
let client: LabClient;
const events: TrainerEvent[] = [];

beforeAll(async () => {
  dataDir = await tempDir();
  // 6 people x 8 faces, 2 epochs of 4 steps: checkpoints and snapshots at steps 4 and 8.
  const session = await TrainingSession.start(
    { data: 'synthetic:6x8', model: 'tiny', inputSize: 32, batch: 8, epochs: 2, optimizer: 'adam', lr: 0.003, seed: 11, activation: 'prelu' },
    { dataDir, backend: 'cpu', prefetch: 0 },
  );
  try {
    runId = session.run.id;
    await session.train();
  } finally {
    session.dispose();
  }
  host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
  client = await connectInElectron(appWindow(host, 'typed') as never);
  client.on('event', (e) => events.push(e));
}, 60_000);

afterAll(() => client?.close());

async function pngSize(url: string) {
  expect(url).toMatch(/^data:image\/png;base64,/);
  const meta = await sharp(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64')).metadata();
  return { width: meta.width, height: meta.height, channels: meta.channels, format: meta.format };
}

describe('evaluation', () => {
  let view: EvaluationView;

  test('a run never evaluated has no evaluation', async () => {
    await expect(client.request({ name: 'getEvaluation', runId })).resolves.toBeNull();
  });

  test('evaluateRun: the numbers, the curve, the histogram, the hardest pairs with faces, and progress events', async () => {
    events.length = 0;
    view = await client.request({ name: 'evaluateRun', runId, hardest: 3 });
    expect(view).toMatchObject({ runId, step: 8, pairsSource: 'generated', folds: 3 });
    expect(view.pairs).toBe(view.matchedPairs + view.mismatchedPairs);
    expect(view.accuracy).toBeGreaterThanOrEqual(0);
    expect(view.accuracy).toBeLessThanOrEqual(1);
    expect(view.auc).toBeGreaterThan(0);
    expect(view.tarAtFar.map((t) => t.far)).toEqual([0.01, 0.001]);
    expect(view.rank1.probes).toBeGreaterThan(0);
    // The ROC: far ascending from (0, 0) to (1, 1), at most 400 points.
    const { far, tar } = view.roc;
    expect(far.length).toBe(tar.length);
    expect(far.length).toBeLessThanOrEqual(400);
    expect([far[0], tar[0], far.at(-1), tar.at(-1)]).toEqual([0, 0, 1, 1]);
    for (let i = 1; i < far.length; i++) expect(far[i]!).toBeGreaterThanOrEqual(far[i - 1]!);
    // The histogram: 40 bins over the scores' own range (issue 14, 2.2) holding every pair.
    expect(view.histogram.edges).toHaveLength(41);
    const scores = [...view.hardestFalseMatches, ...view.hardestFalseNonMatches].map((pair) => pair.score);
    expect(view.histogram.edges[0]).toBeGreaterThanOrEqual(-1);
    expect(view.histogram.edges.at(-1)).toBeLessThanOrEqual(1);
    for (const score of scores) expect(score).toBeGreaterThanOrEqual(view.histogram.edges[0]!);
    for (const score of scores) expect(score).toBeLessThanOrEqual(view.histogram.edges.at(-1)!);
    expect(view.histogram.matched.reduce((a, b) => a + b, 0)).toBe(view.matchedPairs);
    expect(view.histogram.mismatched.reduce((a, b) => a + b, 0)).toBe(view.mismatchedPairs);
    // The hardest pairs: mismatched with the highest scores, matched with the lowest.
    expect(view.hardestFalseMatches).toHaveLength(3);
    expect(view.hardestFalseNonMatches).toHaveLength(3);
    const fm = view.hardestFalseMatches.map((p) => p.score);
    const fnm = view.hardestFalseNonMatches.map((p) => p.score);
    expect(fm).toEqual([...fm].sort((a, b) => b - a));
    expect(fnm).toEqual([...fnm].sort((a, b) => a - b));
    for (const p of view.hardestFalseMatches) expect(p.a.identity).not.toBe(p.b.identity);
    for (const p of view.hardestFalseNonMatches) {
      expect(p.a.identity).toBe(p.b.identity);
      expect(p.a.identity).toMatch(/^synthetic-\d+$/);
      expect(p.a.image).not.toBe(p.b.image);
    }
    // Faces: 64 px grey PNGs.
    expect(await pngSize(view.hardestFalseMatches[0]!.a.png)).toEqual({ width: 64, height: 64, channels: 1, format: 'png' });
    // Progress: one request, phases in order, ending with done.
    const progress = events.filter((e): e is Extract<TrainerEvent, { type: 'evaluateProgress' }> => e.type === 'evaluateProgress');
    expect(new Set(progress.map((e) => e.runId))).toEqual(new Set([runId]));
    expect(new Set(progress.map((e) => e.requestId)).size).toBe(1);
    const phases = progress.map((e) => e.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(phases).toEqual(['loading', 'embedding', 'scoring', 'done']);
    const embedded = progress.filter((e) => e.phase === 'embedding').at(-1)!;
    expect(embedded.done).toBe(48);
    expect(embedded.total).toBe(48);
    expect(progress.at(-1)).toMatchObject({ phase: 'done', done: view.pairs, total: view.pairs });
  });

  test('getEvaluation gives the same view back; evaluation.json holds the extras', async () => {
    await expect(client.request({ name: 'getEvaluation', runId })).resolves.toEqual(view);
    const saved = JSON.parse(await readFile(join(dataDir, 'runs', runId, 'evaluation.json'), 'utf8'));
    expect(saved).toMatchObject({ format: 2, runId, step: 8 });
    expect(saved.histogram.edges).toHaveLength(41);
    expect(saved.hardest.falseMatches).toHaveLength(3);
    expect(saved.pairScores).toBeUndefined(); // returned, not saved
    // Infinite fold thresholds (accept all / reject all) are written as strings, never as null.
    for (const t of saved.verification.tenFold.thresholds) expect(typeof t === 'number' || ['Infinity', '-Infinity'].includes(t)).toBe(true);
    expect(saved.verification.roc.thresholds[0]).toBe('Infinity');
  });

  test('the core (what `lab eval` runs) returns every pair\'s score; the hardest pairs are the extremes of them; no tensor is left', async () => {
    const before = tf.memory().numTensors;
    const result = await evaluateRun(runId, { dataDir, backend: 'cpu', hardest: 3 });
    expect(tf.memory().numTensors).toBe(before);
    const { a, b, matched, scores } = result.pairScores;
    expect([a.length, b.length, matched.length]).toEqual([view.pairs, view.pairs, view.pairs]);
    const mismatched = [...scores].filter((_, i) => matched[i] === 0).sort((x, y) => y - x);
    const same = [...scores].filter((_, i) => matched[i] === 1).sort((x, y) => x - y);
    expect(result.hardest.falseMatches.map((p) => p.score)).toEqual(mismatched.slice(0, 3));
    expect(result.hardest.falseNonMatches.map((p) => p.score)).toEqual(same.slice(0, 3));
    // Same checkpoint, same pairs: the same numbers as through the host.
    expect(result.verification.tenFold.mean).toBe(view.accuracy);
    expect(view.hardestFalseMatches.map((p) => p.score)).toEqual(mismatched.slice(0, 3));
    expect(formatEvaluation(result)).toMatch(/^Run \S+, checkpoint at step 8\nPairs: generated \(\d+ matched, \d+ mismatched, 3 folds\)/);
  });

  test('with a pairs file: its pairs, its name, fewer hardest pairs when there are fewer pairs', async () => {
    const pairs = ['2\t2', 'synthetic-001\t1\t2', 'synthetic-002\t1\t3', 'synthetic-001\t1\tsynthetic-002\t1', 'synthetic-002\t2\tsynthetic-003\t2', 'synthetic-004\t1\t2', 'synthetic-005\t2\t3', 'synthetic-004\t1\tsynthetic-005\t1', 'synthetic-005\t3\tsynthetic-006\t3', ''].join('\n');
    const file = join(dataDir, 'pairs.txt');
    await writeFile(file, pairs);
    const fromFile = await client.request({ name: 'evaluateRun', runId, pairs: { kind: 'typed', path: file }, hardest: 8 });
    expect(fromFile).toMatchObject({ pairsSource: file, pairs: 8, matchedPairs: 4, mismatchedPairs: 4, folds: 2 });
    expect(fromFile.hardestFalseMatches).toHaveLength(4);
    expect(fromFile.hardestFalseNonMatches).toHaveLength(4);
    expect(fromFile.notes.join('\n')).not.toMatch(/--pairs/);
    await expect(client.request({ name: 'evaluateRun', runId, pairs: { kind: 'typed', path: join(dataDir, 'nope.txt') } })).rejects.toThrow(/The pairs file cannot be read \(ENOENT\)/);
  });

  test('an evaluation.json of an older lab: the numbers without histogram and hardest pairs, and a note; a damaged one is named', async () => {
    const file = join(dataDir, 'runs', runId, 'evaluation.json');
    const { format: _f, histogram: _h, hardest: _x, evaluatedAt: _e, ...old } = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify(old));
    const back = (await client.request({ name: 'getEvaluation', runId }))!;
    expect(back).toMatchObject({ runId, step: 8, pairs: 8, hardestFalseMatches: [], hardestFalseNonMatches: [], histogram: { edges: [], matched: [], mismatched: [] } });
    expect(back.notes.at(-1)).toBe(OLD_EVALUATION_NOTE);
    await writeFile(file, '{"runId": 3');
    await expect(client.request({ name: 'getEvaluation', runId })).rejects.toMatchObject({ code: 'damaged', message: expect.stringMatching(/evaluation\.json is not valid JSON .*Evaluate the run again/) });
  });
});

describe('snapshots', () => {
  test('listed by step; one loads as its frames; a missing step lists the ones there are', async () => {
    const { snapshots } = await client.request({ name: 'listSnapshots', runId });
    expect(snapshots.map((s) => [s.step, s.epoch])).toEqual([
      [4, 0],
      [8, 1],
    ]);
    expect(snapshots[0]!.layers).toEqual(['conv1.act', 'group1.a.act', 'group1.b.act', 'embedding']);
    expect(snapshots[0]!.probes).toBe(4);
    const loaded = await client.request({ name: 'loadSnapshot', runId, step: 8 });
    expect(loaded).toMatchObject({ step: 8, epoch: 1 });
    expect(loaded.probeLabels).toHaveLength(4);
    const frames = loaded.frames.map((f) => decodeFrame(Buffer.from(f, 'base64')));
    expect(frames.map((f) => f.header.layer)).toEqual(snapshots[1]!.layers);
    expect(frames.every((f) => f.header.step === 8 && f.header.probes.length === 4)).toBe(true);
    await expect(client.request({ name: 'loadSnapshot', runId, step: 5 })).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/has no snapshot at step 5: it has snapshots at steps 4, 8$/) });
  });

  test('a damaged snapshot is left out of the list, and loading it says what is wrong', async () => {
    const damaged = join(dataDir, 'runs', runId, 'snapshots', 'step-000099.fclf');
    const good = await readFile(join(dataDir, 'runs', runId, 'snapshots', 'step-000008.fclf'));
    await writeFile(damaged, good.subarray(0, good.length - 100));
    try {
      expect((await client.request({ name: 'listSnapshots', runId })).snapshots.map((s) => s.step)).toEqual([4, 8]); // its header says step 8
      await expect(client.request({ name: 'loadSnapshot', runId, step: 99 })).rejects.toMatchObject({ code: 'damaged', message: expect.stringMatching(/step-000099\.fclf is truncated \(frame 4 of 4 is cut off\)\. Choose another step$/) });
      await writeFile(damaged, good);
      await expect(client.request({ name: 'loadSnapshot', runId, step: 99 })).rejects.toMatchObject({ code: 'damaged', message: expect.stringMatching(/holds the snapshot of step 8, not 99 \(was it renamed\?\)/) });
      await writeFile(damaged, 'not a snapshot at all');
      expect((await client.request({ name: 'listSnapshots', runId })).snapshots.map((s) => s.step)).toEqual([4, 8]);
      await expect(client.request({ name: 'loadSnapshot', runId, step: 99 })).rejects.toMatchObject({ code: 'damaged', message: expect.stringMatching(/is not an activation snapshot/) });
    } finally {
      await rm(damaged);
    }
  });
});

describe('export', () => {
  test('one .tar.gz of the run: record, metrics, evaluation, snapshots, the latest checkpoint only', async () => {
    const out = await tempDir();
    const file = join(out, 'my run.tar.gz');
    const result = await client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: file } });
    expect(result.file).toBe(file);
    const entries: string[] = [];
    await tar.list({ file, onReadEntry: (e) => entries.push(e.path) });
    expect(entries.sort()).toEqual(
      [`${runId}/checkpoints/step-000008.ckpt`, `${runId}/evaluation.json`, `${runId}/metrics.jsonl`, `${runId}/run.json`, `${runId}/snapshots/`, `${runId}/snapshots/step-000004.fclf`, `${runId}/snapshots/step-000008.fclf`].sort(),
    );
    expect(result.bytes).toBe((await readFile(file)).length);
    // It unpacks to the run as it is on disk.
    const unpacked = await tempDir();
    await tar.extract({ file, cwd: unpacked });
    expect(await readFile(join(unpacked, runId, 'run.json'), 'utf8')).toBe(await readFile(join(dataDir, 'runs', runId, 'run.json'), 'utf8'));
    // Given a folder, the archive goes inside it under the run's name.
    const intoFolder = await client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: out } });
    expect(intoFolder.file).toBe(join(out, `${runId}.tar.gz`));
    expect((await readdir(out)).sort()).toEqual([`${runId}.tar.gz`, 'my run.tar.gz'].sort()); // no temp files
  });

  test('a typed destination never replaces a file, gets .tar.gz when it has no such ending, and must be a whole path', async () => {
    const out = await tempDir();
    await writeFile(join(out, 'notes.txt'), 'my notes');
    await expect(client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: join(out, 'notes.txt.tar.gz') } })).resolves.toMatchObject({
      file: join(out, 'notes.txt.tar.gz'),
    });
    // "notes.txt" becomes "notes.txt.tar.gz", which now exists: refused, and the notes are untouched.
    await expect(client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: join(out, 'notes.txt') } })).rejects.toMatchObject({
      code: 'exists',
      message: expect.stringMatching(/notes\.txt\.tar\.gz already exists: type another name, or delete that file first/),
    });
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('my notes');
    // Into a folder twice: the second would replace the first.
    await client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: out } });
    await expect(client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: out } })).rejects.toMatchObject({ code: 'exists' });
    await expect(client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: 'relu.tar.gz' } })).rejects.toMatchObject({
      code: 'bad-path',
      message: expect.stringMatching(/Type the whole path .* relative to the trainer's working folder/),
    });
    expect((await readdir(out)).sort()).toEqual([`${runId}.tar.gz`, 'notes.txt', 'notes.txt.tar.gz'].sort());
  });

  test('a destination that cannot be written says why and leaves nothing behind', async () => {
    const out = await tempDir();
    await expect(client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: join(out, 'missing', 'run.tar.gz') } })).rejects.toMatchObject({
      code: 'bad-path',
      message: expect.stringMatching(/^The folder to write the archive of run \S+ into does not exist: .*missing\. Create it first, or choose a file in an existing folder$/),
    });
    await writeFile(join(out, 'a-file'), 'x');
    await expect(client.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: join(out, 'a-file', 'run.tar.gz') } })).rejects.toMatchObject({
      message: expect.stringMatching(/^Part of this path is a file, not a folder: the archive of run \S+ was not written/),
    });
    expect(await readdir(out)).toEqual(['a-file']);
  });

  test('a desktop window names the destination only through a grant from a save dialog', async () => {
    const window = await connectInElectron(appWindow(host, 'dialog') as never);
    try {
      const out = await tempDir();
      await expect(window.request({ name: 'exportRun', runId, destination: { kind: 'typed', path: join(out, 'x.tar.gz') } })).rejects.toMatchObject({ code: 'bad-path' });
      const grant = 'ab'.repeat(16);
      expect(host.grants.add({ grant, path: join(out, 'chosen.tar.gz'), purpose: 'write' })).toBeNull();
      await expect(window.request({ name: 'exportRun', runId, destination: { kind: 'grant', grant } })).resolves.toMatchObject({ file: join(out, 'chosen.tar.gz') });
      // The save dialog asked the user about replacing it: a second export to the same choice is allowed.
      await expect(window.request({ name: 'exportRun', runId, destination: { kind: 'grant', grant } })).resolves.toMatchObject({ file: join(out, 'chosen.tar.gz') });
    } finally {
      window.close();
    }
  });
});

describe('run ids', () => {
  test('an id that is not a run id is refused before any file is touched; an unknown run is named', async () => {
    await expect(client.request({ name: 'listSnapshots', runId: '../../etc' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/^"\.\.\/\.\.\/etc" is not a run id \(a run id may only hold letters/) });
    await expect(client.request({ name: 'getEvaluation', runId: '..' })).rejects.toMatchObject({ code: 'invalid' });
    await expect(client.request({ name: 'evaluateRun', runId: 'nope' })).rejects.toMatchObject({ code: 'RunError', message: expect.stringMatching(/^There is no run "nope"/) });
    await expect(client.request({ name: 'exportRun', runId: 'nope', destination: { kind: 'typed', path: join(dataDir, 'x.tar.gz') } })).rejects.toThrow(/There is no run "nope"/);
  });

  test('a run without a checkpoint cannot be evaluated, and says what to do', async () => {
    await mkdir(join(dataDir, 'runs'), { recursive: true });
    const session = await TrainingSession.start({ data: 'synthetic:6x8', model: 'tiny', inputSize: 32, batch: 8, epochs: 1, seed: 2 }, { dataDir, backend: 'cpu', prefetch: 0 });
    const id = session.run.id;
    session.dispose(); // never trained: no checkpoint, no snapshots
    await new Promise((r) => setTimeout(r, 20));
    await expect(client.request({ name: 'evaluateRun', runId: id })).rejects.toMatchObject({ code: 'no-checkpoint', message: expect.stringMatching(/has no checkpoint yet, so there is nothing to evaluate: let it train/) });
    await expect(client.request({ name: 'listSnapshots', runId: id })).resolves.toEqual({ snapshots: [] });
    await expect(client.request({ name: 'loadSnapshot', runId: id, step: 0 })).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/has no activation snapshots/) });
  });
});
