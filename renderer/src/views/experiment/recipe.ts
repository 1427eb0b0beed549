// What each setting of the Experiment view is, the way the trainer will decide it: the user's
// value where there is one; for a setting a recipe decides (optimizer, lr, batch, epochs,
// schedule, warm-up, clipping), the recipe of the chosen model and input size
// (protocol/train-recipes.ts, the trainer's own table); else labInfo's default.
// The session's config holds only what the user set, so a field nobody set follows the
// model and the input size.
import { ARCHITECTURE_NAMES, type ArchitectureName } from '#protocol/train-config';
import { defaultInputSize, recipeFor, RECIPE_KEYS, REFERENCE_RECIPE, type Recipe, type RecipeKey } from '#protocol/train-recipes';
import { boundsOf, HYPER_FIELDS, MODEL_FALLBACKS } from './config-fields';

const isArchitecture = (name: string): name is ArchitectureName => (ARCHITECTURE_NAMES as readonly string[]).includes(name);
/** The recipe of a model and input size; null for a model the lab does not know. */
export function recipeOf(model: string, inputSize: number): Recipe | null {
  return isArchitecture(model) ? recipeFor(model, inputSize) : null;
}

const isRecipeKey = (key: string): key is RecipeKey => (RECIPE_KEYS as readonly string[]).includes(key);

export interface EffectiveConfig {
  model: string;
  inputSize: number;
  /** Why the input size is what it is, when the user did not set it (null when they did, or the reason is not known here). */
  inputSizeWhy: string | null;
  /** The recipe of the model and input size (null for a model the lab does not know). */
  recipe: Recipe | null;
  /** What the trainer decides for `key` when the user sets nothing. */
  decided(key: string, fallback: unknown): unknown;
  /** The user's value for `key`, else what the trainer decides. */
  value(key: string, fallback: unknown): unknown;
  /** Whether the user's value for `key` is other than what the trainer would decide. */
  overridden(key: string, fallback: unknown): boolean;
}

/** The input sizes the training configuration takes (its schema's bounds). */
const SIZE = (({ min = 1, max = Infinity }) => ({ min, max }))(boundsOf('inputSize'));

function numberIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

/** `backend`: the name of the backend that trains (labInfo.backend.name). */
export function effectiveConfig(config: Record<string, unknown>, defaults: Record<string, unknown>, backend: string | undefined): EffectiveConfig {
  const model = typeof config.model === 'string' ? config.model : typeof defaults.model === 'string' ? defaults.model : MODEL_FALLBACKS.model;
  const byBackend = defaultInputSize(backend);
  const defaultSize = numberIn(defaults.inputSize, SIZE.min, SIZE.max) ?? byBackend.inputSize;
  const chosen = numberIn(config.inputSize, SIZE.min, SIZE.max);
  const inputSize = chosen ?? defaultSize;
  const inputSizeWhy = chosen === undefined && defaultSize === byBackend.inputSize ? byBackend.why : null;
  const recipe = recipeOf(model, inputSize);
  const decided = (key: string, fallback: unknown): unknown => {
    if (key === 'model') return model;
    if (key === 'inputSize') return defaultSize;
    if (recipe && isRecipeKey(key)) return recipe.settings[key];
    return defaults[key] ?? fallback;
  };
  return {
    model,
    inputSize,
    inputSizeWhy,
    recipe,
    decided,
    value: (key, fallback) => config[key] ?? decided(key, fallback),
    overridden: (key, fallback) => config[key] !== undefined && config[key] !== decided(key, fallback),
  };
}

/**
 * The defaults a run on `backend` gets. labInfo's are the automatic backend's (lab-info.ts
 * parses an empty config for it); a run started on another backend gets that backend's
 * input size (the trainer parses its config with the backend named), so for it the
 * automatic one's is dropped and effectiveConfig decides the size from the backend.
 */
export function defaultsFor(defaults: Record<string, unknown>, automatic: string | undefined, backend: string | undefined): Record<string, unknown> {
  if (backend === automatic) return defaults;
  const { inputSize: _automatics, ...rest } = defaults;
  return rest;
}

/** The Light CNN reference's value of a setting: REFERENCE_RECIPE for those a recipe decides, else the trainer's default (which is the reference's). */
export function referenceValue(key: string, defaults: Record<string, unknown>, fallback: unknown): unknown {
  return isRecipeKey(key) ? REFERENCE_RECIPE[key] : (defaults[key] ?? fallback);
}

/** The two resets of the hyper-parameters: back to the recipe (nothing set), or the reference's settings set. */
export type HyperReset = 'recipe' | 'reference';

export function resetPatch(to: HyperReset): Record<string, unknown> {
  const patch: Record<string, unknown> = Object.fromEntries(HYPER_FIELDS.map((field) => [field.key, undefined]));
  if (to === 'reference') for (const key of RECIPE_KEYS) patch[key] = REFERENCE_RECIPE[key];
  return patch;
}

/** Whether a reset would change the config. */
export function resetChanges(to: HyperReset, config: Record<string, unknown>): boolean {
  const patch = resetPatch(to);
  return Object.entries(patch).some(([key, value]) => config[key] !== value);
}
