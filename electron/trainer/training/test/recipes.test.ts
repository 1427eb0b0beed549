// Settings a run leaves out: the input size from the backend, the rest from the recipe of the model.
import { describe, expect, test } from 'vitest';
import { ConfigError, parseTrainConfig } from '../config';
import { CPU_INPUT_SIZE, describeRecipeChoices, RECIPE_KEYS, recipeFor, REFERENCE_INPUT_SIZE } from '#protocol/train-recipes';

describe('parseTrainConfig fills what is left out', () => {
  test('the input size follows the backend: 128 on a GPU (or unknown), 64 on the CPU backends', () => {
    expect(parseTrainConfig({ data: 'x' }).inputSize).toBe(REFERENCE_INPUT_SIZE);
    expect(parseTrainConfig({ data: 'x' }, { backend: 'tensorflow-gpu' }).inputSize).toBe(128);
    for (const backend of ['wasm', 'cpu', 'tensorflow']) expect(parseTrainConfig({ data: 'x' }, { backend }).inputSize).toBe(CPU_INPUT_SIZE);
    expect(parseTrainConfig({ data: 'x', inputSize: 96 }, { backend: 'wasm' }).inputSize).toBe(96);
  });

  test("the optimisation settings come from the model's recipe; given ones win", () => {
    const config = parseTrainConfig({ data: 'x', model: 'tiny', inputSize: 32 });
    const recipe = recipeFor('tiny', 32).settings;
    for (const key of RECIPE_KEYS) expect(config[key], key).toBe(recipe[key]);
    expect(config.init).toBe('pytorch');
    const given = parseTrainConfig({ data: 'x', model: 'tiny', inputSize: 32, optimizer: 'sgd', lr: 0.05, warmupSteps: 0, clipNorm: 0 });
    expect(given).toMatchObject({ optimizer: 'sgd', lr: 0.05, warmupSteps: 0, clipNorm: 0, batch: recipe.batch });
  });

  test("SGD chosen without a rate gets the reference's 0.01, not Adam's 5e-4, and the reason says so", () => {
    const config = parseTrainConfig({ data: 'x', model: 'lightcnn9', inputSize: 64, optimizer: 'sgd' });
    expect(config).toMatchObject({ optimizer: 'sgd', lr: 0.01 });
    expect(parseTrainConfig({ data: 'x', optimizer: 'sgd', lr: 0.05 }).lr).toBe(0.05);
    expect(describeRecipeChoices({ data: 'x', inputSize: 64, optimizer: 'sgd' }, config, 'wasm')[0]).toMatch(/^lr 0\.01, .*: lightcnn9 with SGD: the Light CNN reference's lr 0\.01/);
  });

  test('every architecture has a recipe that parses, with Adam, warm-up and clipping', () => {
    for (const model of ['tiny', 'lightcnn4', 'lightcnn9', 'lightcnn29', 'lightcnn29v2'] as const) {
      const { settings, why } = recipeFor(model, 64);
      expect(settings.optimizer).toBe('adam');
      expect(settings.warmupSteps).toBeGreaterThan(0);
      expect(settings.clipNorm).toBeGreaterThan(0);
      expect(why.length).toBeGreaterThan(40);
      expect(() => parseTrainConfig({ data: 'x', model, ...settings })).not.toThrow();
    }
  });

  test('absurd values are refused by name (epochs 1e15, a fractional warm-up)', () => {
    expect(() => parseTrainConfig({ data: 'x', epochs: 1e15 })).toThrow(ConfigError);
    expect(() => parseTrainConfig({ data: 'x', epochs: 1e15 })).toThrow(/epochs: /);
    expect(() => parseTrainConfig({ data: 'x', warmupSteps: 2.5 })).toThrow(/warmupSteps: /);
    expect(() => parseTrainConfig({ data: 'x', init: 'ones' })).toThrow(/init: /);
  });
});

describe('describeRecipeChoices', () => {
  test('names each decided value and why; nothing when everything was given', () => {
    const config = parseTrainConfig({ data: 'x' }, { backend: 'wasm' });
    const lines = describeRecipeChoices({ data: 'x' }, config, 'wasm');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^input 64 px: training runs on the CPU \(wasm\)/);
    expect(lines[1]).toMatch(/^optimizer adam, lr 0\.0005, batch \d+, epochs \d+, schedule cosine, warm-up steps \d+, clip norm 5: lightcnn9: /);
    const all = { data: 'x', inputSize: 64, optimizer: 'sgd', lr: 0.01, batch: 8, epochs: 1, schedule: 'step', warmupSteps: 0, clipNorm: 0 };
    expect(describeRecipeChoices(all, parseTrainConfig(all), 'wasm')).toEqual([]);
  });
});
