// The lab's message protocol: every JSON message between a viewer (renderer or
// browser) and the trainer, as zod schemas with the TypeScript types inferred
// from them. The trainer validates everything a client sends with
// parseClientMessage (its edge: nothing from a client is trusted); clients
// trust the trainer, but parseServerMessage exists for tests and cautious
// clients. Bulk activation maps never travel here: see frames.ts.
//
// The renderer bundles this file, so it must not import node: modules, tfjs,
// or datasets: only zod, other protocol files and the models' pure activation registry.
import { z } from 'zod';
import { DEAD_RULES } from '../models/activations/registry';
import { runStateSchema, type RunDetail, type RunListItem, type RunState } from './run-record';
import { configIssueSchema, trainConfigPayloadSchema } from './train-config';
import { PROTOCOL_VERSION } from './version';
import { evaluationDataSchema, workbenchCommandSchemas, workbenchEventSchemas, type WorkbenchResult } from './workbench';

export { PROTOCOL_VERSION };

// ---------------------------------------------------------------------------
// Shared pieces

const int = () => z.number().int();

/** A run id names a folder under runs/, so it must not be able to climb out of it. */
export const runIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._-]+$/, 'a run id may only hold letters, digits, ".", "_" and "-"')
  .refine((id) => id !== '.' && id !== '..', 'a run id cannot be "." or ".."');

const layerNameSchema = z.string().min(1).max(128);
const layerListSchema = z.array(layerNameSchema).max(256);

/** Flow-control channel names ('progress', 'layerStats', 'histograms', 'frame:<layer>', 'frame:<layer>:pre', 'full:<layer>:<kind>:<filter>:<probe>'). */
const channelSchema = z.string().min(1).max(200);

/** The run states are run.json's (run-record.ts). */
export { runStateSchema, type RunState };

/** How an activation can be dead (DESIGN.md "Neurons, dead and alive"); each activation's rule is in its registry entry. */
export const deadRuleSchema = z.enum(DEAD_RULES);
export type DeadRule = z.infer<typeof deadRuleSchema>;

// ---------------------------------------------------------------------------
// Client -> trainer

const noFields = <N extends string>(name: N) => z.strictObject({ name: z.literal(name) });

/** What a viewer wants the trainer to capture; replaces that viewer's previous subscription. */
export const subscriptionSchema = z.strictObject({
  /** Activation layers whose maps this viewer shows. */
  layers: layerListSchema,
  /** Layers whose pre-activation (input to the activation) this viewer also wants. */
  preActivation: layerListSchema.default([]),
  /** One filter at full resolution for one probe; `probe` is a position in the current probe list (0-based). */
  fullMap: z
    .strictObject({
      layer: layerNameSchema,
      /** An output channel, or with kind 'preactivation' a pre-activation channel (a maxout/MFM piece: see LayerStats.filterSpace). */
      filter: int().min(0),
      probe: int().min(0),
      kind: z.enum(['activation', 'preactivation']).default('activation'),
    })
    .nullable()
    .default(null),
});

/** What an inspection pass looks at: the dataset (name, and the path or spec it came from), its images, the pass's batches, the checkpoint. */
export const inspectionInfoSchema = z.object({
  data: z.string(),
  source: z.string(),
  images: int().min(0),
  batches: int().min(0),
  checkpointStep: int().min(0),
});
export type InspectionInfo = z.infer<typeof inspectionInfoSchema>;

/** The backends a command may name (models/backend.ts BACKEND_ORDER). */
const backendNameSchema = z.enum(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);

