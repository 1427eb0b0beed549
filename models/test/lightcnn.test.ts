import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVATION_NAMES, parseActivation, type ActivationSpec } from '../activations/spec';
import { ARCHITECTURES, REFERENCE_PARAMS, buildModel, ModelConfigError, type ArchitectureName, type BuiltModel, type ModelConfig } from '../lightcnn';
import { activationUnits, minimumInputSize } from '../lightcnn-blocks';
import { formatSummary, type ModelSummary } from '../summary';

const MFM: ActivationSpec = { name: 'mfm', variant: '2/1' };
const RELU: ActivationSpec = { name: 'relu' };
const MAXOUT3: ActivationSpec = { name: 'maxout', k: 3 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Build, hand the result to `fn`, dispose. */
function withModel<T>(config: ModelConfig, fn: (built: BuiltModel) => T): T {
  const built = buildModel(config);
  try {
    return fn(built);
  } finally {
    built.model.dispose();
  }
}

function summaryOf(config: ModelConfig): ModelSummary {
  return withModel(config, (built) => built.summary);
}

function layer(summary: ModelSummary, name: string) {
  const found = summary.layers.find((l) => l.name === name);
  if (found === undefined) throw new Error(`no layer ${name} in ${summary.layers.map((l) => l.name).join(', ')}`);
  return found;
}

const shapeOf = (summary: ModelSummary, name: string): readonly number[] => layer(summary, name).outputShape;

describe('reference Light CNNs at 128 px with MFM 2/1', () => {
  const summaries = new Map<ArchitectureName, ModelSummary>();
  const numClasses = 10;

  beforeAll(() => {
    for (const architecture of ['lightcnn4', 'lightcnn9', 'lightcnn29', 'lightcnn29v2'] as const) {
      withModel({ architecture, numClasses }, (built) => {
        expect(built.model.countParams()).toBe(built.summary.totalParams);
        summaries.set(architecture, built.summary);
      });
    }
  });

  const get = (name: ArchitectureName): ModelSummary => {
    const s = summaries.get(name);
    if (s === undefined) throw new Error(`${name} was not built`);
    return s;
  };

  it.each([
    ['lightcnn4', 4_098_048],
    ['lightcnn9', 5_480_864],
    ['lightcnn29', 12_573_280],
    ['lightcnn29v2', 10_475_872],
  ] as const)('%s has %i parameters without the classifier', (name, expected) => {
    const s = get(name);
    expect(REFERENCE_PARAMS[name]).toBe(expected);
    expect(s.paramsWithoutClassifier).toBe(expected);
    // The classifier over 10 identities: 256 x 10 weights, plus biases except in v2.
    expect(s.totalParams - s.paramsWithoutClassifier).toBe(name === 'lightcnn29v2' ? 2560 : 2570);
    expect(s.trainableParams).toBe(s.totalParams);
  });

  it('LightCNN-9: 128 -> 64 -> 32 -> 16 -> 8, 8x8x128 into the fc', () => {
    const s = get('lightcnn9');
    expect(shapeOf(s, 'input')).toEqual([128, 128, 1]);
    expect(shapeOf(s, 'conv1')).toEqual([128, 128, 96]);
    expect(shapeOf(s, 'conv1.act')).toEqual([128, 128, 48]);
    expect(shapeOf(s, 'pool1')).toEqual([64, 64, 48]);
    expect(shapeOf(s, 'group1.a.act')).toEqual([64, 64, 48]);
    expect(shapeOf(s, 'group1.b.act')).toEqual([64, 64, 96]);
    expect(shapeOf(s, 'pool2')).toEqual([32, 32, 96]);
    expect(shapeOf(s, 'group2.b.act')).toEqual([32, 32, 192]);
    expect(shapeOf(s, 'pool3')).toEqual([16, 16, 192]);
    expect(shapeOf(s, 'group3.b.act')).toEqual([16, 16, 128]);
    expect(shapeOf(s, 'group4.b.act')).toEqual([16, 16, 128]);
    expect(shapeOf(s, 'pool4')).toEqual([8, 8, 128]);
    expect(shapeOf(s, 'flatten')).toEqual([8 * 8 * 128]);
    expect(shapeOf(s, 'fc')).toEqual([512]);
    expect(shapeOf(s, 'embedding')).toEqual([256]);
    expect(shapeOf(s, 'classifier')).toEqual([numClasses]);
  });

  it('Model A: valid convs, the last pool rounds 9 up to 5, 5x5x192 into the fc', () => {
    const s = get('lightcnn4');
    const sides = ['conv1', 'pool1', 'conv2', 'pool2', 'conv3', 'pool3', 'conv4', 'pool4'].map((n) => shapeOf(s, n)[0]);
    expect(sides).toEqual([120, 60, 56, 28, 24, 12, 9, 5]);
    expect(shapeOf(s, 'conv4')).toEqual([9, 9, 384]);
    expect(shapeOf(s, 'flatten')).toEqual([5 * 5 * 192]);
    expect(shapeOf(s, 'embedding')).toEqual([256]);
  });

  it('LightCNN-29 and v2: residual stages [1, 2, 3, 4], 8x8x128 into the fc; v2 sums max and avg pools', () => {
    for (const name of ['lightcnn29', 'lightcnn29v2'] as const) {
      const s = get(name);
      for (const block of ['res1_1', 'res2_2', 'res3_3', 'res4_4']) expect(s.layers.some((l) => l.name === block && l.kind === 'add')).toBe(true);
      expect(s.layers.some((l) => l.name === 'res4_5')).toBe(false);
      expect(shapeOf(s, 'res3_3')).toEqual([16, 16, 192]);
      expect(shapeOf(s, 'flatten')).toEqual([8192]);
      expect(shapeOf(s, 'embedding')).toEqual([256]);
    }
    const v2 = get('lightcnn29v2');
    expect(shapeOf(v2, 'pool1.max')).toEqual([64, 64, 48]);
    expect(shapeOf(v2, 'pool1.avg')).toEqual([64, 64, 48]);
    expect(shapeOf(v2, 'pool1')).toEqual([64, 64, 48]);
    // v2's fc is a plain Linear(8192, 256): no activation, no MFM doubling.
    expect(layer(v2, 'fc').params).toBe(8192 * 256 + 256);
    expect(layer(v2, 'embedding').kind).toBe('identity');
  });

  it('counts MACs per image by hand', () => {
    const s = get('lightcnn9');
    // conv1: 5x5 over 1 channel into 96 maps of 128x128.
    expect(layer(s, 'conv1').macs).toBe(128 * 128 * 96 * 5 * 5 * 1);
    // group1.b: 3x3 over 48 channels into 192 maps of 64x64.
    expect(layer(s, 'group1.b').macs).toBe(64 * 64 * 192 * 3 * 3 * 48);
    expect(layer(s, 'fc').macs).toBe(8192 * 512);
    expect(layer(s, 'classifier').macs).toBe(256 * numClasses);
    expect(layer(s, 'conv1.act').macs).toBe(0);
    expect(layer(s, 'pool1').macs).toBe(0);
    expect(s.macsPerImage).toBe(s.layers.reduce((sum, l) => sum + l.macs, 0));
    // The whole network by hand: conv1, group1-4 (a: 1x1, b: 3x3), fc, classifier.
    const convs = [
      [128, 96, 25, 1], [64, 96, 1, 48], [64, 192, 9, 48], [32, 192, 1, 96], [32, 384, 9, 96],
      [16, 384, 1, 192], [16, 256, 9, 192], [16, 256, 1, 128], [16, 256, 9, 128],
    ].reduce((sum, [side = 0, out = 0, k2 = 0, inC = 0]) => sum + side * side * out * k2 * inC, 0);
    expect(s.macsPerImage).toBe(convs + 8192 * 512 + 256 * numClasses);
    expect(s.macsPerImage).toBe(976_751_104);
    expect(layer(get('lightcnn4'), 'conv4').macs).toBe(9 * 9 * 384 * 4 * 4 * 128);
  });

  it('formats a summary table', () => {
    const text = formatSummary(get('lightcnn9'));
    expect(text).toMatch(/^layer\s+kind\s+detail\s+output\s+params\s+MACs/);
    expect(text).toMatch(/group1\.b\s+conv\s+3x3\/1 pad 1\s+64x64x192\s+83,136/);
    expect(text).toMatch(/conv1\.act\s+activation\s+mfm:2\/1\s+128x128x48/);
    expect(text).toContain('5,480,864 without the classifier');
  });
});

describe('input sizes', () => {
  it('lightcnn9 and tiny at 64 and 32', () => {
    const s64 = summaryOf({ architecture: 'lightcnn9', inputSize: 64, numClasses: 5 });
    expect(['pool1', 'pool2', 'pool3', 'pool4'].map((n) => shapeOf(s64, n)[0])).toEqual([32, 16, 8, 4]);
    expect(shapeOf(s64, 'flatten')).toEqual([4 * 4 * 128]);
    const s32 = summaryOf({ architecture: 'lightcnn9', inputSize: 32, numClasses: 5 });
    expect(shapeOf(s32, 'pool4')).toEqual([2, 2, 128]);
    expect(shapeOf(s32, 'embedding')).toEqual([256]);
    // Convs keep their parameters; only the fc shrinks with the map.
    expect(layer(s64, 'group2.b').params).toBe(layer(s32, 'group2.b').params);
    expect(layer(s32, 'fc').params).toBe(2 * 2 * 128 * 512 + 512);

    const t64 = summaryOf({ architecture: 'tiny', inputSize: 64, numClasses: 5 });
    expect(shapeOf(t64, 'pool2')).toEqual([16, 16, 16]);
    const t32 = summaryOf({ architecture: 'tiny', inputSize: 32, numClasses: 5 });
    expect(shapeOf(t32, 'pool1')).toEqual([16, 16, 8]);
    expect(shapeOf(t32, 'pool2')).toEqual([8, 8, 16]);
    expect(shapeOf(t32, 'embedding')).toEqual([256]);
  });

  it('pools round up on odd sizes as ceil_mode does', () => {
    const s = summaryOf({ architecture: 'tiny', inputSize: 25, numClasses: 3 });
    expect(shapeOf(s, 'pool1')).toEqual([13, 13, 8]);
    expect(shapeOf(s, 'pool2')).toEqual([7, 7, 16]);
  });

  it('refuses sizes that shrink a map to nothing, and says the smallest one', () => {
    expect(minimumInputSize(ARCHITECTURES.lightcnn4.blocks)).toBeGreaterThan(32);
    expect(() => buildModel({ architecture: 'lightcnn4', inputSize: 32, numClasses: 5 })).toThrow(ModelConfigError);
    expect(() => buildModel({ architecture: 'lightcnn4', inputSize: 32, numClasses: 5 })).toThrow(/lightcnn4 cannot take 32x32 inputs: its 5x5 conv conv3 .* smallest input it takes is \d+ px/);
    const smallest = minimumInputSize(ARCHITECTURES.lightcnn4.blocks);
    expect(summaryOf({ architecture: 'lightcnn4', inputSize: smallest, numClasses: 5 }).paramsWithoutClassifier).toBeGreaterThan(0);
    expect(() => buildModel({ architecture: 'lightcnn4', inputSize: smallest - 1, numClasses: 5 })).toThrow(ModelConfigError);
    expect(() => buildModel({ architecture: 'tiny', inputSize: 0, numClasses: 5 })).toThrow(/whole number of pixels/);
    expect(() => buildModel({ architecture: 'tiny', inputSize: 31.5, numClasses: 5 })).toThrow(ModelConfigError);
  });

  it('refuses other bad settings with clear messages', () => {
    expect(() => buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 1 })).toThrow(/at least 2 identities/);
    expect(() => buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 4, dropout: 1 })).toThrow(/dropout/);
    expect(() => buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 4, widthMultiplier: 0 })).toThrow(/width multiplier/);
    expect(() => buildModel({ architecture: 'nope' as ArchitectureName, numClasses: 4 })).toThrow(/unknown architecture "nope"/);
    expect(() => buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 4, overrides: { conv2: RELU } })).toThrow(/tiny has no activation layer "conv2"; its layers are conv1, group1.a, group1.b, fc/);
    expect(() => buildModel({ architecture: 'lightcnn29v2', inputSize: 32, numClasses: 4, overrides: { fc: RELU } })).toThrow(/plain linear layer/);
  });
});

