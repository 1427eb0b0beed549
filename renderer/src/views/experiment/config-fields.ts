// The training config's fields as the Experiment view edits them: labels, hints and steps are
// the view's; bounds and defaults are the protocol's schema's (protocol/train-config.ts), read
// from it rather than copied, with the reference recipe's value where the schema leaves a
// setting to the recipe and neither the recipe (recipe.ts) nor labInfo.defaults names one.
import { configDefault, INITIALIZER_DESCRIPTIONS, INITIALIZERS, numberBounds, stepsPerEpoch, totalSteps, type ConfigIssue, type NumberBounds, type TrainConfigKey } from '#protocol/train-config';
import { REFERENCE_RECIPE, type RecipeKey } from '#protocol/train-recipes';

/** A setting's value as the view shows it: the user's, else what the trainer decides (recipe.ts). */
export type SettingOf = (key: string, fallback: unknown) => unknown;

export interface NumberField {
  kind: 'number';
  key: string;
  label: string;
  integer?: boolean;
  min?: number;
  max?: number;
  above?: number;
  below?: number;
  step?: number;
  hint?: string;
  fallback: number;
  /** Shown only when this holds (stepEpochs and gamma with the step schedule). */
  when?: (setting: SettingOf) => boolean;
}

export interface ChoiceField {
  kind: 'choice';
  key: string;
  label: string;
  options: { value: string; label: string }[];
  fallback: string;
  hint?: string;
  /** A line about the chosen option, after the hint. */
  optionHints?: Readonly<Record<string, string>>;
}

export type HyperField = NumberField | ChoiceField;

const scheduleIsStep = (setting: SettingOf) => setting('schedule', fallbackOf('schedule')) === 'step';

type Shown = Pick<NumberField, 'label' | 'step' | 'hint' | 'when'>;

/** A setting's value when nobody set it and neither the recipe nor labInfo names one: the schema's default, else the reference recipe's. */
export function fallbackOf(key: TrainConfigKey): unknown {
  return configDefault(key) ?? (REFERENCE_RECIPE as unknown as Partial<Record<string, unknown>>)[key as RecipeKey];
}

/** A number setting's bounds as the form's props (integer, min, max, above, below), from the schema. */
export function boundsOf(key: TrainConfigKey): Omit<NumberBounds, 'default'> {
  const { default: _default, ...bounds } = numberBounds(key) ?? { integer: false };
  return bounds;
}

/** A number setting: the view's label and hint, the schema's bounds and default. */
function numberField(key: TrainConfigKey, shown: Shown): NumberField {
  if (!numberBounds(key)) throw new Error(`internal: ${key} is not a number setting`);
  const fallback = fallbackOf(key);
  if (typeof fallback !== 'number') throw new Error(`internal: ${key} has no default`);
  return { kind: 'number', key, ...shown, ...boundsOf(key), fallback };
}

const choiceFallback = (key: TrainConfigKey): string => String(fallbackOf(key));

export const HYPER_FIELDS: HyperField[] = [
  {
    kind: 'choice',
    key: 'optimizer',
    label: 'Optimizer',
    options: [
      { value: 'sgd', label: 'SGD' },
      { value: 'adam', label: 'Adam' },
    ],
    fallback: choiceFallback('optimizer'),
  },
  numberField('lr', { label: 'Learning rate' }),
  numberField('momentum', { label: 'Momentum', step: 0.05, hint: 'SGD only' }),
  numberField('weightDecay', { label: 'Weight decay' }),
  numberField('batch', { label: 'Batch size' }),
  numberField('epochs', { label: 'Epochs' }),
  {
    kind: 'choice',
    key: 'schedule',
    label: 'Learning-rate schedule',
    options: [
      { value: 'constant', label: 'Constant' },
      { value: 'step', label: 'Step' },
      { value: 'cosine', label: 'Cosine' },
    ],
    fallback: choiceFallback('schedule'),
    hint: 'step: lr × gamma every N epochs; cosine: to 0',
  },
  numberField('stepEpochs', { label: 'Step every (epochs)', when: scheduleIsStep }),
  numberField('gamma', { label: 'Step factor (gamma)', step: 0.05, when: scheduleIsStep }),
  numberField('warmupSteps', { label: 'Warm-up steps', hint: 'linear lr warm-up; 0 = none' }),
  numberField('clipNorm', { label: 'Gradient clip norm', hint: '0 = off' }),
  {
    kind: 'choice',
    key: 'init',
    label: 'Weight initialisation',
    options: INITIALIZERS.map((name) => ({ value: name, label: name })),
    fallback: choiceFallback('init'),
    optionHints: INITIALIZER_DESCRIPTIONS,
  },
  numberField('dropout', { label: 'Dropout', step: 0.05, hint: 'before the classifier' }),
  numberField('seed', { label: 'Seed' }),
  numberField('checkpointEvery', { label: 'Checkpoint every (steps)', hint: '0 = at epoch ends only' }),
  numberField('maxSteps', { label: 'Max steps', hint: 'stop after this many; 0 = run all epochs' }),
];