export const commandSchema = z.discriminatedUnion('name', [
  /**
   * Start a new run; `config` is the training config input, validated by the trainer's own schema.
   * `backend` names the backend to train on (one LabInfo.backends says can train); left out, the
   * trainer's own choice (the first that can train, or the one it was started with).
   */
  z.strictObject({ name: z.literal('start'), config: trainConfigPayloadSchema, backend: backendNameSchema.optional() }),
  /** Continue a stopped run from its last checkpoint, optionally changing a few knobs. */
  z.strictObject({
    name: z.literal('resumeRun'),
    runId: runIdSchema,
    /** Resume on this backend (after a lost GPU, say) rather than the trainer's own choice. */
    backend: backendNameSchema.optional(),
    overrides: z
      .strictObject({
        lr: z.number().positive().optional(),
        clipNorm: z.number().min(0).optional(),
        epochs: int().positive().optional(),
        maxSteps: int().min(0).optional(),
      })
      .optional(),
  }),
  /**
   * Look inside a run without training it: its latest checkpoint's weights go once over `data`
   * (any dataset the lab imports, as evaluateRun's data) in inference mode, and the Train view
   * shows the pass as it shows training (maps, dead counts over the pass, health, histograms).
   * Refused while a run trains. The pass's numbers and maps are kept in the run (metrics.jsonl
   * rows marked `inspection`, a snapshot), unless another process holds the run.
   */
  z.strictObject({ name: z.literal('inspectRun'), runId: runIdSchema, data: evaluationDataSchema, backend: backendNameSchema.optional() }),
  /** Pause the current run between steps. */
  noFields('pause'),
  /** Resume a paused run. */
  noFields('resume'),
  /** Stop the current run (it is checkpointed and can be resumed with resumeRun). */
  noFields('stop'),
  /** Replace this viewer's subscription (see subscriptionSchema). */
  z.strictObject({ name: z.literal('subscribe'), ...subscriptionSchema.shape }),
  /** Pick the probe faces by dataset image index (1..16 of them), or null for the default probes. */
  z.strictObject({ name: z.literal('setProbes'), images: z.array(int().min(0)).min(1).max(16).nullable() }),
  /** How often (ms of training) the probes are run through the current weights. */
  z.strictObject({ name: z.literal('setProbeRate'), intervalMs: int().min(50).max(60_000) }),
  /** Run the probes now, whatever the rate. */
  noFields('probeNow'),
  /** Rolling window (steps) over which dead units and filters are counted. */
  z.strictObject({ name: z.literal('setStatsWindow'), steps: int().min(1).max(10_000) }),
  /** A sigmoid/tanh/smooth unit is saturated when its derivative is under this fraction of its maximum (default 0.01). */
  z.strictObject({ name: z.literal('setSaturationThreshold'), fraction: z.number().gt(0).lt(1) }),
  /** The stored record of one run. */
  z.strictObject({ name: z.literal('getRun'), runId: runIdSchema }),
  /** The runs on disk. */
  noFields('listRuns'),
  /** What the trainer is doing now. */
  noFields('status'),
  // Data, models, evaluation, export and replay (workbench.ts).
  ...workbenchCommandSchemas,
]);

/** A command as the trainer sees it after validation (defaults filled in). */
export type Command = z.output<typeof commandSchema>;
/** A command as a client may write it (defaulted fields optional). */
export type CommandInput = z.input<typeof commandSchema>;
export type CommandName = Command['name'];
export type CommandOf<N extends CommandName> = Extract<Command, { name: N }>;
export type CommandInputOf<N extends CommandName> = Extract<CommandInput, { name: N }>;

export const COMMAND_NAMES = commandSchema.options.map((option) => option.shape.name.value) as CommandName[];

export const clientMessageSchema = z.discriminatedUnion('type', [
  /** A request; the trainer answers with a `reply` carrying the same id. */
  z.strictObject({ type: z.literal('command'), id: int().min(0), command: commandSchema }),
  /** The client took the last streamed message on `channel`: the trainer may send the next one. */
  z.strictObject({ type: z.literal('ack'), channel: channelSchema }),
]);

export type ClientMessage = z.output<typeof clientMessageSchema>;
export type ClientMessageInput = z.input<typeof clientMessageSchema>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string; id?: number };

/**
 * Validates one message from a client: an object, or the JSON text of one.
 * Never throws. On failure `error` names the offending field, and `id` is set
 * when the message carried a usable request id, so the trainer can answer with
 * a `reply` instead of a bare `error`.
 */
export function parseClientMessage(raw: unknown): ParseResult<ClientMessage> {
  return parseWith(clientMessageSchema, raw);
}

// ---------------------------------------------------------------------------
// Trainer -> client

/** What the trainer knows about one activation layer: what a viewer can subscribe to. */
export const layerInfoSchema = z.object({
  layer: z.string(),
  /** The block (unit) of the model the layer belongs to. */
  unit: z.string(),
  /** The activation's name (relu, prelu, mfm, sigmoid, ...). */
  activation: z.string(),
  rule: deadRuleSchema,
  channels: int(),
  /** Channels before the activation (twice `channels` for MFM 2/1). */
  preActivationChannels: int(),
  height: int(),
  width: int(),
});
export type LayerInfo = z.infer<typeof layerInfoSchema>;

