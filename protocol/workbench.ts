// The protocol's workbench commands: what the desktop views need besides a live run
// (the Data, Experiment, Runs and Evaluate views). Split from messages.ts, which joins
// these schemas into its command union, so that each file stays about one thing.
//
// Paths. In the desktop app a path reaches the trainer only as a *grant*: main shows a
// native dialog, and sends the path the user chose straight to the trainer under a random
// id; the window gets only the id and a label to show. A viewer connected through the
// app therefore cannot name any other file (see LabInfo.pathInput). In serve mode the
// person at the browser is the one who started `lab serve` with its token, so typed paths
// are accepted there.
//
// Like messages.ts, this file is bundled into the renderer: zod only, no node: modules.
import { z } from 'zod';
import { parseActivation, type DeadRule } from '../models/activations/registry';
import { ARCHITECTURE_NAMES, trainConfigPayloadSchema } from './train-config';

/** How many people and images per person a synthetic set may have (the form offers the same). */
export const SYNTHETIC_LIMITS = { identities: { min: 2, max: 1000 }, imagesPerIdentity: { min: 2, max: 200 } } as const;
/** How many identities describeModel's classifier may be sized for. */
export const DESCRIBE_IDENTITIES = { min: 2, max: 1_000_000 } as const;

const int = () => z.number().int();

/** A random id main gave a path the user picked in a native dialog. */
export const grantIdSchema = z.string().regex(/^[a-f0-9]{32}$/, 'a grant is the 32 hex digits main returned for a dialog');

export const pathRefSchema = z.discriminatedUnion('kind', [
  /** Serve mode only: a path typed by the user. */
  z.strictObject({ kind: z.literal('typed'), path: z.string().min(1).max(4096) }),
  /** Desktop app: a path the user picked in a native dialog (see the file comment). */
  z.strictObject({ kind: z.literal('grant'), grant: grantIdSchema }),
]);
export type PathRef = z.infer<typeof pathRefSchema>;

export const datasetSourceSchema = z.discriminatedUnion('kind', [
  /** A folder of identities, a flat folder, or a zip/tar/tar.gz archive. */
  z.strictObject({
    kind: z.literal('path'),
    path: pathRefSchema,
    layout: z.enum(['auto', 'folders', 'flat']).default('auto'),
    /** Flat folders: a regex whose first group is the identity (default: text before the first "."). */
    identityRegex: z.string().min(1).max(500).optional(),
  }),
  /** The seeded synthetic face set (no download, no real people). */
  z.strictObject({
    kind: z.literal('synthetic'),
    identities: int().min(SYNTHETIC_LIMITS.identities.min).max(SYNTHETIC_LIMITS.identities.max).default(20),
    imagesPerIdentity: int().min(SYNTHETIC_LIMITS.imagesPerIdentity.min).max(SYNTHETIC_LIMITS.imagesPerIdentity.max).default(10),
  }),
  /** A dataset from the catalog (ORL, Yale, LFW, ...): downloaded if needed, then imported. The terms must have been shown and accepted. */
  z.strictObject({ kind: z.literal('catalog'), id: z.string().min(1).max(100), acceptTerms: z.literal(true) }),
]);
export type DatasetSource = z.input<typeof datasetSourceSchema>;

/** A dataset to evaluate a run on (evaluateRun's `data`): a folder or archive, or the synthetic set. */
export const evaluationDataSchema = z.discriminatedUnion('kind', [datasetSourceSchema.options[0], datasetSourceSchema.options[1]]);
export type EvaluationDataSource = z.input<typeof evaluationDataSchema>;

/** A dataset the trainer opened in this session: start configs and face requests name it by `data`. */
const dataRefSchema = z.string().min(1).max(4200);


/** What a run can be exported for (exportRunFor; the command line's `lab export --format`). */
export const INTERCHANGE_FORMATS = ['pytorch', 'onnx', 'torchrun'] as const;
export type InterchangeFormat = (typeof INTERCHANGE_FORMATS)[number];