/** Parameters of every conv/dense layer that feeds an activation, by name. */
function unitParams(built: BuiltModel): Map<string, number> {
  return new Map(built.units.map((u) => [u.linear, layer(built.summary, u.linear).params]));
}

describe('activations as a parameter', () => {
  it('relu has the params of MFM minus the halved conv outputs (tiny, by hand)', () => {
    const relu = summaryOf({ architecture: 'tiny', inputSize: 32, numClasses: 4, activation: RELU });
    const mfm = summaryOf({ architecture: 'tiny', inputSize: 32, numClasses: 4, activation: MFM });
    // relu: conv1 5*5*1*8+8, group1.a 1*1*8*8+8, group1.b 3*3*8*16+16, fc 8*8*16*256+256
    const reluExpected = (25 * 8 + 8) + (8 * 8 + 8) + (9 * 8 * 16 + 16) + (1024 * 256 + 256);
    // MFM doubles every conv/dense output (weights and biases): 2N channels feed the max of halves.
    const mfmExpected = (25 * 16 + 16) + (8 * 16 + 16) + (9 * 8 * 32 + 32) + (1024 * 512 + 512);
    expect(relu.paramsWithoutClassifier).toBe(reluExpected);
    expect(mfm.paramsWithoutClassifier).toBe(mfmExpected);
    expect(mfm.paramsWithoutClassifier - relu.paramsWithoutClassifier).toBe(208 + 72 + 1168 + 262_400);
    // Same classifier, same output widths everywhere.
    expect(mfm.totalParams - mfm.paramsWithoutClassifier).toBe(relu.totalParams - relu.paramsWithoutClassifier);
    for (const name of ['conv1.act', 'pool1', 'group1.a.act', 'group1.b.act', 'pool2', 'embedding'])
      expect(shapeOf(mfm, name)).toEqual(shapeOf(relu, name));
  });

  it('maxout:3 triples every unit\'s conv/dense parameters relative to relu', () => {
    for (const architecture of ['tiny', 'lightcnn9'] as const) {
      const config = { architecture, inputSize: 32, numClasses: 4 };
      const relu = withModel({ ...config, activation: RELU }, unitParams);
      const maxout = withModel({ ...config, activation: MAXOUT3 }, unitParams);
      expect([...maxout.keys()]).toEqual([...relu.keys()]);
      for (const [name, params] of relu) expect(maxout.get(name), name).toBe(3 * params);
    }
    const s = summaryOf({ architecture: 'tiny', inputSize: 32, numClasses: 4, activation: MAXOUT3 });
    expect(shapeOf(s, 'group1.b')).toEqual([16, 16, 48]);
    expect(shapeOf(s, 'group1.b.act')).toEqual([16, 16, 16]);
    expect(layer(s, 'group1.b.act').detail).toBe('maxout:3');
  });

  it('a per-layer override changes only that layer', () => {
    const base = { architecture: 'lightcnn9', inputSize: 32, numClasses: 4, activation: RELU } as const;
    const plain = withModel(base, (b) => b.summary);
    const built = buildModel({ ...base, overrides: { 'group2.a': MAXOUT3 } });
    try {
      const s = built.summary;
      expect(s.layers.map((l) => l.name)).toEqual(plain.layers.map((l) => l.name));
      for (const l of s.layers) {
        const p = layer(plain, l.name);
        if (l.name === 'group2.a') {
          expect(l.params).toBe(3 * p.params);
          expect(l.outputShape).toEqual([8, 8, 3 * 96]);
        } else {
          expect(l.params, l.name).toBe(p.params);
          expect(l.outputShape, l.name).toEqual(p.outputShape);
        }
      }
      const specs = Object.fromEntries(built.units.map((u) => [u.unit, u.spec.name]));
      expect(specs['group2.a']).toBe('maxout');
      expect(Object.entries(specs).filter(([, name]) => name !== 'relu').map(([unit]) => unit)).toEqual(['group2.a']);
      expect(layer(s, 'group2.a.act').detail).toBe('maxout:3');
      expect(layer(s, 'group2.b.act').detail).toBe('relu');
    } finally {
      built.model.dispose();
    }
  });

  it('block and stage keys cover their units; the longest key wins', () => {
    const built = buildModel({
      architecture: 'lightcnn29',
      inputSize: 32,
      numClasses: 4,
      overrides: { group1: RELU, 'group1.b': { name: 'prelu' }, res2: { name: 'tanh' }, res2_2: { name: 'elu' } },
    });
    try {
      const specs = Object.fromEntries(built.units.map((u) => [u.unit, u.spec.name]));
      expect(specs).toMatchObject({ conv1: 'mfm', 'group1.a': 'relu', 'group1.b': 'prelu', 'res2_1.a': 'tanh', 'res2_1.b': 'tanh', 'res2_2.a': 'elu', 'res2_2.b': 'elu', 'res3_1.a': 'mfm', fc: 'mfm' });
      // 1 conv + 2 x (1 + 2 + 3 + 4) residual units + 2 x 4 group units + the fc.
      expect(built.activationLayers).toHaveLength(30);
      expect(built.activationLayers[0]).toBe('conv1.act');
      expect(built.activationLayers.at(-1)).toBe('embedding');
      expect(built.units.map((u) => u.unit)).toEqual(activationUnits(ARCHITECTURES.lightcnn29.blocks).map((u) => u.name));
    } finally {
      built.model.dispose();
    }
  });

  it('the width multiplier scales every width to a multiple the activations can split', () => {
    withModel({ architecture: 'tiny', inputSize: 32, numClasses: 4, widthMultiplier: 0.5 }, (built) => {
      expect(built.embeddingSize).toBe(128);
      expect(shapeOf(built.summary, 'conv1.act')).toEqual([32, 32, 4]);
      expect(shapeOf(built.summary, 'group1.b.act')).toEqual([16, 16, 8]);
      expect(shapeOf(built.summary, 'embedding')).toEqual([128]);
    });
    // MFM 3/2 needs an even width: 0.3 x 48 = 14.4 -> 14, 0.3 x 96 = 28.8 -> 28.
    withModel({ architecture: 'lightcnn9', inputSize: 32, numClasses: 4, widthMultiplier: 0.3, activation: { name: 'mfm', variant: '3/2' } }, (built) => {
      expect(shapeOf(built.summary, 'conv1')).toEqual([32, 32, 21]);
      expect(shapeOf(built.summary, 'conv1.act')).toEqual([32, 32, 14]);
      expect(shapeOf(built.summary, 'group1.b.act')).toEqual([16, 16, 28]);
      for (const u of built.units) expect(u.channels % 2).toBe(0);
    });
  });
});

