// The training config's fields as the Experiment view edits them, with the trainer's defaults
// (electron/trainer/training/config.ts) to fall back on where neither the recipe (recipe.ts)
// nor labInfo.defaults names one, and the trainer's "settings are not valid" message split by field.
import { INITIALIZER_DESCRIPTIONS, INITIALIZERS } from '../../../../models/initializer-names';

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

const scheduleIsStep = (setting: SettingOf) => setting('schedule', 'step') === 'step';

export const HYPER_FIELDS: HyperField[] = [
  {
    kind: 'choice',
    key: 'optimizer',
    label: 'Optimizer',
    options: [
      { value: 'sgd', label: 'SGD' },
      { value: 'adam', label: 'Adam' },
    ],
    fallback: 'sgd',
  },
  { kind: 'number', key: 'lr', label: 'Learning rate', above: 0, fallback: 0.01 },
  { kind: 'number', key: 'momentum', label: 'Momentum', min: 0, max: 0.999, step: 0.05, fallback: 0.9, hint: 'SGD only' },
  { kind: 'number', key: 'weightDecay', label: 'Weight decay', min: 0, fallback: 1e-4 },
  { kind: 'number', key: 'batch', label: 'Batch size', integer: true, min: 1, max: 1024, fallback: 64 },
  { kind: 'number', key: 'epochs', label: 'Epochs', integer: true, min: 1, max: 100_000, fallback: 5 },
  {
    kind: 'choice',
    key: 'schedule',
    label: 'Learning-rate schedule',
    options: [
      { value: 'constant', label: 'Constant' },
      { value: 'step', label: 'Step' },
      { value: 'cosine', label: 'Cosine' },
    ],
    fallback: 'step',
    hint: 'step: lr × gamma every N epochs; cosine: to 0',
  },
  { kind: 'number', key: 'stepEpochs', label: 'Step every (epochs)', integer: true, min: 1, fallback: 10, when: scheduleIsStep },
  { kind: 'number', key: 'gamma', label: 'Step factor (gamma)', above: 0, max: 1, step: 0.05, fallback: 0.457, when: scheduleIsStep },
  { kind: 'number', key: 'warmupSteps', label: 'Warm-up steps', integer: true, min: 0, max: 1_000_000, fallback: 0, hint: 'linear lr warm-up; 0 = none' },
  { kind: 'number', key: 'clipNorm', label: 'Gradient clip norm', min: 0, fallback: 0, hint: '0 = off' },
  {
    kind: 'choice',
    key: 'init',
    label: 'Weight initialisation',
    options: INITIALIZERS.map((name) => ({ value: name, label: name })),
    fallback: 'pytorch',
    optionHints: INITIALIZER_DESCRIPTIONS,
  },
  { kind: 'number', key: 'dropout', label: 'Dropout', min: 0, max: 0.95, step: 0.05, fallback: 0.5, hint: 'before the classifier' },
  { kind: 'number', key: 'seed', label: 'Seed', integer: true, min: 0, max: 4294967295, fallback: 1 },
  { kind: 'number', key: 'checkpointEvery', label: 'Checkpoint every (steps)', integer: true, min: 0, max: 1_000_000_000, fallback: 0, hint: '0 = at epoch ends only' },
  { kind: 'number', key: 'maxSteps', label: 'Max steps', integer: true, min: 0, max: 1_000_000_000, fallback: 0, hint: 'stop after this many; 0 = run all epochs' },
];

/** The model fields' fallbacks, as in config.ts (the input size's is the backend's: recipe.ts). */
export const MODEL_FALLBACKS = { model: 'lightcnn9', width: 1, activation: 'mfm:2/1' } as const;

/** A config with unset fields dropped (they take the trainer's defaults). */
export function cleanConfig(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined));
}

/**
 * Splits the trainer's config complaint ("The training settings are not valid: lr: Too
 * small...; layers.conv1: not a known activation") into messages per field ("lr",
 * "layers.conv1"); what names no field stays in `general`.
 */
export function fieldErrors(message: string, knownKeys: ReadonlySet<string>): { fields: Record<string, string>; general: string[] } {
  const fields: Record<string, string> = {};
  const general: string[] = [];
  const marker = 'not valid: ';
  const at = message.indexOf(marker);
  if (at < 0) return { fields, general: [message] };
  for (const part of message.slice(at + marker.length).split('; ')) {
    const match = /^([A-Za-z]+)((?:\.[^:\s]+)?): (.*)$/s.exec(part.trim());
    const key = match?.[1];
    if (match && key && knownKeys.has(key)) {
      const field = key === 'layers' && match[2] ? `layers${match[2]}` : key;
      fields[field] = fields[field] ? `${fields[field]}; ${match[3]}` : (match[3] ?? '');
    } else {
      general.push(part);
    }
  }
  return { fields, general: general.length > 0 || Object.keys(fields).length > 0 ? general : [message] };
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
  // The trainer drops the last partial batch, unless the training images do not fill one batch.
  const perEpoch = trainImages >= batch ? Math.floor(trainImages / batch) : trainImages > 0 ? 1 : 0;
  const all = perEpoch * epochs;
  const capped = maxSteps > 0 && maxSteps < all;
  return { trainImages, perEpoch, epochs, batch, total: capped ? maxSteps : all, capped };
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
