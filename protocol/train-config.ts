// A run's training settings as data: the schema every settings object is checked against,
// wherever it comes from (the command line, a viewer's start command, run.json), with its
// bounds and defaults, and what a viewer needs to show them (each number's bounds, the
// issues of a settings object by field, how many steps the settings make). The trainer fills
// what a recipe decides (train-recipes.ts) in electron/trainer/training/config.ts.
import { z } from 'zod';
import { parseActivation } from '../models/activations/registry';
import { ARCHITECTURE_NAMES } from '../models/lightcnn-architectures';
import { DEFAULT_INITIALIZER, INITIALIZERS } from '../models/initializer-names';

// What a viewer offers for these settings, from the models' pure lists.
export { ARCHITECTURE_NAMES, type ArchitectureName } from '../models/lightcnn-architectures';
export { DEFAULT_INITIALIZER, INITIALIZER_DESCRIPTIONS, INITIALIZERS, type InitializerName } from '../models/initializer-names';

const activationText = z.string().refine(
  (text) => {
    try {
      parseActivation(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a known activation (e.g. relu, leaky_relu:0.1, prelu, maxout:3, mfm:3/2)' },
);

/**
 * The most steps `maxSteps` and `checkpointEvery` may name: a billion, days of training at a
 * thousand steps a second, far past any run the lab makes, yet small enough that a mistyped
 * 1e15 is refused with a message rather than accepted (as `epochs` is bounded to 100000).
 */
export const STEP_LIMIT = 1_000_000_000;

/**
 * A recorded run's settings with step counts from before STEP_LIMIT brought within it: a run
 * saved with `checkpointEvery` or `maxSteps` of 1e15 resumes as it trained (neither count is
 * ever reached), rather than being refused for a setting resume cannot change.
 */
export function recordedWithinLimits(config: Record<string, unknown>): Record<string, unknown> {
  const clamp = (v: unknown) => (typeof v === 'number' && v > STEP_LIMIT ? STEP_LIMIT : v);
  return { ...config, ...('maxSteps' in config ? { maxSteps: clamp(config['maxSteps']) } : {}), ...('checkpointEvery' in config ? { checkpointEvery: clamp(config['checkpointEvery']) } : {}) };
}

/**
 * The settings as given: the optimisation settings a recipe chooses per model and input size
 * (train-recipes.ts: optimizer, lr, batch, epochs, schedule, warm-up, clipping) may be left out.
 */
export const trainConfigInputSchema = z.object({
  /** A dataset path, an archive, or "synthetic[:IDxIMAGES]". */
  data: z.string().min(1),
  layout: z.enum(['auto', 'folders', 'flat']).default('auto'),
  identityRegex: z.string().optional(),
  model: z.enum(ARCHITECTURE_NAMES).default('lightcnn9'),
  /** 128 (the reference) on a GPU, 64 on the CPU backends unless given (train-recipes.ts defaultInputSize). */
  inputSize: z.number().int().min(16).max(512).optional(),
  width: z.number().positive().max(4).default(1),
  /** The activation of every layer, unless `layers` names another one for a layer. */
  activation: activationText.default('mfm:2/1'),
  layers: z.record(z.string(), activationText).default({}),
  /** How the weights start (models/initializers.ts); PyTorch's default, as the reference trains. */
  init: z.enum(INITIALIZERS).default(DEFAULT_INITIALIZER),
  optimizer: z.enum(['sgd', 'adam']).optional(),
  lr: z.number().positive().optional(),
  /** The Light CNN reference: SGD momentum 0.9, weight decay 1e-4. */
  momentum: z.number().min(0).max(0.999).default(0.9),
  weightDecay: z.number().min(0).max(1).default(1e-4),
  batch: z.number().int().min(1).max(1024).optional(),
  epochs: z.number().int().min(1).max(100_000).optional(),
  /** step: lr x gamma every `stepEpochs` epochs (the reference: 0.457 every 10); cosine: to 0 over the run. */
  schedule: z.enum(['constant', 'step', 'cosine']).optional(),
  stepEpochs: z.number().int().min(1).default(10),
  gamma: z.number().positive().max(1).default(0.457),
  /** Linear learning-rate warm-up over this many first steps; 0 = none. */
  warmupSteps: z.number().int().min(0).max(1_000_000).optional(),
  /** Global gradient-norm clipping; 0 = off. */
  clipNorm: z.number().min(0).optional(),
  dropout: z.number().min(0).max(0.95).default(0.5),
  /** Fraction of each identity's images held out for validation. */
  holdOut: z.number().gt(0).lt(1).default(0.2),
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  /** Checkpoint every N steps (and at the end of every epoch); 0 = only at epoch ends. At most STEP_LIMIT. */
  checkpointEvery: z
    .number()
    .int()
    .min(0)
    .max(STEP_LIMIT, { message: `at most ${STEP_LIMIT} steps (a billion); use 0 to checkpoint only at the end of each epoch` })
    .default(0),
  /**
   * Stop after this many steps in all (0 = run all epochs): bounded runs for quick looks. The run stays resumable.
   * At most STEP_LIMIT, as epochs are at most 100000: a typo of a few digits is refused, not trained towards.
   */
  maxSteps: z
    .number()
    .int()
    .min(0)
    .max(STEP_LIMIT, { message: `at most ${STEP_LIMIT} steps (a billion); use 0 for no step limit (the run then ends after its epochs)` })
    .default(0),
});

/** Settings `lab resume` may change; each change is recorded in run.json. */
export const RESUME_OVERRIDES = ['lr', 'clipNorm', 'epochs', 'maxSteps'] as const;

export type TrainConfigInput = z.input<typeof trainConfigInputSchema>;
/** The settings as the schema leaves them (defaults filled; what a recipe decides may still be missing). */
export type TrainConfigFields = z.infer<typeof trainConfigInputSchema>;
export type TrainConfigKey = keyof TrainConfigFields;

/**
 * A settings object as a command carries it (start, describeModel): its keys are the schema's
 * (a misspelt setting does not compile), its values are checked by the trainer, field by field,
 * which answers a refusal with its issues by field (ConfigError) where a whole-message parse
 * error could not. Here it is checked only for being an object.
 */
export type TrainConfigPayload = { readonly [K in keyof TrainConfigInput]?: unknown };

export const trainConfigPayloadSchema = z.custom<TrainConfigPayload>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
  message: 'a training config is an object of settings',
});

// ---------------------------------------------------------------------------- for viewers

/** One problem with a settings object: the field it concerns ("lr", "layers.conv1"; "config" for the whole) and what is wrong. */
export interface ConfigIssue {
  readonly field: string;
  readonly message: string;
}

export const configIssueSchema = z.object({ field: z.string(), message: z.string() });

/** The schema's complaints about `input`, by field; [] when it is valid. */
export function configIssues(input: unknown): ConfigIssue[] {
  const result = trainConfigInputSchema.safeParse(input);
  return result.success ? [] : issuesOf(result.error);
}

/** A failed parse of a settings object as issues by field ("config" for the object itself). */
export function issuesOf(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || 'config', message: issue.message }));
}

