// A run's record: run.json as the run store (electron/trainer/runs/run-store.ts) writes and
// reads it, the run states, and the getRun and listRuns replies that carry records to viewers.
// The store validates run.json with runRecordSchema; viewers read records with
// runRecordReader, derived from it, which also takes a newer or older lab's record.
//
// Bundled into the renderer: zod and other protocol files only, no node: modules.
import { z } from 'zod';
import { lenient, lenientObject, lenientShape } from './lenient';
import type { MetricsRow } from './metrics-rows';
import { RUN_NAME_MAX, RUN_NOTES_MAX, type ResumeCheck } from './workbench';

/** The layout of run.json; a newer lab may write a higher one. */
export const RUN_FORMAT_VERSION = 1;

/** Where a run stands; the one list of states (run.json, the trainer's state events, its status). */
export const RUN_STATES = ['running', 'paused', 'stopped', 'finished', 'failed'] as const;
export const runStateSchema = z.enum(RUN_STATES);
export type RunState = z.infer<typeof runStateSchema>;

const step = () => z.number().int().min(0);

/** The dataset a run trained on. */
export const runDatasetSchema = z.object({
  name: z.string(),
  /** The path, archive or "synthetic:..." it was opened from. */
  source: z.string(),
  /** The dataset's content hash: the same hash means the same images and labels. */
  hash: z.string(),
  identities: z.number().int().min(0),
  images: z.number().int().min(0),
  synthetic: z.boolean(),
});
export type RunDataset = z.infer<typeof runDatasetSchema>;

/**
 * Steps whose metrics rows were lost (metrics.jsonl cut, or a line damaged) and found missing
 * when the run was resumed: the curves have no points there.
 */
export const runGapSchema = z.object({ from: z.number().int().min(1), to: z.number().int().min(1), reason: z.string() });
export type RunGap = z.infer<typeof runGapSchema>;

/**
 * Where a run's weights came from when it did not train them: `lab import` of a PyTorch
 * checkpoint. Such a run has no training dataset of its own (its `dataset` says so), never
 * resumes, and is evaluated on a dataset the user names.
 */
export const runOriginSchema = z.object({
  kind: z.literal('imported'),
  /** The checkpoint file as given, and its SHA-256. */
  file: z.string(),
  sha256: z.string(),
  /** torch's serialisation: 'zip' (torch >= 1.6) or 'legacy' (pickle + raw storages). */
  format: z.enum(['zip', 'legacy']),
  /** True when the file held the identity classifier (the reference's fc2). */
  classifier: z.boolean(),
  /** What the file says about its training, when it says anything (e.g. the reference's `arch`, `epoch`). */
  notes: z.array(z.string()).default([]),
});
export type RunOrigin = z.infer<typeof runOriginSchema>;

