// LFW's protocol: a run evaluated on a dataset other than its own, and the overlap between the
// pairs and what the run trained on reported, never silent. A tiny run trains for two steps on a
// folder of generated faces (people p01..p06); the other datasets are folders written beside it:
// new people (q..), and a mix of new people, one trained person, and a trained person's images
// under another name. An imported-looking run (a record with `origin`) carries the trained
// run's embedding weights without the classifier, as a converted checkpoint would.
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { openDataset } from '../../../../datasets';
import { classificationSplit } from '../../../../datasets/splits';
import { makeImage, tempDir, writeFiles } from '../../../../datasets/test/fixtures';
import { createRun, openRun } from '../../runs/run-store';
import { TrainingSession } from '../../training/session';
import { evaluateRun, EVALUATION_FILE, formatEvaluation, IMPORTED_OVERLAP_NOTE, readSavedEvaluation } from '../evaluate-run';
import { evaluationView } from '../evaluation-view';
import { describeOverlap, identityKey, isIdLikeName, MAX_OVERLAP_NAMES, pairOverlap, trainedOn } from '../overlap';

const PER_TRAINED = 5;
let dataDir: string;
let faces: string;
let trainDir: string;
let otherDir: string;
let mixedDir: string;
let runId: string;
let holdOut: number;
let seed: number;

/** The seed of a trained person's image (p01..p06, images 1..5): copies elsewhere reuse it, so their bytes are the same. */
const trainedSeed = (person: number, k: number) => person * 10 + k;

async function folder(root: string, people: Record<string, number[]>): Promise<void> {
  const files: Record<string, Buffer> = {};
  for (const [name, seeds] of Object.entries(people)) {
    for (const [k, s] of seeds.entries()) files[`${name}/${k + 1}.pgm`] = await makeImage('pgm', s);
  }
  await writeFiles(root, files);
}

/** A pairs file in LFW's format: 2 folds of 2 matched and 2 mismatched pairs. */
async function pairsFile(name: string, lines: string[]): Promise<string> {
  const path = join(faces, name);
  await writeFiles(faces, { [name]: ['2\t2', ...lines, ''].join('\n') });
  return path;
}

const NEW_PEOPLE_PAIRS = ['q01\t1\t2', 'q02\t1\t3', 'q01\t1\tq02\t2', 'q01\t3\tq02\t4', 'q03\t1\t2', 'q04\t2\t3', 'q03\t1\tq04\t1', 'q03\t4\tq04\t4'];

beforeAll(async () => {
  dataDir = await tempDir();
  faces = await tempDir('fcl-faces-');
  trainDir = join(faces, 'train');
  otherDir = join(faces, 'other');
  mixedDir = join(faces, 'mixed');
  const range = (n: number, f: (k: number) => number) => Array.from({ length: n }, (_, k) => f(k + 1));
  await folder(trainDir, Object.fromEntries(range(6, (p) => p).map((p) => [`p0${p}`, range(PER_TRAINED, (k) => trainedSeed(p, k))])));
  await folder(otherDir, Object.fromEntries([1, 2, 3, 4].map((q) => [`q0${q}`, range(4, (k) => 100 + q * 10 + k)])));
  await folder(mixedDir, {
    p01: range(PER_TRAINED, (k) => trainedSeed(1, k)), // a trained person, the same images
    x02: range(PER_TRAINED, (k) => trainedSeed(2, k)), // a trained person's images under another name
    q03: range(4, (k) => 200 + k),
    q04: range(4, (k) => 210 + k),
  });
  const session = await TrainingSession.start(
    { data: trainDir, model: 'tiny', inputSize: 16, batch: 4, epochs: 1, optimizer: 'adam', lr: 0.001, seed: 3, warmupSteps: 0, clipNorm: 0, maxSteps: 2 },
    { dataDir, backend: 'cpu', prefetch: 0 },
  );
  runId = session.run.id;
  try {
    await session.train();
  } finally {
    session.dispose();
  }
  const config = (await openRun(dataDir, runId)).record.config as { holdOut: number; seed: number };
  holdOut = config.holdOut;
  seed = config.seed;
}, 120_000);

/** The training folder's images the run trained on (its training split), as "person/k". */
async function trainedImages(): Promise<Set<string>> {
  const dataset = await openDataset(trainDir, { dataDir, inputSize: 16 });
  const split = classificationSplit(dataset, { holdOutFraction: holdOut, seed });
  return new Set(Array.from(split.train, (i) => dataset.images[i]!.relPath.replace(/\.pgm$/, '')));
}