/** A number setting's bounds as the schema states them (inclusive min/max, exclusive above/below), and its default. */
export interface NumberBounds {
  readonly integer: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
  readonly below?: number;
  readonly default?: number;
}

interface CheckDef {
  readonly check?: string;
  readonly format?: string;
  readonly value?: number;
  readonly inclusive?: boolean;
}

/** Unwraps optional and default: the field's own schema, and its default if it has one. */
function fieldSchema(key: TrainConfigKey): { schema: z.ZodType; fallback: unknown } {
  let schema = trainConfigInputSchema.shape[key] as z.ZodType;
  let fallback: unknown;
  for (;;) {
    const def = schema._zod.def as { type: string; innerType?: z.ZodType; defaultValue?: unknown };
    if (def.type === 'default') fallback = def.defaultValue;
    if ((def.type === 'optional' || def.type === 'default') && def.innerType) schema = def.innerType;
    else return { schema, fallback };
  }
}

/** The bounds of a number setting; null for a setting that is not a number. */
export function numberBounds(key: TrainConfigKey): NumberBounds | null {
  const { schema, fallback } = fieldSchema(key);
  const def = schema._zod.def as { type: string; checks?: Array<{ _zod: { def: CheckDef } }> };
  if (def.type !== 'number') return null;
  let bounds: { -readonly [K in keyof NumberBounds]: NumberBounds[K] } = { integer: false };
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32')) bounds.integer = true;
    if (c.check === 'greater_than' && c.value !== undefined) bounds = c.inclusive ? { ...bounds, min: c.value } : { ...bounds, above: c.value };
    if (c.check === 'less_than' && c.value !== undefined) bounds = c.inclusive ? { ...bounds, max: c.value } : { ...bounds, below: c.value };
  }
  return typeof fallback === 'number' ? { ...bounds, default: fallback } : bounds;
}

/** A setting's default as the schema states it (undefined: the recipe or the backend decides it, or it has none). */
export function configDefault(key: TrainConfigKey): unknown {
  return fieldSchema(key).fallback;
}

// ---------------------------------------------------------------------------- run length

/**
 * Batches per epoch, as the trainer counts them: whole batches only (the last partial one is
 * dropped), or one when the training images do not fill a batch.
 */
export function stepsPerEpoch(trainImages: number, batch: number): number {
  return trainImages >= batch ? Math.floor(trainImages / batch) : trainImages > 0 ? 1 : 0;
}

/** Steps a run takes: every epoch's batches, or `maxSteps` when that is smaller (0: no limit). */
export function totalSteps(perEpoch: number, epochs: number, maxSteps: number): number {
  const all = perEpoch * epochs;
  return maxSteps > 0 ? Math.min(all, maxSteps) : all;
}