describe('forward passes', () => {
  it.each(['tiny', 'lightcnn9'] as const)('%s at 32x32: finite logits [2, C] and embeddings [2, 256]', (architecture) => {
    withModel({ architecture, inputSize: 32, numClasses: 7, seed: 3 }, (built) => {
      tf.tidy(() => {
        const x = tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 11);
        const logits = built.model.predict(x) as tf.Tensor;
        const emb = built.embedding.predict(x) as tf.Tensor;
        expect(logits.shape).toEqual([2, 7]);
        expect(emb.shape).toEqual([2, 256]);
        expect(tf.all(tf.isFinite(logits)).dataSync()[0]).toBe(1);
        expect(tf.all(tf.isFinite(emb)).dataSync()[0]).toBe(1);
        // Inference: no dropout, so the logits are the classifier applied to the embedding.
        const classifier = built.model.getLayer('classifier');
        const again = classifier.apply(emb) as tf.Tensor;
        expect(tf.max(tf.abs(tf.sub(again, logits))).dataSync()[0]).toBeLessThan(1e-4);
        // Training mode runs dropout and still gives finite logits.
        const trained = built.model.apply(x, { training: true }) as tf.Tensor;
        expect(trained.shape).toEqual([2, 7]);
        expect(tf.all(tf.isFinite(trained)).dataSync()[0]).toBe(1);
      });
    });
  });

  it('LightCNN-29 v2 runs forward at 32x32', () => {
    withModel({ architecture: 'lightcnn29v2', inputSize: 32, numClasses: 3 }, (built) => {
      const out = tf.tidy(() => (built.model.predict(tf.ones([1, 32, 32, 1])) as tf.Tensor).shape);
      expect(out).toEqual([1, 3]);
    });
  });

  it('every activation builds and runs (tiny, 16x16)', () => {
    for (const name of [...ACTIVATION_NAMES, 'mfm:3/2', 'maxout:5']) {
      withModel({ architecture: 'tiny', inputSize: 16, numClasses: 3, activation: parseActivation(name) }, (built) => {
        const finite = tf.tidy(() => tf.all(tf.isFinite(built.model.apply(tf.ones([1, 16, 16, 1]), { training: true }) as tf.Tensor)).dataSync()[0]);
        expect(finite, name).toBe(1);
        expect(built.embeddingSize).toBe(256);
      });
    }
  });

  it('the same seed gives the same initial weights, another seed others', () => {
    const weightsOf = (seed: number): Float32Array[] =>
      withModel({ architecture: 'tiny', inputSize: 32, numClasses: 4, seed, activation: { name: 'prelu' } }, (built) =>
        built.model.weights.map((w) => w.read().dataSync() as Float32Array),
      );
    const a = weightsOf(42);
    const b = weightsOf(42);
    const c = weightsOf(43);
    expect(a.length).toBe(b.length);
    a.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(b[i] ?? [])));
    // Every kernel differs under another seed (biases start at zero in both).
    const kernels = (ws: Float32Array[]) => ws.filter((w) => w.some((v) => v !== 0 && v !== 0.25));
    expect(kernels(a).length).toBeGreaterThanOrEqual(5);
    kernels(a).forEach((w, i) => expect(Array.from(w)).not.toEqual(Array.from(kernels(c)[i] ?? [])));
  });

  it('does not leak tensors over repeated forward passes', () => {
    withModel({ architecture: 'tiny', inputSize: 32, numClasses: 4 }, (built) => {
      const x = tf.randomNormal([2, 32, 32, 1], 0, 1, 'float32', 5);
      const run = () =>
        tf.tidy(() => {
          built.model.predict(x);
          built.embedding.predict(x);
          built.model.apply(x, { training: true });
        });
      run();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) run();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });

  it('disposing the model frees every weight', () => {
    const before = tf.memory().numTensors;
    const built = buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 4 });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    built.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saves and loads with its custom layers, giving the same logits', async () => {
    const built = buildModel({ architecture: 'tiny', inputSize: 32, numClasses: 4, overrides: { 'group1.a': MAXOUT3, 'group1.b': { name: 'prelu' } } });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await built.model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    if (artifacts === undefined) throw new Error('not saved');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const x = tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 9);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(built.model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor))).dataSync()[0]);
    expect(diff).toBe(0);
    expect(loaded.getLayer('dropout').getClassName()).toBe(built.model.getLayer('dropout').getClassName());
    x.dispose();
    loaded.dispose();
    built.model.dispose();
  });
});

afterAll(() => {
  tf.disposeVariables();
});
