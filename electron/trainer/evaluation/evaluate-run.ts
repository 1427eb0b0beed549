// `lab eval` and the app's evaluateRun: a trained run's face verification quality on a
// pairs protocol (LFW's pairs.txt format) and its closed-set identification on the
// held-out images.
//
// evaluation.json (in the run's folder, rewritten atomically by each evaluation):
//   format 2: { format, runId, step, pairsSource, evaluatedAt, data (the evaluated dataset:
//   name, source, hash, identities, images), overlap (what of the pairs the run trained on,
//   overlap.ts), verification (full ROC with
//   thresholds, AUC, EER, TAR at FAR, k-fold accuracies), rank1, notes,
//   histogram {edges, matched, mismatched} (HISTOGRAM_BINS bins over the scores' own range),
//   hardest {falseMatches, falseNonMatches}: PairViews with the faces as 64 px grey PNG
//   data: URLs and identity names }.
//   Non-finite numbers are written as the strings "Infinity", "-Infinity", "NaN"; arrays of
//   numbers on one line each. The per-pair scores are returned (EvaluationResult.pairScores)
//   but not saved: with LFW's 6000 pairs they would triple the file for no view.
//   Format 1 (no `format` field) had neither histogram nor hardest; files written before
//   evaluations on other datasets have neither data nor overlap.
// The app's Evaluate view is made from this file alone (evaluation-view.ts), so it can be
// shown again later without the dataset or the model.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from '../../../datasets/errors';
import { formatBytes } from '../../../files/file-error';
import { generatePairs, parsePairs, resolvePairs } from '../../../datasets/pairs';
import { classificationSplit } from '../../../datasets/splits';
import { writeFileAtomic } from '../../../files/atomic-file';
import { openDataset, type FaceDataset } from '../../../datasets';
import { checkIdentityPattern, type LayoutKind } from '../../../datasets/layout';
import { resolveRun, type RunHandle } from '../runs/run-store';
import { tarResolution } from '#protocol/tar-resolution';
import { selectBackend, type BackendName } from '../../../models/backend';
import type { PairView } from '#protocol/workbench';
import { parseTrainConfig, type TrainConfig } from '../training/config';
import { buildFromConfig, checkSameDataset, datasetHash, describeDataset, loadDataset, restoreWeights, TrainingError } from '../training/run-model';
import { describeOverlap, overlapNotChecked, overlaps, pairOverlap, trainedOn, type Overlap } from './overlap';
import { computeEmbeddings } from './embeddings';
import { HISTOGRAM_BINS, hardestPairIndices, savedEvaluationSchema, type SavedEvaluation } from './evaluation-view';
import { facePng } from '../../../datasets/face-png';

/** Side of the faces shown with the hardest pairs. */
const PAIR_FACE_SIZE = 64;
import { cosineSimilarities, rank1Identification, scoreHistogram, verificationReport, type Rank1Result, type ScoreHistogram, type VerificationReport } from './metrics';

export const EVALUATION_FILE = 'evaluation.json';
/** The layout of evaluation.json this lab writes (see the file comment). */
export const EVALUATION_FORMAT = 2;
/** Hardest false matches and false non-matches kept when not told otherwise. */
export const DEFAULT_HARDEST = 8;

/** The headline numbers of a run's last evaluation, for listings. */
export async function readEvaluationSummary(runDir: string): Promise<{ accuracy: number; auc: number; step: number } | null> {
  try {
    const saved = JSON.parse(await readFile(join(runDir, EVALUATION_FILE), 'utf8')) as { step: number; verification: { auc: number; tenFold: { mean: number } } };
    return { accuracy: saved.verification.tenFold.mean, auc: saved.verification.auc, step: saved.step };
  } catch {
    return null;
  }
}

/**
 * The run's last evaluation as evaluation.json holds it (checked), null when the run was
 * never evaluated, or the reason the file cannot be used.
 */