describe('evaluating a run on another dataset', () => {
  test('a pairs file of people the run never saw: scored on that dataset, no overlap, nothing to warn about; evaluation.json keeps the dataset and the overlap', async () => {
    const pairs = await pairsFile('new-people.txt', NEW_PEOPLE_PAIRS);
    const result = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: pairs, data: { spec: otherDir }, hardest: 2 });
    expect(result.data).toMatchObject({ name: 'other', source: otherDir, identities: 4, images: 16 });
    expect(result.data.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(result.overlap).toEqual({ checked: true, identities: 0, identityNames: [], images: 0 });
    expect(result.pairScores.a).toHaveLength(8);
    expect(result.rank1.probes).toBeGreaterThan(0); // on the other dataset's held-out images
    expect(result.notes.join('\n')).not.toMatch(/not comparable|overlap/);
    expect(result.hardest.falseMatches.every((p) => /^q0\d$/.test(p.a.identity) && /^q0\d$/.test(p.b.identity))).toBe(true);
    const text = formatEvaluation(result);
    expect(text).toContain(`Dataset: other (${otherDir}; 4 identities, 16 images)`);
    expect(text).toContain("Overlap with the run's training data: none: the pairs name no identity of the same name and no image the run trained on");

    const read = await readSavedEvaluation(join(dataDir, 'runs', runId));
    if (read === null || 'problem' in read) throw new Error(`evaluation.json not readable: ${JSON.stringify(read)}`);
    expect(read.saved.data).toEqual(result.data);
    expect(read.saved.overlap).toEqual(result.overlap);
    const view = evaluationView(read.saved);
    expect(view.data).toEqual(result.data);
    expect(view.overlap).toEqual(result.overlap);
  }, 60_000);

  test('no pairs file: pairs are generated from the other dataset, and say so', async () => {
    const result = await evaluateRun(runId, { dataDir, backend: 'cpu', data: { spec: otherDir }, hardest: 1 });
    expect(result.pairsSource).toBe('generated');
    expect(result.data.source).toBe(otherDir);
    expect(result.notes[0]).toMatch(/^pairs generated from other \(2 identity-disjoint folds, seed 3\); pass --pairs for a published protocol$/);
    expect(result.overlap).toMatchObject({ checked: true, identities: 0, images: 0 });
  }, 60_000);

  test('a dataset sharing a trained person and trained images: counted by name and by content, with the warning', async () => {
    const pairs = await pairsFile('mixed.txt', ['p01\t1\t2', 'x02\t1\t3', 'p01\t1\tx02\t2', 'p01\t3\tx02\t4', 'q03\t1\t2', 'q04\t2\t3', 'q03\t1\tq04\t1', 'q03\t4\tq04\t4']);
    const result = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: pairs, data: { spec: mixedDir, layout: 'folders' }, hardest: 1 });
    const trained = await trainedImages();
    // The pair images that are copies of trained ones: p01's 1, 2, 3 and x02's (p02's) 1, 2, 3, 4.
    const copies = ['p01/1', 'p01/2', 'p01/3', 'p02/1', 'p02/2', 'p02/3', 'p02/4'].filter((image) => trained.has(image));
    expect(copies.length).toBeGreaterThan(0);
    expect(result.overlap).toEqual({ checked: true, identities: 1, identityNames: ['p01'], images: copies.length });
    expect(result.notes).toContainEqual(
      `the pairs share 1 identity (p01) and ${copies.length} images the run trained on: a figure on faces the model learned is not comparable with published ones, which are measured on people it never saw`,
    );
  }, 60_000);

  test("a pairs file on the run's own dataset (no --data) is no longer silent: every person overlaps, with the warning and the way out", async () => {
    const pairs = await pairsFile('own.txt', ['p01\t1\t2', 'p02\t1\t3', 'p01\t1\tp02\t2', 'p01\t3\tp02\t4', 'p03\t1\t2', 'p04\t2\t3', 'p03\t1\tp04\t1', 'p03\t4\tp04\t4']);
    const trained = await trainedImages();
    const used = ['p01/1', 'p01/2', 'p01/3', 'p02/1', 'p02/2', 'p02/3', 'p02/4', 'p03/1', 'p03/2', 'p03/4', 'p04/1', 'p04/2', 'p04/3', 'p04/4'];
    const expected = { checked: true, identities: 4, identityNames: ['p01', 'p02', 'p03', 'p04'], images: used.filter((image) => trained.has(image)).length };
    const own = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: pairs, hardest: 1 });
    expect(own.overlap).toEqual(expected);
    expect(own.data).toMatchObject({ name: 'train', source: trainDir, identities: 6, images: 30 });
    expect(own.notes.at(-1)).toMatch(
      /^the pairs share 4 identities \(p01, p02, p03, p04\) and \d+ images the run trained on: .* not comparable with published ones, .*; to follow LFW's protocol, evaluate on another dataset \(pass --data <faces> \(and --pairs <pairs.txt>\)\)$/,
    );
    // The same dataset named with --data: the same overlap (the run's dataset opened again to compare).
    const named = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: pairs, data: { spec: trainDir }, hardest: 1 });
    expect(named.overlap).toEqual(expected);
    expect(named.data.hash).toBe(own.data.hash);
  }, 60_000);

  test("generated pairs on the run's own dataset keep their note and record the overlap without a second warning", async () => {
    const result = await evaluateRun(runId, { dataDir, backend: 'cpu', hardest: 1 });
    expect(result.notes[0]).toMatch(/^pairs generated from the dataset .* this measures fit, not generalisation/);
    expect(result.notes.join('\n')).not.toMatch(/not comparable/);
    expect(result.overlap).toMatchObject({ checked: true, identities: 6 });
  }, 60_000);

  test("the run's training dataset gone (moved): the other dataset is evaluated and the overlap is said to be not checked", async () => {
    const pairs = await pairsFile('new-people-2.txt', NEW_PEOPLE_PAIRS);
    const moved = `${trainDir}-moved`;
    await rename(trainDir, moved);
    try {
      const result = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: pairs, data: { spec: otherDir }, hardest: 1 });
      expect(result.overlap).toMatchObject({ checked: false, identities: 0, identityNames: [], images: 0 });
      expect(result.overlap.note).toMatch(new RegExp(`^overlap not checked: the run's training dataset \\(${trainDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) cannot be opened \\(.+\\)$`));
      expect(formatEvaluation(result)).toContain("Overlap with the run's training data: not checked\nnote: overlap not checked: ");
    } finally {
      await rename(moved, trainDir);
    }
  }, 60_000);

  test('a bad identity regex for the other dataset is refused before anything loads, with the way out', async () => {
    await expect(evaluateRun(runId, { dataDir, backend: 'cpu', data: { spec: otherDir, layout: 'flat', identityRegex: '^(a)(b)' } })).rejects.toThrow(
      `The identity regex "^(a)(b)" must have exactly one capture group (the identity), it has 2: ${otherDir}. Write a regular expression whose one group is the person, e.g. ^(.+)_\\d+\\.`,
    );
  });
});