// Non-finite numbers become null in JSON, so losses are nullable.
export const trainerEventSchema = z.discriminatedUnion('type', [
  /** A run started (or resumed) on a backend. */
  z.object({
    type: z.literal('started'),
    runId: z.string(),
    step: int(),
    totalSteps: int(),
    /** One line: which backend, and why not the ones before it. */
    backend: z.string(),
    /** The backend's name alone ('webgpu', 'wasm', ...). */
    backendName: z.string().optional(),
    /** On webgpu: the adapter that trains (vendor, device, API). */
    adapter: z.string().optional(),
    resumed: z.boolean(),
    /**
     * Set when this is an inspection pass, not training: the run's weights (its checkpoint at
     * `checkpointStep`) go once over a dataset in inference mode, nothing is trained. Its
     * layerStats steps count the pass's batches (`totalSteps` of them); no progress (loss) follows.
     */
    inspection: inspectionInfoSchema.optional(),
  }),
  /** An epoch ended; val fields are null when the run has no validation split. */
  z.object({
    type: z.literal('epoch'),
    step: int(),
    epoch: int(),
    trainLoss: z.number().nullable(),
    trainAccuracy: z.number().nullable(),
    valLoss: z.number().nullable(),
    valAccuracy: z.number().nullable(),
  }),
  /** A checkpoint was written. */
  z.object({ type: z.literal('checkpoint'), step: int(), file: z.string() }),
  /** The run changed state. */
  z.object({
    type: z.literal('state'),
    state: runStateSchema,
    message: z.string().optional(),
    runId: z.string().optional(),
  }),
  /** Something the user should know that did not stop the run. */
  z.object({ type: z.literal('warning'), message: z.string() }),
  /** The probe faces in use (dataset image indices and their identity names) and the probe rate. */
  z.object({
    type: z.literal('probes'),
    images: z.array(int()),
    labels: z.array(z.string()),
    intervalMs: z.number(),
  }),
  /** The run's activation layers; sent when a run starts. */
  z.object({ type: z.literal('layers'), layers: z.array(layerInfoSchema) }),
  // Dataset import and evaluation progress (workbench.ts).
  ...workbenchEventSchemas,
]);
export type TrainerEvent = z.infer<typeof trainerEventSchema>;
export type TrainerEventType = TrainerEvent['type'];

/** One training step's numbers. */
export const progressItemSchema = z.object({
  step: int(),
  epoch: int(),
  loss: z.number().nullable(),
  accuracy: z.number(),
  lr: z.number(),
  gradNorm: z.number(),
  imagesPerSecond: z.number(),
  stepMs: z.number(),
  /** When the step ended (ms since the epoch, the trainer's clock). */
  at: z.number(),
});
export type ProgressItem = z.infer<typeof progressItemSchema>;

/** One activation layer's health over the stats window; null where the layer's rule does not apply. */
export const layerStatsSchema = z.object({
  layer: z.string(),
  activation: z.string(),
  rule: deadRuleSchema,
  filters: int(),
  /** 'pieces' (maxout, MFM): filters, units and deadFilterIndices count the pre-activation's channels (k per output channel; piece i of output c is channel i*C + c). */
  filterSpace: z.enum(['output', 'pieces']),
  units: int(),
  deadFilters: int().nullable(),
  deadUnits: int().nullable(),
  deadFilterIndices: z.array(int()),
  /**
   * Leaky ReLU, PReLU, RReLU ('cannot-die'): filters whose every unit stayed in the negative
   * regime over the window, i.e. the ones ReLU's rule would call dead; they still get a gradient.
   */
  negativeRegimeFilters: int().optional(),
  /** 'cannot-die' layers: which filters those are (the UI outlines them apart from dead ones). */
  negativeRegimeFilterIndices: z.array(int()).optional(),
  neverFiredFilters: int().nullable(),
  neverFiredUnits: int().nullable(),
  died: int(),
  revived: int(),
  mean: z.number(),
  std: z.number(),
  zeroFraction: z.number(),
  saturatedFraction: z.number().nullable(),
  negativeFraction: z.number().nullable(),
  gradOutputMeanAbs: z.number().nullable(),
  gradWeightMeanAbs: z.number().nullable(),
  weightNorm: z.number().nullable(),
  updateRatio: z.number().nullable(),
  preluSlopes: z.array(z.number()).optional(),
  pieceWinRates: z.array(z.number()).optional(),
});
export type LayerStats = z.infer<typeof layerStatsSchema>;