export async function readSavedEvaluation(runDir: string): Promise<{ saved: SavedEvaluation } | { problem: string } | null> {
  let text: string;
  try {
    text = await readFile(join(runDir, EVALUATION_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return { problem: `${EVALUATION_FILE} cannot be read (${code ?? (error as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `${EVALUATION_FILE} is not valid JSON (${(error as Error).message})` };
  }
  const parsed = savedEvaluationSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${EVALUATION_FILE} does not describe an evaluation (${issue?.path.join('.') || 'file'}: ${issue?.message ?? 'invalid'})` };
  }
  return { saved: parsed.data };
}

/** The dataset an evaluation embedded: the run's own, or the one it was given. */
export interface EvaluatedDataset {
  readonly name: string;
  /** The path, archive or "synthetic:..." it was opened from. */
  readonly source: string;
  /** Its content hash (run-model.ts datasetHash): the same hash means the same images and labels. */
  readonly hash: string;
  readonly identities: number;
  readonly images: number;
}

export interface EvaluationResult {
  readonly runId: string;
  readonly step: number;
  /** The dataset the pairs and the identification were scored on. */
  readonly data: EvaluatedDataset;
  /** What of the pairs the run trained on (identities by name, images by content). */
  readonly overlap: Overlap;
  /** Where the pairs came from: a file, or generated from the dataset (seeded). */
  readonly pairsSource: string;
  readonly verification: VerificationReport;
  readonly rank1: Rank1Result;
  readonly notes: readonly string[];
  /** When it was computed (ISO 8601). */
  readonly evaluatedAt: string;
  /** Every pair: its two images (dataset indices), whether it is matched, its fold and its score. */
  readonly pairScores: PairScores;
  /** Matched and mismatched scores in HISTOGRAM_BINS bins over the scores' own range. */
  readonly histogram: ScoreHistogram;
  /** The mismatched pairs with the highest scores and the matched pairs with the lowest, with their faces. */
  readonly hardest: { readonly falseMatches: readonly PairView[]; readonly falseNonMatches: readonly PairView[] };
}

export interface PairScores {
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** 1 for a matched pair, 0 for a mismatched one. */
  readonly matched: Uint8Array;
  readonly fold: Int32Array;
  readonly scores: Float32Array;
}

export type EvaluationPhase = 'loading' | 'embedding' | 'scoring' | 'done';

/** A dataset to evaluate on instead of the run's own: any source the lab imports, as `lab train --data` takes it. */
export interface EvaluationData {
  readonly spec: string;
  readonly layout?: LayoutKind | 'auto';
  /** Flat folders: a regex whose one group is the identity. */
  readonly identityRegex?: string;
}

export interface EvaluateOptions {
  readonly dataDir: string;
  readonly pairsFile?: string;
  /**
   * Evaluate on this dataset (LFW's protocol: a model trained on other data); omitted, on the
   * run's own training dataset. Required for a run imported from a checkpoint.
   */
  readonly data?: EvaluationData;
  readonly batchSize?: number;
  /** How many hardest pairs of each kind to keep, with their faces (default DEFAULT_HARDEST). */
  readonly hardest?: number;
  /** Where the evaluation stands: phase changes and every embedded batch. */
  readonly onProgress?: (progress: { phase: EvaluationPhase; done: number; total: number | null }) => void;
  /**
   * The backend: a name forces it; 'current' keeps the one tfjs uses now (while a run trains in
   * this process, so it is never switched under it); omitted, the best one for inference.
   */
  readonly backend?: BackendName | 'current';
  /** How the user gives a pairs file, for the notes and errors ("pass --pairs", "choose a pairs file"). */
  readonly pairsHint?: string;
  /** How the user names a dataset to evaluate on, for the errors ("pass --data <faces> ...", "choose a dataset ..."). */
  readonly dataHint?: string;
}

/** The classifier plays no part in an evaluation: it is built at the smallest size and its weights are not restored. */
const EVALUATION_CLASSES = 2;

/** Why an imported run's overlap is not checked. */
export const IMPORTED_OVERLAP_NOTE =
  "overlap not checked: the lab does not know what the imported checkpoint was trained on (the published Light CNN checkpoints were trained on CASIA-WebFace and MS-Celeb-1M); if the pairs name people of its training data, the figure is not comparable with published ones";

/**
 * The most bytes a pairs file may have: LFW's pairs.txt is about 100 kB, so this is hundreds
 * of times any real one, yet a wrong file (a video, an archive, a disk image) is refused by
 * its size instead of read whole into memory.
 */
export const MAX_PAIRS_FILE_BYTES = 64_000_000;

const PAIRS_FILE_REMEDY = "Check the path; it should be a text file in LFW's pairs.txt format";

/** The text of a pairs file, refused without reading it when it is larger than MAX_PAIRS_FILE_BYTES. */
async function readPairsFile(path: string): Promise<string> {
  const cannotRead = (error: NodeJS.ErrnoException): never => {
    throw new DatasetError(`The pairs file cannot be read (${error.code ?? error.message})`, PAIRS_FILE_REMEDY, path);
  };
  const { size } = await stat(path).catch(cannotRead);
  if (size > MAX_PAIRS_FILE_BYTES) {
    throw new DatasetError(
      `The pairs file is ${formatBytes(size)}, more than the ${formatBytes(MAX_PAIRS_FILE_BYTES)} a pairs file may be (LFW's pairs.txt is about 100 kB), so it was not read`,
      `${PAIRS_FILE_REMEDY}. Nothing was evaluated; the run and its last evaluation are unchanged`,
      path,
    );
  }
  return readFile(path, 'utf8').catch(cannotRead);
}

export async function evaluateRun(runRef: string | RunHandle, options: EvaluateOptions): Promise<EvaluationResult> {
  const progress = options.onProgress ?? (() => {});
  const pairsHint = options.pairsHint ?? 'pass --pairs';
  const dataHint = options.dataHint ?? 'pass --data <faces> (and --pairs <pairs.txt>)';
  progress({ phase: 'loading', done: 0, total: null });
  const run = typeof runRef === 'string' ? await resolveRun(options.dataDir, runRef) : runRef;
  const origin = run.record.origin;
  // An imported run's config.data names no dataset: it is evaluated only on one it is given.
  if (origin?.kind === 'imported' && options.data === undefined) {
    throw new TrainingError(`Run ${run.id} was imported from ${origin.file}; it has no training dataset of its own: ${dataHint}`);
  }
  if (options.data?.identityRegex !== undefined) {
    const problem = checkIdentityPattern(options.data.identityRegex);
    if (problem !== null) throw new DatasetError(`The identity regex ${problem}`, 'Write a regular expression whose one group is the person, e.g. ^(.+)_\\d+\\.', options.data.spec);
  }
  // Read (and size-checked) first: a wrong file is refused before the dataset and model load.
  const pairsFile = options.pairsFile === undefined ? undefined : { path: options.pairsFile, text: await readPairsFile(options.pairsFile) };
  if (options.backend !== 'current') await selectBackend({ purpose: 'infer', ...(options.backend === undefined ? {} : { force: options.backend }) });
  // The step settings play no part in an evaluation: a run recorded before they were bounded
  // (config.ts STEP_LIMIT) may hold larger ones, and is evaluated all the same.
  const config = parseTrainConfig({
    ...run.record.config,
    ...(origin?.kind === 'imported' && options.data !== undefined ? { data: options.data.spec } : {}),
    maxSteps: 0,
    checkpointEvery: 0,
  });
  let dataset: FaceDataset;
  if (options.data === undefined) {
    dataset = await loadDataset(config, options.dataDir);
    checkSameDataset(run.record.dataset.hash, dataset, run.id);
  } else {
    dataset = await openEvaluationData(options.data, config.inputSize, options.dataDir);
  }
  const checkpoint = await run.loadLatestCheckpoint();
  if (!checkpoint) throw new TrainingError(`Run ${run.id} has no checkpoint yet, so there is nothing to evaluate: train it further with npm run lab -- resume ${run.id}`);
  const notes = [...checkpoint.warnings];
  const built = buildFromConfig(config, EVALUATION_CLASSES);
  try {
    // The embedding's weights only: the classifier is sized for the run's identities, not these.
    restoreWeights(built.embedding, checkpoint.arrays);
    let pairsSource: string;
    let parsed;
    if (pairsFile) {
      parsed = parsePairs(pairsFile.text, pairsFile.path);
      pairsSource = pairsFile.path;
    } else {
      const folds = Math.min(10, Math.floor(dataset.identities.length / 2));
      if (folds < 2) {
        throw new DatasetError(
          `Verification pairs need at least 2 identity-disjoint folds, so at least 4 identities; this dataset has ${dataset.identities.length}`,
          options.data === undefined ? `Evaluate on a pairs file of another dataset (${pairsHint}), or train on more identities` : `Evaluate on a dataset of at least 4 identities, or give a pairs file (${pairsHint})`,
        );
      }
      const generated = generatePairs(dataset, { folds, seed: config.seed });
      notes.push(
        options.data === undefined
          ? `pairs generated from the dataset (${folds} identity-disjoint folds, seed ${config.seed}); the identities were also seen in training, so this measures fit, not generalisation: ${pairsHint} for a protocol on other people`
          : `pairs generated from ${dataset.name} (${folds} identity-disjoint folds, seed ${config.seed}); ${pairsHint} for a published protocol`,
        ...generated.notes,
      );
      parsed = generated;
      pairsSource = 'generated';
    }
    const pairs = resolvePairs(parsed, dataset, pairsSource);
    const split = classificationSplit(dataset, { holdOutFraction: config.holdOut, seed: config.seed });
    const overlap = await overlapWithTraining(run, config, options, dataset, split.train, pairs);
    if (overlaps(overlap) && !(options.data === undefined && pairsSource === 'generated')) {
      // (Pairs generated from the run's own dataset say so in their own note above.)
      notes.push(
        `the pairs share ${describeOverlap(overlap)}: a figure on faces the model learned is not comparable with published ones, which are measured on people it never saw${options.data === undefined ? `; to follow LFW's protocol, evaluate on another dataset (${dataHint})` : ''}`,
      );
    }
    const source = { pixels: await dataset.pixels(), storedSize: dataset.storedSize, labels: dataset.imageIdentity };
    // Embed every image once: the pairs and the identification share them.
    const all = Int32Array.from(dataset.images.keys());
    progress({ phase: 'embedding', done: 0, total: all.length });
    const { values, dim } = await computeEmbeddings(built.embedding, source, all, config.inputSize, options.batchSize ?? config.batch, (done) => progress({ phase: 'embedding', done, total: all.length }));
    progress({ phase: 'scoring', done: 0, total: pairs.a.length });
    const scores = cosineSimilarities(values, dim, pairs.a, pairs.b);
    const verification = verificationReport(scores, pairs.matched, pairs.fold);
    const labelsOf = (indices: Int32Array) => Int32Array.from(indices, (i) => dataset.imageIdentity[i] as number);
    const rank1 = rank1Identification(values, dim, split.train, labelsOf(split.train), split.test, labelsOf(split.test));
    const pairScores: PairScores = { a: pairs.a, b: pairs.b, matched: pairs.matched, fold: pairs.fold, scores };
    const hardest = await hardestPairs(dataset, pairScores, options.hardest ?? DEFAULT_HARDEST, config.inputSize);
    progress({ phase: 'scoring', done: pairs.a.length, total: pairs.a.length });
    const { name, source: dataSource, hash, identities, images } = describeDataset(dataset);
    const result: EvaluationResult = {
      runId: run.id,
      step: checkpoint.step,
      data: { name, source: dataSource, hash, identities, images },
      overlap,
      pairsSource,
      verification,
      rank1,
      notes,
      evaluatedAt: new Date().toISOString(),
      pairScores,
      histogram: scoreHistogram(scores, pairs.matched, HISTOGRAM_BINS),
      hardest,
    };
    // Only evaluation.json: run.json belongs to the process that trains the run.
    await writeFileAtomic(join(run.dir, EVALUATION_FILE), [Buffer.from(`${formatJson(savedEvaluation(result))}\n`)]);
    progress({ phase: 'done', done: pairs.a.length, total: pairs.a.length });
    return result;
  } finally {
    built.model.dispose();
  }
}

/** The dataset an evaluation was given, opened at the run's input size as `lab train --data` would open it. */
async function openEvaluationData(data: EvaluationData, inputSize: number, dataDir: string): Promise<FaceDataset> {
  return openDataset(data.spec, {
    dataDir,
    inputSize,
    layout: data.layout ?? 'auto',
    ...(data.identityRegex === undefined ? {} : { identityRule: { kind: 'regex', pattern: data.identityRegex } }),
  });
}

/**
 * What of the pairs the run trained on. On its own dataset that is the dataset's training
 * split; on another dataset the run's training dataset is opened again (as training opened it)
 * to compare, and when it cannot be (moved, deleted) the overlap is not checked and says why.
 * An imported run's training data is not known here.
 */
async function overlapWithTraining(
  run: RunHandle,
  config: TrainConfig,
  options: EvaluateOptions,
  evaluated: FaceDataset,
  evaluatedTrain: Int32Array,
  pairs: { readonly a: Int32Array; readonly b: Int32Array },
): Promise<Overlap> {
  if (run.record.origin?.kind === 'imported') return overlapNotChecked(IMPORTED_OVERLAP_NOTE);
  if (options.data === undefined) return pairOverlap(evaluated, pairs, await trainedOn(evaluated, evaluatedTrain), { sameDataset: true });
  let training: FaceDataset;
  try {
    training = await loadDataset(config, options.dataDir);
  } catch (error) {
    return overlapNotChecked(`overlap not checked: the run's training dataset (${config.data}) cannot be opened (${(error as Error).message})`);
  }
  const split = classificationSplit(training, { holdOutFraction: config.holdOut, seed: config.seed });
  const overlap = await pairOverlap(evaluated, pairs, await trainedOn(training, split.train), { sameDataset: datasetHash(evaluated) === datasetHash(training) });
  if (run.record.dataset.hash !== datasetHash(training)) {
    return { ...overlap, note: `the run's training dataset (${config.data}) changed since the run trained on it; the overlap was checked against it as it is now` };
  }
  return overlap;
}

/** The hardest pairs of each kind, with their faces (each image rendered once). */
async function hardestPairs(dataset: FaceDataset, pairs: PairScores, count: number, inputSize: number): Promise<EvaluationResult['hardest']> {
  const falseMatches = hardestPairIndices(pairs.scores, pairs.matched, 'false-match', count);
  const falseNonMatches = hardestPairIndices(pairs.scores, pairs.matched, 'false-non-match', count);
  const images = new Set<number>();
  for (const k of [...falseMatches, ...falseNonMatches]) images.add(pairs.a[k] as number).add(pairs.b[k] as number);
  const pngs = new Map(await Promise.all([...images].map(async (i) => [i, await facePng(dataset, i, inputSize, PAIR_FACE_SIZE)] as const)));
  const face = (image: number) => ({ image, png: pngs.get(image) as string, identity: dataset.identities[dataset.imageIdentity[image] as number] ?? '' });
  const view = (k: number): PairView => ({ score: pairs.scores[k] as number, a: face(pairs.a[k] as number), b: face(pairs.b[k] as number) });
  return { falseMatches: falseMatches.map(view), falseNonMatches: falseNonMatches.map(view) };
}

/** What evaluation.json holds for a result (see the file comment): plain JSON, non-finite numbers as strings. */
export function savedEvaluation(result: EvaluationResult): Record<string, unknown> {
  const { pairScores: _notSaved, ...saved } = result;
  return toJson({ format: EVALUATION_FORMAT, ...saved }) as Record<string, unknown>;
}

/** JSON indented by 2, except arrays of numbers and strings, which stay on one line (a ROC curve is thousands of them). */
function formatJson(value: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0 || value.every((v) => v === null || typeof v !== 'object')) return JSON.stringify(value);
    return `[\n${value.map((v) => `${inner}${formatJson(v, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** Typed arrays and infinities made JSON-safe. */
function toJson(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => (Number.isFinite(v) ? v : String(v)));
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

/** One TAR @ FAR line, by the app's rule (tar-resolution.ts): unresolved or rough when too few mismatched pairs resolve the FAR. */
function tarLine(far: number, tar: number, mismatchedPairs: number, pct: (x: number) => string): string {
  const resolution = tarResolution(mismatchedPairs, far);
  if (!resolution.resolvable) return `TAR @ FAR ${pct(far)}: not resolved (${resolution.note})`;
  if (resolution.rough) return `TAR @ FAR ${pct(far)}: ${pct(tar)} (${resolution.note})`;
  return `TAR @ FAR ${pct(far)}: ${pct(tar)}`;
}

export function formatEvaluation(result: EvaluationResult): string {
  const v = result.verification;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return [
    `Run ${result.runId}, checkpoint at step ${result.step}`,
    `Pairs: ${result.pairsSource} (${v.matchedPairs} matched, ${v.mismatchedPairs} mismatched, ${v.tenFold.foldAccuracies.length} folds)`,
    `Dataset: ${result.data.name} (${result.data.source}; ${result.data.identities} identities, ${result.data.images} images)`,
    `Overlap with the run's training data: ${describeOverlap(result.overlap)}`,
    ...(result.overlap.note === undefined ? [] : [`note: ${result.overlap.note}`]),
    `Verification accuracy: ${pct(v.tenFold.mean)} ± ${pct(v.tenFold.standardError)} (mean ± standard error over folds, threshold chosen on the other folds)`,
    `ROC AUC: ${v.auc.toFixed(4)}   EER: ${pct(v.eer)}`,
    ...v.tarAtFar.map((t) => tarLine(t.far, t.tar, v.mismatchedPairs, pct)),
    `Rank-1 identification on held-out images: ${pct(result.rank1.accuracy)} (${result.rank1.correct} of ${result.rank1.probes})`,
    ...result.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
