// `lab eval`: a trained run's face verification quality on a pairs protocol (LFW's
// pairs.txt format) and its closed-set identification on the held-out images.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from '../../../datasets/errors';
import { generatePairs, parsePairs, resolvePairs } from '../../../datasets/pairs';
import { classificationSplit } from '../../../datasets/splits';
import { writeFileAtomic } from '../../../datasets/atomic-file';
import { resolveRun } from '../runs/run-store';
import { selectBackend } from '../../../models/backend';
import { parseTrainConfig } from '../training/config';
import { buildFromConfig, checkSameDataset, loadDataset, restoreWeights, TrainingError } from '../training/run-model';
import { computeEmbeddings } from './embeddings';
import { cosineSimilarities, rank1Identification, verificationReport, type Rank1Result, type VerificationReport } from './metrics';

export const EVALUATION_FILE = 'evaluation.json';

/** The headline numbers of a run's last evaluation, for listings. */
export async function readEvaluationSummary(runDir: string): Promise<{ accuracy: number; auc: number; step: number } | null> {
  try {
    const saved = JSON.parse(await readFile(join(runDir, EVALUATION_FILE), 'utf8')) as { step: number; verification: { auc: number; tenFold: { mean: number } } };
    return { accuracy: saved.verification.tenFold.mean, auc: saved.verification.auc, step: saved.step };
  } catch {
    return null;
  }
}

export interface EvaluationResult {
  readonly runId: string;
  readonly step: number;
  /** Where the pairs came from: a file, or generated from the dataset (seeded). */
  readonly pairsSource: string;
  readonly verification: VerificationReport;
  readonly rank1: Rank1Result;
  readonly notes: readonly string[];
}

export async function evaluateRun(runRef: string, options: { dataDir: string; pairsFile?: string; batchSize?: number }): Promise<EvaluationResult> {
  const run = await resolveRun(options.dataDir, runRef);
  await selectBackend({ purpose: 'infer' });
  const config = parseTrainConfig(run.record.config);
  const dataset = await loadDataset(config, options.dataDir);
  checkSameDataset(run.record.dataset.hash, dataset, run.id);
  const checkpoint = await run.loadLatestCheckpoint();
  if (!checkpoint) throw new TrainingError(`Run ${run.id} has no checkpoint yet, so there is nothing to evaluate: train it further with npm run lab -- resume ${run.id}`);
  const notes = [...checkpoint.warnings];
  const built = buildFromConfig(config, dataset.identities.length);
  try {
    try {
      restoreWeights(built.model, checkpoint.tensors);
    } finally {
      for (const t of checkpoint.tensors.values()) t.dispose();
    }
    let pairsSource: string;
    let parsed;
    if (options.pairsFile !== undefined) {
      const text = await readFile(options.pairsFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new DatasetError(`The pairs file cannot be read (${error.code ?? error.message})`, "Check the path; it should be a text file in LFW's pairs.txt format", options.pairsFile);
      });
      parsed = parsePairs(text, options.pairsFile);
      pairsSource = options.pairsFile;
    } else {
      const folds = Math.min(10, Math.floor(dataset.identities.length / 2));
      if (folds < 2) {
        throw new DatasetError(
          `Verification pairs need at least 2 identity-disjoint folds, so at least 4 identities; this dataset has ${dataset.identities.length}`,
          'Evaluate on a pairs file of another dataset with --pairs, or train on more identities',
        );
      }
      const generated = generatePairs(dataset, { folds, seed: config.seed });
      notes.push(`pairs generated from the dataset (${folds} identity-disjoint folds, seed ${config.seed}); the identities were also seen in training, so this measures fit, not generalisation: pass --pairs for a protocol on other people`, ...generated.notes);
      parsed = generated;
      pairsSource = 'generated';
    }
    const pairs = resolvePairs(parsed, dataset, pairsSource);
    const split = classificationSplit(dataset, { holdOutFraction: config.holdOut, seed: config.seed });
    const source = { pixels: await dataset.pixels(), storedSize: dataset.storedSize, labels: dataset.imageIdentity };
    // Embed every image once: the pairs and the identification share them.
    const all = Int32Array.from(dataset.images.keys());
    const { values, dim } = await computeEmbeddings(built.embedding, source, all, config.inputSize, options.batchSize ?? config.batch);
    const scores = cosineSimilarities(values, dim, pairs.a, pairs.b);
    const verification = verificationReport(scores, pairs.matched, pairs.fold);
    const labelsOf = (indices: Int32Array) => Int32Array.from(indices, (i) => dataset.imageIdentity[i] as number);
    const rank1 = rank1Identification(values, dim, split.train, labelsOf(split.train), split.test, labelsOf(split.test));
    const result: EvaluationResult = { runId: run.id, step: checkpoint.step, pairsSource, verification, rank1, notes };
    // Only evaluation.json: run.json belongs to the process that trains the run.
    await writeFileAtomic(join(run.dir, EVALUATION_FILE), [Buffer.from(`${JSON.stringify(toJson(result), null, 2)}\n`)]);
    return result;
  } finally {
    built.model.dispose();
  }
}

/** Typed arrays and infinities made JSON-safe. */
function toJson(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => (Number.isFinite(v) ? v : String(v)));
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

export function formatEvaluation(result: EvaluationResult): string {
  const v = result.verification;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return [
    `Run ${result.runId}, checkpoint at step ${result.step}`,
    `Pairs: ${result.pairsSource} (${v.matchedPairs} matched, ${v.mismatchedPairs} mismatched, ${v.tenFold.foldAccuracies.length} folds)`,
    `Verification accuracy: ${pct(v.tenFold.mean)} ± ${pct(v.tenFold.standardError)} (mean ± standard error over folds, threshold chosen on the other folds)`,
    `ROC AUC: ${v.auc.toFixed(4)}   EER: ${pct(v.eer)}`,
    ...v.tarAtFar.map((t) => `TAR @ FAR ${pct(t.far)}: ${pct(t.tar)}`),
    `Rank-1 identification on held-out images: ${pct(result.rank1.accuracy)} (${result.rank1.correct} of ${result.rank1.probes})`,
    ...result.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