describe('an imported run (a record with origin: no training dataset of its own)', () => {
  let importedId: string;
  const file = '/models/LightCNN_9Layers_checkpoint.pth.tar';

  beforeAll(async () => {
    const trained = await openRun(dataDir, runId);
    const checkpoint = await trained.loadLatestCheckpoint();
    if (!checkpoint) throw new Error('the trained run has no checkpoint');
    const run = await createRun(dataDir, {
      config: { ...trained.record.config, data: 'imported:LightCNN_9Layers_checkpoint.pth.tar' }, // as lab import writes it
      dataset: { name: 'imported checkpoint', source: file, hash: '', identities: 0, images: 0, synthetic: false },
      backend: 'cpu',
      versions: { lab: 'test' },
      label: 'imported',
      state: 'finished',
    });
    await run.updateRun({ origin: { kind: 'imported', file, sha256: '0'.repeat(64), format: 'zip', classifier: false, notes: [] } });
    // The embedding's weights only, as a checkpoint converted without its classifier.
    const tensors = [...checkpoint.arrays.values()].filter((a) => a.name.startsWith('weights/') && !a.name.includes('classifier'));
    expect(tensors.length).toBeLessThan([...checkpoint.arrays.values()].filter((a) => a.name.startsWith('weights/')).length);
    await run.saveCheckpoint({ step: 0, epoch: 0, meta: {}, tensors });
    importedId = run.id;
  }, 60_000);

  test('without a dataset it is refused, naming the file and what to pass; nothing is written', async () => {
    await expect(evaluateRun(importedId, { dataDir, backend: 'cpu' })).rejects.toThrow(
      `Run ${importedId} was imported from ${file}; it has no training dataset of its own: pass --data <faces> (and --pairs <pairs.txt>)`,
    );
    await expect(readFile(join(dataDir, 'runs', importedId, EVALUATION_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('with a dataset it is evaluated there; the overlap is not checked, and says why', async () => {
    const pairs = await pairsFile('imported-pairs.txt', NEW_PEOPLE_PAIRS);
    const result = await evaluateRun(importedId, { dataDir, backend: 'cpu', pairsFile: pairs, data: { spec: otherDir }, hardest: 1 });
    expect(result.data).toMatchObject({ name: 'other', identities: 4 });
    expect(result.overlap).toEqual({ checked: false, identities: 0, identityNames: [], images: 0, note: IMPORTED_OVERLAP_NOTE });
    expect(IMPORTED_OVERLAP_NOTE).toMatch(/^overlap not checked: .*CASIA-WebFace and MS-Celeb-1M/);
    // The same weights give the same scores as the run they came from.
    const original = await evaluateRun(runId, { dataDir, backend: 'cpu', pairsFile: pairs, data: { spec: otherDir }, hardest: 1 });
    expect(Array.from(result.pairScores.scores)).toEqual(Array.from(original.pairScores.scores));
  }, 60_000);
});

describe('identity names across datasets', () => {
  test('one person written two ways is one identity; IDs are IDs', () => {
    expect(identityKey('George_W_Bush')).toBe(identityKey('george  w bush'));
    expect(identityKey('Ｇｅｏｒｇｅ_W_Bush')).toBe('george w bush'); // full-width letters (NFKC)
    expect(identityKey('Jean-Pierre_Raffarin')).not.toBe(identityKey('Jean_Pierre_Raffarin'));
    for (const id of ['7', '0000045', 'n000002', 'm.0abc12']) expect(isIdLikeName(id), id).toBe(true);
    for (const name of ['George_W_Bush', 'subject01', 'Aaron_Eckhart', 's1', 'p01']) expect(isIdLikeName(name), name).toBe(false);
  });

  test('names are compared as identityKey gives them, and ID-like names only within the same dataset', async () => {
    const dataset = await openDataset('synthetic:3x2', { dataDir, inputSize: 16 });
    const all = Int32Array.from(dataset.images.keys());
    // Trained on "SYNTHETIC-001" (the same person in capitals) and on a CASIA-style ID.
    const trained = { identities: new Set([identityKey('SYNTHETIC-001'), identityKey('0000045')]), images: new Set<string>() };
    const overlap = await pairOverlap(dataset, { a: all, b: all }, trained);
    expect(overlap.identityNames).toEqual(['synthetic-001']);
    const ids = Object.assign(Object.create(Object.getPrototypeOf(dataset) as object), dataset, { identities: ['0000045', '0000046', '0000047'] }) as typeof dataset;
    expect(await pairOverlap(ids, { a: all, b: all }, trained)).toMatchObject({ identities: 0, idNamesNotCompared: 3 });
    expect(await pairOverlap(ids, { a: all, b: all }, trained, { sameDataset: true })).toMatchObject({ identities: 1, identityNames: ['0000045'] });
    expect(describeOverlap({ checked: true, identities: 0, identityNames: [], images: 0, idNamesNotCompared: 3 })).toBe(
      'none: the pairs name no identity of the same name and no image the run trained on (3 of the pairs\' identities are named by IDs, which mean nothing across datasets: only their images were compared)',
    );
  });
});

describe('pairOverlap', () => {
  test('names are listed sorted and capped; the count is whole', async () => {
    const dataset = await openDataset('synthetic:30x2', { dataDir, inputSize: 16 });
    const all = Int32Array.from(dataset.images.keys());
    const everyone = new Set(dataset.identities);
    const overlap = await pairOverlap(dataset, { a: all, b: all }, { identities: everyone, images: new Set() });
    expect(overlap.identities).toBe(30);
    expect(overlap.identityNames).toHaveLength(MAX_OVERLAP_NAMES);
    expect(overlap.identityNames[0]).toBe('synthetic-001');
    expect(overlap.images).toBe(0);
  });

  test('synthetic faces (no file, no SHA-256) are matched by their pixels: the same set overlaps whole, another seed not at all', async () => {
    const dataset = await openDataset('synthetic:4x3', { dataDir, inputSize: 16 });
    const again = await openDataset('synthetic:4x3', { dataDir, inputSize: 16 });
    const reseeded = await openDataset('synthetic:4x3', { dataDir, inputSize: 16, seed: 2 });
    const all = Int32Array.from(dataset.images.keys());
    const trained = await trainedOn(dataset, all);
    expect(trained.images.size).toBe(12);
    expect((await pairOverlap(again, { a: all, b: all }, trained)).images).toBe(12);
    expect((await pairOverlap(reseeded, { a: all, b: all }, trained)).images).toBe(0);
  });
});