export const runRecordSchema = z.object({
  /** The layout of this file; a newer lab may write a higher one. */
  format: z.literal(RUN_FORMAT_VERSION),
  id: z.string().min(1),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** The training configuration, free-form here; the trainer validates it with its own schema. */
  config: z.record(z.string(), z.unknown()),
  dataset: runDatasetSchema,
  /** The tfjs backend the run trained on ("tensorflow", "wasm", "cpu"...). */
  backend: z.string().min(1),
  versions: z.object({ lab: z.string(), node: z.string(), tfjs: z.string() }),
  state: runStateSchema,
  /** The process that set the state to "running" (with its host): a "running" run whose process is gone was interrupted. */
  pid: z.number().int().positive().optional(),
  host: z.string().optional(),
  failure: z.object({ step: step(), message: z.string() }).optional(),
  /** Relative to the run's folder, '/'-separated. */
  lastCheckpoint: z.object({ file: z.string(), step: step() }).optional(),
  /** What the run reached (see epochSummarySchema, stopSummarySchema), the backend's line, its resumes. */
  summary: z.record(z.string(), z.unknown()).optional(),
  /** Absent in runs without gaps and in runs of labs before gaps were recorded. */
  gaps: z.array(runGapSchema).optional(),
  /** A name the user gave the run (renameRun); the folder id stays as it is, so resume and links keep working. */
  displayName: z.string().min(1).max(RUN_NAME_MAX).optional(),
  /** The user's free-text notes about the run (setRunNotes). */
  notes: z.string().max(RUN_NOTES_MAX).optional(),
  /** Absent for runs the lab trained; see runOriginSchema. */
  origin: runOriginSchema.optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

/**
 * summary.lastEpoch: the numbers of the last epoch end (the training session's endEpoch), as
 * run.json holds them (a NaN or an infinity is written as null).
 */
export const epochSummarySchema = z.object({
  step: step(),
  epoch: step(),
  trainLoss: z.number().nullable(),
  trainAccuracy: z.number().nullable(),
  valLoss: z.number().nullable(),
  valAccuracy: z.number().nullable(),
});
export type EpochSummary = z.infer<typeof epochSummarySchema>;

/** summary.stoppedAt: the validation when a run stopped at its step limit. */
export const stopSummarySchema = z.object({ step: step(), valLoss: z.number().nullable(), valAccuracy: z.number().nullable() });
export type StopSummary = z.infer<typeof stopSummarySchema>;

// ---------------------------------------------------------------------------
// Readers for viewers: a record of another lab version is shown as far as it can be.

/**
 * run.json as a viewer reads it: only the id, creation time, state and config are needed;
 * any other field of the wrong type becomes undefined, and unknown fields are kept. The
 * state and creation time are any text, so a newer lab's state (or an odd date) is shown
 * as it is. Older records may lack `dataset` (their config's `data` names it).
 */
export const runRecordReader = z.looseObject({
  ...lenientShape(runRecordSchema.shape),
  id: runRecordSchema.shape.id,
  createdAt: z.string(),
  state: z.string().min(1),
  config: runRecordSchema.shape.config,
  dataset: lenient(lenientObject(runDatasetSchema)),
});
export type RunRecordRead = z.output<typeof runRecordReader>;

/** A nullable number read leniently: null when absent or not a number. */
const orNull = (field: z.ZodNullable<z.ZodNumber>) => field.catch(null);

/** summary.lastEpoch read leniently: its step is needed; a loss or accuracy that is not a number is null. */
export const epochSummaryReader = z.looseObject({
  step: epochSummarySchema.shape.step,
  epoch: lenient(epochSummarySchema.shape.epoch),
  trainLoss: orNull(epochSummarySchema.shape.trainLoss),
  trainAccuracy: orNull(epochSummarySchema.shape.trainAccuracy),
  valLoss: orNull(epochSummarySchema.shape.valLoss),
  valAccuracy: orNull(epochSummarySchema.shape.valAccuracy),
});

/** summary.stoppedAt read leniently. */
export const stopSummaryReader = z.looseObject({
  step: stopSummarySchema.shape.step,
  valLoss: orNull(stopSummarySchema.shape.valLoss),
  valAccuracy: orNull(stopSummarySchema.shape.valAccuracy),
});

// ---------------------------------------------------------------------------
// Replies

/** One entry of the listRuns reply, newest run first: a run whose run.json cannot be used is listed with the reason. */
export type RunListItem =
  | { ok: true; id: string; record: RunRecord; /** state says running but its process is gone (killed, crashed) */ interrupted: boolean }
  | { ok: false; id: string; /** why run.json could not be used */ reason: string };

/** getRun's `resume` (see ResumeCheck), as a schema for viewers that check it. */
export const resumeCheckSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('start') }),
  z.object({ kind: z.literal('checkpoint'), step: step(), damaged: z.array(z.object({ step: step(), reason: z.string() })) }),
  z.object({ kind: z.literal('none'), damaged: z.array(z.object({ step: step(), reason: z.string() })) }),
]);
// The schema and workbench.ts's type describe the same thing.
const _resumeCheckSame: [z.infer<typeof resumeCheckSchema>, ResumeCheck] extends [ResumeCheck, z.infer<typeof resumeCheckSchema>] ? true : never = true;
void _resumeCheckSame;

/** The getRun reply: the record, every metrics.jsonl row, the warnings reading them gave, and (not for a finished run) where a resume would start. */
export interface RunDetail {
  record: RunRecord;
  metrics: MetricsRow[];
  warnings: string[];
  resume?: ResumeCheck;
}