/**
 * One tensor's histogram (TensorBoard's histograms): HISTOGRAM_BINS equal bins from `min` to
 * `max`, the smallest and largest of all `total` values; bin i holds the values in
 * [min + i*w, min + (i+1)*w), the last bin also `max`. A tensor larger than HISTOGRAM_SAMPLE
 * values is counted on every `stride`-th value (`counted` of them), so the counts are a
 * sample's; min and max are always the whole tensor's. Null where the tensor held NaN or
 * an infinity (the histogram would say nothing).
 */
export const histogramSchema = z.object({
  min: z.number(),
  max: z.number(),
  counts: z.array(z.number()),
  counted: int(),
  total: int(),
  stride: int(),
});
export type Histogram = z.infer<typeof histogramSchema>;

export { HISTOGRAM_BINS, HISTOGRAM_SAMPLE } from './histogram-bins';

/** One activation layer's histograms at one step. */
export const layerHistogramsSchema = z.object({
  layer: z.string(),
  /** The kernel of the convolution or dense layer that feeds the activation, after the step's update. */
  weights: histogramSchema.nullable(),
  /** The activation's output on the step's training batch (training mode). */
  activations: histogramSchema.nullable(),
});
export type LayerHistograms = z.infer<typeof layerHistogramsSchema>;

/**
 * The first convolution's filters, to draw as images: its kernel after the step's update,
 * `values` in tfjs' layout [height, width, inChannels, count] flattened row-major (filter f's
 * pixel (y, x) of input channel c is values[((y * width + x) * inChannels + c) * count + f]).
 */
export const firstFiltersSchema = z.object({
  /** The convolution layer's name. */
  layer: z.string(),
  height: int(),
  width: int(),
  inChannels: int(),
  count: int(),
  values: z.array(z.number()),
});
export type FirstFilters = z.infer<typeof firstFiltersSchema>;

const welcomeSchema = z.object({ type: z.literal('welcome'), protocol: int(), lab: z.string(), pid: int() });
const replySchema = z.discriminatedUnion('ok', [
  z.object({ type: z.literal('reply'), id: int(), ok: z.literal(true), result: z.unknown() }),
  z.object({
    type: z.literal('reply'),
    id: int(),
    ok: z.literal(false),
    error: z.object({
      message: z.string(),
      code: z.string(),
      /** A refused training config's problems by field (protocol/train-config.ts ConfigIssue), for a viewer to show beside each field. */
      issues: z.array(configIssueSchema).optional(),
    }),
  }),
]);
const serverErrorSchema = z.object({ type: z.literal('error'), message: z.string() });
const eventMessageSchema = z.object({ type: z.literal('event'), event: trainerEventSchema });
const progressMessageSchema = z.object({
  type: z.literal('progress'),
  channel: z.literal('progress'),
  items: z.array(progressItemSchema),
});
const layerStatsMessageSchema = z.object({
  type: z.literal('layerStats'),
  channel: z.literal('layerStats'),
  step: int(),
  epoch: int(),
  /** Steps the dead counts were taken over. */
  window: int(),
  layers: z.array(layerStatsSchema),
});

/** One step's histograms. */
export const histogramsItemSchema = z.object({
  step: int(),
  epoch: int(),
  /** Every activation layer's weight and activation histograms, in model order. */
  layers: z.array(layerHistogramsSchema),
  /** The first convolution's filters (with the first, the last and every tenth item); null otherwise, or when the model's first layer is not a convolution. */
  filters: firstFiltersSchema.nullable(),
});
export type HistogramsItem = z.infer<typeof histogramsItemSchema>;

const histogramsMessageSchema = z.object({
  type: z.literal('histograms'),
  channel: z.literal('histograms'),
  /** The steps' histograms since the last message this viewer acked, oldest first (a history: a slow viewer gets them later, not never). */
  items: z.array(histogramsItemSchema),
});