/** An activation the lab knows, as text (relu, leaky_relu:0.1, mfm:3/2, ...): importCheckpoint's override. */
const activationOverrideSchema = z
  .string()
  .min(1)
  .max(200)
  .refine(
    (text) => {
      try {
        parseActivation(text);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a known activation (e.g. mfm:2/1, relu, leaky_relu:0.1, prelu, maxout:3)' },
  );

/** The longest display name a run may have (characters). */
export const RUN_NAME_MAX = 120;
/** The longest notes a run may have (characters). */
export const RUN_NOTES_MAX = 10_000;

export const workbenchCommandSchemas = [
  /** What the trainer can do here: backend, models, activations, presets, catalog, defaults, how paths are given. */
  z.strictObject({ name: z.literal('labInfo') }),
  /** The model a config would build: its layers (and which can take their own activation) and parameter count. */
  z.strictObject({ name: z.literal('describeModel'), config: trainConfigPayloadSchema, identities: int().min(DESCRIBE_IDENTITIES.min).max(DESCRIBE_IDENTITIES.max).default(40) }),
  /** Import (or re-open from the cache) a dataset; `importProgress` events follow it. */
  z.strictObject({ name: z.literal('importDataset'), source: datasetSourceSchema, inputSize: int().min(16).max(512).default(128) }),
  /** Sample faces of an opened dataset, a page of identities at a time, as small grey PNGs. */
  z.strictObject({
    name: z.literal('datasetFaces'),
    data: dataRefSchema,
    identityOffset: int().min(0).default(0),
    identityLimit: int().min(1).max(100).default(24),
    perIdentity: int().min(1).max(16).default(6),
    size: int().min(16).max(160).default(64),
  }),
  /** Evaluate a run's latest checkpoint on a pairs protocol; `evaluateProgress` events follow it. Writes the run's evaluation.json. */
  z.strictObject({
    name: z.literal('evaluateRun'),
    runId: z.string().min(1).max(200),
    /** A pairs file in LFW's pairs.txt format; omitted: seeded identity-disjoint pairs generated from the evaluated dataset. */
    pairs: pathRefSchema.optional(),
    /**
     * Evaluate on this dataset instead of the run's own (LFW's protocol: a model trained on other
     * data); required for a run imported from a checkpoint. A folder or archive, or the synthetic set.
     */
    data: evaluationDataSchema.optional(),
    /** How many hardest false matches / non-matches to return with their faces. */
    hardest: int().min(0).max(32).default(8),
  }),
  /** The run's last saved evaluation, or null. */
  z.strictObject({ name: z.literal('getEvaluation'), runId: z.string().min(1).max(200) }),
  /** Writes the run (record, metrics, evaluation, snapshots, latest checkpoint) as one .tar.gz. */
  z.strictObject({ name: z.literal('exportRun'), runId: z.string().min(1).max(200), destination: pathRefSchema }),
  /** The activation-map snapshots a run recorded (one per epoch end). */
  z.strictObject({ name: z.literal('listSnapshots'), runId: z.string().min(1).max(200) }),
  /** One recorded snapshot: its activation frames (protocol/frames.ts), base64-encoded. */
  z.strictObject({ name: z.literal('loadSnapshot'), runId: z.string().min(1).max(200), step: int().min(0) }),
  /** Gives the run a display name, kept in its run.json ("" removes it); the run's id (its folder) never changes. */
  z.strictObject({
    name: z.literal('renameRun'),
    runId: z.string().min(1).max(200),
    displayName: z.string().max(RUN_NAME_MAX, `a run name may be at most ${RUN_NAME_MAX} characters: shorten it (longer text belongs in the notes)`),
  }),
  /** Sets the run's free-text notes, kept in its run.json (blank text removes them). */
  z.strictObject({
    name: z.literal('setRunNotes'),
    runId: z.string().min(1).max(200),
    notes: z.string().max(RUN_NOTES_MAX, `run notes may be at most ${RUN_NOTES_MAX} characters: shorten them`),
  }),
  /** Moves the run's folder to <data folder>/trash/ (nothing is deleted); refused while it trains. */
  z.strictObject({ name: z.literal('deleteRun'), runId: z.string().min(1).max(200) }),
  /**
   * Makes a run of a PyTorch checkpoint (`lab import`): the file's pickles are parsed, never run;
   * the architecture, width and input size come from its tensors unless given here (the
   * activation is MFM 2/1 unless given). Every tensor is checked against the network the lab builds.
   */
  z.strictObject({
    name: z.literal('importCheckpoint'),
    /** The checkpoint file (a grant from an open dialog, or typed in serve mode). */
    source: pathRefSchema,
    /** The run's display name (`lab import --name`); `name` is the command's own. */
    displayName: z.string().trim().min(1).max(RUN_NAME_MAX, `a run name may be at most ${RUN_NAME_MAX} characters: shorten it`).optional(),
    model: z.enum(ARCHITECTURE_NAMES).optional(),
    activation: activationOverrideSchema.optional(),
    width: z.number().positive().max(4).optional(),
    inputSize: int().min(16).max(512).optional(),
  }),
  /**
   * Writes a run's network for other tools (`lab export`) into a folder: PyTorch (model.pt,
   * model.py), ONNX (model.onnx) or torchrun (the experiment for DDP). A folder that holds files
   * is refused ('exists') unless `force` (files of the same names are replaced).
   */
  z.strictObject({
    name: z.literal('exportRunFor'),
    runId: z.string().min(1).max(200),
    format: z.enum(INTERCHANGE_FORMATS),
    /** The folder to write into (a grant from a folder dialog, or typed in serve mode; created when missing). */
    destination: pathRefSchema,
    force: z.boolean().default(false),
  }),
] as const;

// ---------------------------------------------------------------------------
// Events

export const workbenchEventSchemas = [
  /** A dataset import is under way (one per phase change and about every 250 ms). */
  z.object({
    type: z.literal('importProgress'),
    /** The command id of the importDataset request. */
    requestId: int(),
    phase: z.enum(['downloading', 'scanning', 'decoding', 'writing', 'done']),
    done: z.number(),
    /** null while unknown (an archive read as a stream). */
    total: z.number().nullable(),
    /** What is being downloaded or read, for the user. */
    detail: z.string().optional(),
  }),
  /** An evaluation is under way. */
  z.object({
    type: z.literal('evaluateProgress'),
    requestId: int(),
    runId: z.string(),
    phase: z.enum(['loading', 'embedding', 'scoring', 'done']),
    done: z.number(),
    total: z.number().nullable(),
  }),
] as const;

// ---------------------------------------------------------------------------
// Replies

export interface BackendInfo {
  /** The backend training would use: 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** One line: which backend, and why not the ones before it. */
  summary: string;
  canTrain: boolean;
  /** On webgpu: the adapter (vendor, device, API) and the limits that bound the lab's tensors. */
  adapter?: string;
}

/** One backend of the chain as this trainer found it: whether a run can train on it here, and why (not). */
export interface BackendOption {
  /** 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm' or 'cpu', in the order automatic choice tries them. */
  name: string;
  /** A run started with this backend named would train on it. */
  canTrain: boolean;
  /** One phrase: what it runs on, or why it cannot be used here (with what to install). */
  reason: string;
  /** On webgpu: the adapter, as in BackendInfo. */
  adapter?: string;
}

export interface PresetInfo {
  name: string;
  title: string;
  claim: string;
  compareWith: string[];
  /** A training config without `data`. */
  config: Record<string, unknown>;
}

export interface CatalogInfo {
  id: string;
  name: string;
  description: string;
  homePage: string;
  identities: number;
  images: number;
  /** Total download size in bytes, when the catalog knows it. */
  downloadBytes: number | null;
  /** The terms the user must accept before the download, word for word. */
  terms: string;
  citation: string;
  /** Already downloaded into the lab's data folder. */
  downloaded: boolean;
}

export interface LabInfo {
  lab: string;
  backend: BackendInfo;
  /** Every backend of the chain, in order, with why it can (not) train here: what a run may name as its `backend`. */
  backends: BackendOption[];
  /** 'dialog': paths come only from native dialogs (desktop app); 'typed': the user types them (serve mode). */
  pathInput: 'dialog' | 'typed';
  architectures: string[];
  /** Every activation: its name, an example of its parameters (e.g. "leaky_relu:0.1", "mfm:3/2"), what "dead" means for it, and what it computes in a line (this trainer always sends it). */
  activations: { name: string; example: string; rule: DeadRule; description?: string }[];
  presets: PresetInfo[];
  catalog: CatalogInfo[];
  /** The training config's defaults (the Light CNN reference's hyper-parameters). */
  defaults: Record<string, unknown>;
}

export interface ModelLayerView {
  name: string;
  kind: string;
  detail: string;
  outputShape: number[];
  params: number;
}

export interface ModelDescription {
  layers: ModelLayerView[];
  /** Layers whose activation can be chosen: the keys a config's `layers` record takes. */
  activationLayers: { layer: string; unit: string; activation: string }[];
  totalParams: number;
  macsPerImage: number;
}

export interface SkippedFileView {
  path: string;
  reason: string;
}

/** An imported image worth a look (datasets/report-notes.ts ImageNotice), by name. */
export interface ImageNoticeView {
  path: string;
  /** name: the file name says another kind of file than the content; size: not the dataset's usual size. */
  kind: 'name' | 'size';
  note: string;
}

export interface DatasetSummary {
  /** What a training config's `data` is set to for this dataset (and what datasetFaces takes). */
  data: string;
  /** A short name to show (folder, archive or catalog name). */
  label: string;
  synthetic: boolean;
  layout: string;
  identityRule: string;
  identities: number;
  images: number;
  imagesPerIdentity: { min: number; median: number; max: number };
  storedSize: number;
  decoded: number;
  reused: number;
  removed: number;
  skipped: SkippedFileView[];
  seconds: number;
  /** Terms and citation of a catalog dataset, to keep in view. */
  citation?: string;
  /**
   * Imported images worth a look, by name: misnamed files and images of another size than
   * usual (name notices first). At most MAX_NOTICES_LISTED; `noticesLeftOut` counts the rest.
   * Absent from older trainers.
   */
  notices?: ImageNoticeView[];
  /** Notices beyond those listed (0 or absent: all are listed). */
  noticesLeftOut?: number;
  /** The size most images have (at least half of them), or null when sizes vary. Absent from older trainers. */
  usualSize?: { width: number; height: number; images: number } | null;
}

/**
 * getRun's `resume` (absent from older trainers, and for a finished run): where a resume would
 * start, checked on the run's checkpoints rather than taken from run.json. 'none': every
 * checkpoint is damaged (each with its reason); 'checkpoint' may list newer damaged ones.
 */
export type ResumeCheck =
  | { kind: 'start' }
  | { kind: 'checkpoint'; step: number; damaged: { step: number; reason: string }[] }
  | { kind: 'none'; damaged: { step: number; reason: string }[] };

export interface FaceThumb {
  /** The image's index in the dataset (what setProbes takes). */
  image: number;
  /** A grey PNG as a data: URL. */
  png: string;
}

export interface DatasetFaces {
  totalIdentities: number;
  identities: { index: number; name: string; count: number; faces: FaceThumb[] }[];
}

export interface PairFace extends FaceThumb {
  identity: string;
}

export interface PairView {
  score: number;
  a: PairFace;
  b: PairFace;
}

export interface EvaluationView {
  runId: string;
  step: number;
  pairsSource: string;
  pairs: number;
  matchedPairs: number;
  mismatchedPairs: number;
  /** Mean verification accuracy over folds, threshold chosen on the other folds. */
  accuracy: number;
  standardError: number;
  folds: number;
  auc: number;
  eer: number;
  tarAtFar: { far: number; tar: number }[];
  /** The ROC curve, thinned to at most a few hundred points (far ascending). */
  roc: { far: number[]; tar: number[] };
  histogram: { edges: number[]; matched: number[]; mismatched: number[] };
  rank1: { accuracy: number; correct: number; probes: number };
  /** Mismatched pairs with the highest scores. */
  hardestFalseMatches: PairView[];
  /** Matched pairs with the lowest scores. */
  hardestFalseNonMatches: PairView[];
  notes: string[];
  /** The dataset the pairs were scored on; absent in evaluations saved before other datasets could be evaluated on. */
  data?: EvaluationDataset;
  /** What of the pairs the run trained on; absent in the same older evaluations. */
  overlap?: EvaluationOverlap;
}

/** The dataset an evaluation embedded: the run's own, or another one it was given. */
export interface EvaluationDataset {
  name: string;
  /** The path, archive or "synthetic:..." it was opened from. */
  source: string;
  hash: string;
  identities: number;
  images: number;
}

/**
 * The identities (by name) and images (by content) of the pairs that the run trained on. A figure
 * with any is not comparable with published ones. `checked` false: not known (an imported run,
 * or a training dataset that cannot be opened), `note` says why.
 */
export interface EvaluationOverlap {
  checked: boolean;
  identities: number;
  /** Sorted, at most 20 of them. */
  identityNames: string[];
  images: number;
  /** The pairs' identities named like IDs (s1, 0001) on another dataset than the run's: not compared by name. */
  idNamesNotCompared?: number;
  note?: string;
}

export interface SnapshotInfo {
  step: number;
  epoch: number;
  layers: string[];
  probes: number;
  bytes: number;
  /** Set when an inspection pass took these maps: the dataset its probe faces are from (not training's). */
  inspection?: { data: string; at: string };
}

/** What importCheckpoint made of a checkpoint: the new run and how its settings were decided. */
export interface CheckpointImportView {
  runId: string;
  /** torch.save's format: 'zip' (PyTorch 1.6 and later) or 'legacy' (the published Light CNN files). */
  format: string;
  /** The network the run holds. */
  config: { model: string; inputSize: number; width: number; activation: string };
  /** present: the file had an identity classifier (fc2) of `classes` identities; absent, the embedding is what the run gives. */
  classifier: { present: boolean; classes: number };
  /** Parameters without the classifier. */
  parameters: number;
  /** How each setting was decided, in words (e.g. "width: 1 (conv1's channels)"). */
  decisions: string[];
  /** What else the file says (e.g. "arch: LightCNN-9", "epoch: 80"), as "key: value". */
  notes: string[];
}

/** Where exportRunFor wrote a run's files. */
export interface InterchangeExportView {
  runId: string;
  format: InterchangeFormat;
  /** The folder written into. */
  dir: string;
  /** The files written, by name. */
  files: string[];
  /** The step of the weights exported (the run's latest checkpoint). */
  step: number;
}

export interface WorkbenchResult {
  labInfo: LabInfo;
  describeModel: ModelDescription;
  importDataset: DatasetSummary;
  datasetFaces: DatasetFaces;
  evaluateRun: EvaluationView;
  getEvaluation: EvaluationView | null;
  exportRun: { file: string; bytes: number };
  listSnapshots: { snapshots: SnapshotInfo[] };
  loadSnapshot: { step: number; epoch: number; probeLabels: string[]; frames: string[] };
  /** displayName: null when the name was removed. */
  renameRun: { runId: string; displayName: string | null };
  setRunNotes: { runId: string; notes: string };
  /** trashedTo: the folder's new place; restore: one sentence saying how to bring it back. */
  deleteRun: { runId: string; trashedTo: string; restore: string };
  importCheckpoint: CheckpointImportView;
  exportRunFor: InterchangeExportView;
}
