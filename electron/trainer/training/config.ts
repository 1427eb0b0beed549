// What a training run is: everything needed to start it again or to compare it. Stored in
// run.json; validated wherever it comes from (command line, UI, disk) against the protocol's
// schema (protocol/train-config.ts); what the schema leaves open is decided here, from the
// recipe of the model and input size and the backend that trains.
import { ARCHITECTURE_NAMES, issuesOf, RESUME_OVERRIDES, trainConfigInputSchema, type ConfigIssue, type TrainConfigFields } from '#protocol/train-config';
import { defaultInputSize, recipeFor, RECIPE_KEYS } from '#protocol/train-recipes';

export { RESUME_OVERRIDES, STEP_LIMIT, recordedWithinLimits, trainConfigInputSchema, type TrainConfigInput } from '#protocol/train-config';

export const ARCHITECTURES = ARCHITECTURE_NAMES;

export type ResumeOverrides = Partial<Pick<TrainConfig, (typeof RESUME_OVERRIDES)[number]>>;

type DecidedKey = (typeof RECIPE_KEYS)[number] | 'inputSize';
/** A run's settings, every one decided: what run.json keeps. */
export type TrainConfig = Omit<TrainConfigFields, DecidedKey> & { [K in DecidedKey]-?: NonNullable<TrainConfigFields[K]> };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** The problems by field, for a viewer to show beside each (empty when the message says it all). */
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
  }
}

/**
 * Validates the settings and fills what they leave out: the input size from the backend that
 * will train (`backend`; the reference's 128 when not known), the optimisation settings from
 * the recipe of the model and input size.
 */
export function parseTrainConfig(input: unknown, context: { backend?: string } = {}): TrainConfig {
  const result = trainConfigInputSchema.safeParse(input);
  if (!result.success) {
    const issues = issuesOf(result.error);
    throw new ConfigError(`The training settings are not valid: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, issues);
  }
  const given = result.data;
  const inputSize = given.inputSize ?? defaultInputSize(context.backend).inputSize;
  const recipe = recipeFor(given.model, inputSize, given.optimizer).settings;
  const filled = { ...given, inputSize } as Record<string, unknown>;
  for (const key of RECIPE_KEYS) filled[key] ??= recipe[key];
  return filled as TrainConfig;
}
