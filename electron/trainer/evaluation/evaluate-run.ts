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
import { buildFromConfig, loadDataset, restoreWeights } from '../training/session';
import { computeEmbeddings } from './embeddings';
import { cosineSimilarities, rank1Identification, verificationReport, type Rank1Result, type VerificationReport } from './metrics';

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
  const checkpoint = await run.loadLatestCheckpoint();
  if (!checkpoint) throw new DatasetError(`Run ${run.id} has no checkpoint yet, so there is nothing to evaluate`, `Train it further: npm run lab -- resume ${run.id}`);
  const notes = [...checkpoint.warnings];
  const built = buildFromConfig(config, dataset.identities.length);
  try {
    restoreWeights(built.model, checkpoint.tensors);
  } finally {
    for (const t of checkpoint.tensors.values()) t.dispose();
  }
  try {
    let pairsSource: string;
    let parsed;
    if (options.pairsFile !== undefined) {
      parsed = parsePairs(await readFile(options.pairsFile, 'utf8'), options.pairsFile);
      pairsSource = options.pairsFile;
    } else {
      const folds = Math.min(10, Math.floor(dataset.identities.length / 2));
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
    await writeFileAtomic(join(run.dir, 'evaluation.json'), [Buffer.from(`${JSON.stringify(toJson(result), null, 2)}\n`)]);
    await run.updateRun({
      summary: {
        ...(run.record.summary ?? {}),
        evaluation: {
          step: checkpoint.step,
          pairs: pairsSource,
          accuracy: verification.tenFold.mean,
          standardError: verification.tenFold.standardError,
          auc: verification.auc,
          eer: verification.eer,
          rank1: rank1.accuracy,
        },
      },
    });
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
