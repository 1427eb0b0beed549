// The optimisation settings a run gets when it names none: chosen per model and input size so
// that the first run a newcomer starts learns visibly within minutes, and each with the reason
// the Experiment view and `lab train` show. Pure data and arithmetic (no tfjs, no Node): the
// renderer imports it as it is.
//
// Why not the Light CNN reference recipe (SGD, lr 0.01, momentum 0.9, batch 128)? It trains
// CASIA-WebFace's 10,575 identities for tens of epochs on a GPU, where sitting at chance for
// the first thousands of steps costs minutes. From PyTorch's initialisation, which these runs
// share with the reference, a deep MFM network's embedding starts near 0 (about 0.06 for
// LightCNN-9), so SGD at 0.01 moves the logits so slowly that on ORL (40 people) the loss is
// still ln 40 after 100 steps; Adam scales each update to the gradient's own size and leaves
// chance within the first epochs. The reference recipe stays one click away (REFERENCE_RECIPE).
import type { ArchitectureName } from '../models/lightcnn-architectures';

/** The settings a recipe decides when the run leaves them out. */
export const RECIPE_KEYS = ['optimizer', 'lr', 'batch', 'epochs', 'schedule', 'warmupSteps', 'clipNorm'] as const;
export type RecipeKey = (typeof RECIPE_KEYS)[number];

export interface RecipeSettings {
  readonly optimizer: 'sgd' | 'adam';
  readonly lr: number;
  readonly batch: number;
  readonly epochs: number;
  readonly schedule: 'constant' | 'step' | 'cosine';
  readonly warmupSteps: number;
  readonly clipNorm: number;
}

export interface Recipe {
  readonly settings: RecipeSettings;
  /** Why these values, in a sentence or two. */
  readonly why: string;
}

/** The Light CNN reference (light_cnn train.py): SGD lr 0.01, momentum 0.9, lr x 0.457 every 10 epochs, batch 128 on a GPU. */
export const REFERENCE_RECIPE: RecipeSettings = { optimizer: 'sgd', lr: 0.01, batch: 128, epochs: 80, schedule: 'step', warmupSteps: 0, clipNorm: 0 };

/** The reference's input size, for a GPU; the CPU default is smaller (defaultInputSize). */
export const REFERENCE_INPUT_SIZE = 128;
/** The default input on the CPU backends: a quarter of 128 px's work per image. */
export const CPU_INPUT_SIZE = 64;

/** Backends whose speed makes 128 px the default; the others default to CPU_INPUT_SIZE. */
const GPU_BACKENDS: ReadonlySet<string> = new Set(['tensorflow-gpu', 'webgpu']);

export function defaultInputSize(backend: string | undefined): { inputSize: number; why: string } {
  if (backend === undefined || GPU_BACKENDS.has(backend)) return { inputSize: REFERENCE_INPUT_SIZE, why: 'the reference size' };
  return {
    inputSize: CPU_INPUT_SIZE,
    why: `training runs on the CPU (${backend}), where the reference's ${REFERENCE_INPUT_SIZE} px costs 4 times the work per image; set the input to ${REFERENCE_INPUT_SIZE} for the reference size`,
  };
}

/**
 * Adam's usual 1e-3 for the two-conv tiny net; 5e-4 for the deep ones. Measured on ORL (40
 * people) with the wasm backend on 2 cores, LightCNN-9 at 64 px (bench/NOTES.md, "First runs
 * that learn"): SGD at 0.01 and Adam at 1e-3 are still at chance after 75-120 steps; Adam at
 * 3e-4 and 5e-4 leave it around step 40-100.
 */
export function recipeFor(model: ArchitectureName, inputSize: number, optimizer?: 'sgd' | 'adam'): Recipe {
  const recipe = adamRecipeFor(model, inputSize);
  if (optimizer !== 'sgd') return recipe;
  // SGD chosen without a rate: the reference's 0.01 (Adam's 5e-4 would barely move SGD).
  return {
    settings: { ...recipe.settings, optimizer: 'sgd', lr: REFERENCE_RECIPE.lr },
    why: `${model} with SGD: the Light CNN reference's lr ${REFERENCE_RECIPE.lr} (momentum 0.9), with the recipe's warm-up, clipping, batch and schedule. On a small dataset it can sit at chance for hundreds of steps; the default, Adam, leaves it sooner`,
  };
}

function adamRecipeFor(model: ArchitectureName, inputSize: number): Recipe {
  if (model === 'tiny') {
    return {
      settings: { optimizer: 'adam', lr: 1e-3, batch: 32, epochs: 30, schedule: 'cosine', warmupSteps: 10, clipNorm: 5 },
      why: 'tiny: Adam at 1e-3 passes 90% held-out accuracy on ORL within a minute on a 2-core CPU; a short warm-up and clipping at 5 keep the first steps calm, and a cosine decay settles the end',
    };
  }
  return {
    settings: { optimizer: 'adam', lr: 5e-4, batch: 32, epochs: inputSize > CPU_INPUT_SIZE ? 20 : 30, schedule: 'cosine', warmupSteps: 10, clipNorm: 5 },
    why:
      `${model}: Adam at 5e-4 after 10 warm-up steps, clipped at 5. From PyTorch's initialisation (the reference's) a deep MFM network's embedding starts near 0, ` +
      "and the reference's SGD at 0.01 leaves the loss at chance (ln classes) for hundreds of steps on a small dataset; Adam leaves it within the first few epochs. " +
      'Batch 32 (on wasm, lowered to what fits the 4 GiB heap where it does not: the 29-layer models at 128 px); a cosine decay settles the end',
  };
}

/**
 * What the run decided for the settings `given` left out, one line each for the input size and
 * the recipe (empty when everything was given): what `lab train` prints before the first step.
 */
export function describeRecipeChoices(given: Readonly<Record<string, unknown>>, decided: Readonly<{ model: ArchitectureName; inputSize: number } & RecipeSettings>, backend: string): string[] {
  const lines: string[] = [];
  if (given['inputSize'] === undefined) lines.push(`input ${decided.inputSize} px: ${defaultInputSize(backend).why}`);
  const filled = RECIPE_KEYS.filter((key) => given[key] === undefined);
  if (filled.length > 0) {
    const values = filled.map((key) => `${RECIPE_LABELS[key]} ${String(decided[key])}`).join(', ');
    lines.push(`${values}: ${recipeFor(decided.model, decided.inputSize, decided.optimizer).why}`);
  }
  return lines;
}

/** How `lab train` and the Experiment view name each setting a recipe decides. */
export const RECIPE_LABELS: Readonly<Record<RecipeKey, string>> = {
  optimizer: 'optimizer',
  lr: 'lr',
  batch: 'batch',
  epochs: 'epochs',
  schedule: 'schedule',
  warmupSteps: 'warm-up steps',
  clipNorm: 'clip norm',
};
