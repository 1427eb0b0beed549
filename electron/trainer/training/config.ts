// What a training run is: everything needed to start it again or to compare it.
// Stored in run.json; validated wherever it comes from (command line, UI, disk).
import { z } from 'zod';
import { parseActivation } from '../../../models/activations/spec';
import { ARCHITECTURE_NAMES } from '../../../models/lightcnn-architectures';

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

export const trainConfigSchema = z.object({
  /** A dataset path, an archive, or "synthetic[:IDxIMAGES]". */
  data: z.string().min(1),
  layout: z.enum(['auto', 'folders', 'flat']).default('auto'),
  identityRegex: z.string().optional(),
  model: z.enum(ARCHITECTURES).default('lightcnn9'),
  inputSize: z.number().int().min(16).max(512).default(128),
  width: z.number().positive().max(4).default(1),
  /** The activation of every layer, unless `layers` names another one for a layer. */
  activation: activationText.default('mfm:2/1'),
  layers: z.record(z.string(), activationText).default({}),
  optimizer: z.enum(['sgd', 'adam']).default('sgd'),
  /** The Light CNN reference: SGD, lr 0.01, momentum 0.9, weight decay 1e-4, batch 128 (on a GPU). */
  lr: z.number().positive().default(0.01),
  momentum: z.number().min(0).max(0.999).default(0.9),
  weightDecay: z.number().min(0).default(1e-4),
  batch: z.number().int().min(1).max(1024).default(64),
  epochs: z.number().int().min(1).default(5),
  /** step: lr x gamma every `stepEpochs` epochs (the reference: 0.457 every 10); cosine: to 0 over the run. */
  schedule: z.enum(['constant', 'step', 'cosine']).default('step'),
  stepEpochs: z.number().int().min(1).default(10),
  gamma: z.number().positive().max(1).default(0.457),
  /** Global gradient-norm clipping; 0 = off. */
  clipNorm: z.number().min(0).default(0),
  dropout: z.number().min(0).max(0.95).default(0.5),
  /** Fraction of each identity's images held out for validation. */
  holdOut: z.number().gt(0).lt(1).default(0.2),
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  /** Checkpoint every N steps (and at the end of every epoch); 0 = only at epoch ends. */
  checkpointEvery: z.number().int().min(0).default(0),
  /** Stop after this many steps in all (0 = run all epochs): bounded runs for quick looks. The run stays resumable. */
  maxSteps: z.number().int().min(0).default(0),
});

/** Settings `lab resume` may change; each change is recorded in run.json. */
export const RESUME_OVERRIDES = ['lr', 'clipNorm', 'epochs', 'maxSteps'] as const;
export type ResumeOverrides = Partial<Pick<TrainConfig, (typeof RESUME_OVERRIDES)[number]>>;

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseTrainConfig(input: unknown): TrainConfig {
  const result = trainConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`);
    throw new ConfigError(`The training settings are not valid: ${problems.join('; ')}`);
  }
  return result.data;
}