// Server objects are not strict: an older client ignores fields it does not know.
export const serverMessageSchema = z.discriminatedUnion('type', [
  /** First message on every connection: which protocol and lab this trainer speaks. */
  welcomeSchema,
  /** The answer to the command with the same id. */
  replySchema,
  /** A client message that could not be understood and had no id to reply to. */
  serverErrorSchema,
  /** Something happened in the run (see TrainerEvent). */
  eventMessageSchema,
  /** Streamed: the steps since the last progress message this client acked (accumulated). */
  progressMessageSchema,
  /** Streamed: the latest layer health (replaces any un-acked one). */
  layerStatsMessageSchema,
  /**
   * Streamed: weight and activation histograms and the first layer's filters, every few
   * steps (accumulated while un-acked, up to a bound, as progress is). The same numbers go
   * to metrics.jsonl as `kind: 'histograms'` rows, so getRun's metrics hold the history.
   */
  histogramsMessageSchema,
]);

export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type WelcomeMessage = z.infer<typeof welcomeSchema>;
export type ReplyMessage = z.infer<typeof replySchema>;
export type ServerErrorMessage = z.infer<typeof serverErrorSchema>;
export type EventMessage = z.infer<typeof eventMessageSchema>;
export type ProgressMessage = z.infer<typeof progressMessageSchema>;
export type LayerStatsMessage = z.infer<typeof layerStatsMessageSchema>;
export type HistogramsMessage = z.infer<typeof histogramsMessageSchema>;
/** Server messages subject to flow control (one un-acked message per channel). */
export type StreamedMessage = ProgressMessage | LayerStatsMessage | HistogramsMessage;

/** Validates one message from the trainer (object or JSON text). Never throws. */
export function parseServerMessage(raw: unknown): ParseResult<ServerMessage> {
  return parseWith(serverMessageSchema, raw);
}

// ---------------------------------------------------------------------------
// Replies

/** Where the trainer is; `state` is null before any run was started or resumed in it. */
export interface RunStatus {
  state: RunState | null;
  runId: string | null;
  step: number | null;
  totalSteps: number | null;
  /** Only in the `status` reply: connected viewers and the trainer process's memory (bytes). */
  viewers?: number;
  memory?: { rss: number; heapUsed: number; arrayBuffers: number };
}

/** The subscription the trainer accepted (defaults filled in). */
export type Subscription = z.output<typeof subscriptionSchema>;

/**
 * What each command's `ok` reply carries. getRun and listRuns carry run
 * records as the run store writes them (run-record.ts) and metrics rows as
 * metrics.jsonl holds them (metrics-rows.ts).
 */
export interface CommandResult extends WorkbenchResult {
  start: { runId: string };
  resumeRun: { runId: string };
  inspectRun: { runId: string };
  pause: RunStatus;
  resume: RunStatus;
  stop: RunStatus;
  subscribe: Subscription;
  setProbes: { images: number[]; labels: string[]; intervalMs: number };
  setProbeRate: { intervalMs: number };
  probeNow: null;
  setStatsWindow: { steps: number };
  setSaturationThreshold: { fraction: number };
  getRun: RunDetail;
  listRuns: RunListItem[];
  status: RunStatus;
}

// ---------------------------------------------------------------------------

function parseWith<S extends z.ZodType>(schema: S, raw: unknown): ParseResult<z.output<S>> {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      return { ok: false, error: `message is not JSON: ${(error as Error).message}` };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: `a message must be a JSON object, got ${describe(value)}` };
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  const error = parsed.error.issues.map((issue) => formatIssue(issue, value)).join('; ');
  const id = (value as { id?: unknown }).id;
  return Number.isSafeInteger(id) && (id as number) >= 0 ? { ok: false, error, id: id as number } : { ok: false, error };
}

function formatIssue(issue: z.core.$ZodIssue, root: unknown): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'message';
  // zod's text for a bad discriminator omits what was received; say it, it is usually a typo.
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator !== undefined) {
    const received = issue.path.reduce<unknown>(
      (node, key) => (typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined),
      root,
    );
    const what = received === undefined ? `missing ${issue.discriminator}` : `unknown ${issue.discriminator} ${JSON.stringify(received)}`;
    const options = (issue as { options?: unknown[] }).options ?? [];
    return `${where}: ${what} (expected one of: ${options.map(String).join(', ')})`;
  }
  return `${where}: ${issue.message}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
