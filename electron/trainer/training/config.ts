// What a training run is: everything needed to start it again or to compare it.
// Stored in run.json; validated wherever it comes from (command line, UI, disk).
import { z } from 'zod';
import { parseActivation } from '../../../models/activations/spec';
import { ARCHITECTURE_NAMES } from '../../../models/lightcnn-architectures';
import { DEFAULT_INITIALIZER, INITIALIZERS } from '../../../models/initializers';
import { defaultInputSize, recipeFor, RECIPE_KEYS } from './recipes';

export const ARCHITECTURES = ARCHITECTURE_NAMES;

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
 * (recipes.ts: optimizer, lr, batch, epochs, schedule, warm-up, clipping) may be left out.
 */
export const trainConfigInputSchema = z.object({
  /** A dataset path, an archive, or "synthetic[:IDxIMAGES]". */
  data: z.string().min(1),
  layout: z.enum(['auto', 'folders', 'flat']).default('auto'),
  identityRegex: z.string().optional(),
  model: z.enum(ARCHITECTURES).default('lightcnn9'),
  /** 128 (the reference) on a GPU, 64 on the CPU backends unless given (recipes.ts defaultInputSize). */
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
export type ResumeOverrides = Partial<Pick<TrainConfig, (typeof RESUME_OVERRIDES)[number]>>;

type ParsedInput = z.infer<typeof trainConfigInputSchema>;
type DecidedKey = (typeof RECIPE_KEYS)[number] | 'inputSize';
/** A run's settings, every one decided: what run.json keeps. */
export type TrainConfig = Omit<ParsedInput, DecidedKey> & { [K in DecidedKey]-?: NonNullable<ParsedInput[K]> };
export type TrainConfigInput = z.input<typeof trainConfigInputSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Validates the settings and fills what they leave out: the input size from the backend that
 * will train (`backend`; the reference's 128 when not known), the optimisation settings from
 * the recipe of the model and input size.
 */
export function parseTrainConfig(input: unknown, context: { backend?: string } = {}): TrainConfig {
  const result = trainConfigInputSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`);
    throw new ConfigError(`The training settings are not valid: ${problems.join('; ')}`);
  }
  const given = result.data;
  const inputSize = given.inputSize ?? defaultInputSize(context.backend).inputSize;
  const recipe = recipeFor(given.model, inputSize, given.optimizer).settings;
  const filled = { ...given, inputSize } as Record<string, unknown>;
  for (const key of RECIPE_KEYS) filled[key] ??= recipe[key];
  return filled as TrainConfig;
}