/** The model fields' fallbacks, the schema's defaults (the input size's is the backend's: recipe.ts). */
export const MODEL_FALLBACKS = { model: String(configDefault('model')), width: Number(configDefault('width')), activation: String(configDefault('activation')) } as const;

/** A config with unset fields dropped (they take the trainer's defaults). */
export function cleanConfig(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined));
}

/**
 * The trainer's issues with a config (ConfigError's, as a reply's `issues` carries them, or
 * the protocol's own check of the config) by field ("lr", "layers.conv1"); what names no
 * field of the form stays in `general`.
 */
export function fieldErrors(issues: readonly ConfigIssue[], knownKeys: ReadonlySet<string>): { fields: Record<string, string>; general: string[] } {
  const fields: Record<string, string> = {};
  const general: string[] = [];
  for (const { field, message } of issues) {
    const key = field.split('.')[0] ?? '';
    if (knownKeys.has(key)) fields[field] = fields[field] ? `${fields[field]}; ${message}` : message;
    else general.push(field === 'config' ? message : `${field}: ${message}`);
  }
  return { fields, general };
}

/** A refusal's problems by field when the trainer named them (a reply's `issues`), else its message as one general problem. */
export function configProblems(error: { message: string; issues?: readonly ConfigIssue[] | undefined }, knownKeys: ReadonlySet<string>): { fields: Record<string, string>; general: string[] } {
  const issues = error.issues ?? [];
  return issues.length > 0 ? fieldErrors(issues, knownKeys) : { fields: {}, general: [error.message] };
}

/** How many steps a run will take, as the trainer counts them (training/session.ts stepsPerEpoch, totalSteps). */
export interface RunLength {
  /** Training images, about: images × (1 − holdOut) (the split holds out round(holdOut × n) of each identity's n images). */
  trainImages: number;
  /** Batches per epoch: whole batches only (the last partial one is dropped), or one when a batch is more than the training images. */
  perEpoch: number;
  epochs: number;
  batch: number;
  /** Steps the run will take: epochs × perEpoch, or maxSteps when that is smaller (and not 0). */
  total: number;
  /** Whether maxSteps stops the run before its epochs are done. */
  capped: boolean;
}

export function runLength(settings: { images: number; holdOut: number; batch: number; epochs: number; maxSteps: number }): RunLength | null {
  const { images, holdOut, batch, epochs, maxSteps } = settings;
  const whole = (n: number) => Number.isInteger(n) && n > 0;
  if (!whole(images) || !whole(batch) || !whole(epochs) || !(holdOut >= 0 && holdOut < 1) || !(maxSteps >= 0)) return null;
  const trainImages = Math.round(images * (1 - holdOut));
  // The trainer's own count (protocol/train-config.ts), on the estimated training images.
  const perEpoch = stepsPerEpoch(trainImages, batch);
  const total = totalSteps(perEpoch, epochs, maxSteps);
  return { trainImages, perEpoch, epochs, batch, total, capped: total < perEpoch * epochs };
}

/** "≈ 40 steps (10 epochs × 4 batches of 32 from about 130 training images)", or with the cap said. */
export function runLengthText(length: RunLength): string {
  const n = (v: number) => v.toLocaleString('en');
  const plural = (v: number, one: string, many: string) => `${n(v)} ${v === 1 ? one : many}`;
  const plan = `${plural(length.epochs, 'epoch', 'epochs')} × ${plural(length.perEpoch, 'batch', 'batches')} of ${n(length.batch)} from about ${n(length.trainImages)} training images`;
  return length.capped
    ? `≈ ${plural(length.total, 'step', 'steps')}: Max steps stops it before ${plan} (${n(length.epochs * length.perEpoch)} steps)`
    : `≈ ${plural(length.total, 'step', 'steps')} (${plan})`;
}
