// The ONNX export against the lab itself: onnxruntime runs the exported graph on a random batch
// and its embedding (and logits) must match the tfjs model's predict to float32 precision, for
// every activation (grouped as per-unit overrides of the tiny network) and for the blocks of the
// bigger networks (groups, residual blocks, ceil and max+avg pools, v2's plain fc).
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivationSpec } from '../../../../models/activations/spec';
import { buildModel, type BuiltModel, type ModelConfig } from '../../../../models/lightcnn';
import { ONNX_CONFIG_KEY, ONNX_IR_VERSION, ONNX_OPSET, onnxModel } from '../onnx-export';
import { relativeError } from './compare';

const { onnx } = onnxProto;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** mulberry32: a seeded stream in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** PReLU slopes set to varied values (the initial 0.25 everywhere would hide a layout error). */
function varyPreluSlopes(built: BuiltModel, seed: number): number {
  const next = random(seed);
  const layers = built.model.layers.filter((layer) => layer.getClassName() === 'FclPReLU');
  for (const layer of layers) {
    const slopes = layer.weights[0];
    if (slopes === undefined) throw new Error(`${layer.name} has no slopes`);
    tf.tidy(() => {
      slopes.write(tf.tensor1d(Array.from({ length: slopes.shape[0] ?? 0 }, () => next() * 1.5 - 0.5)));
    });
  }
  return layers.length;
}

/** A batch of grey images in [0, 1), NCHW [n, 1, S, S]: the same bytes as the lab's NHWC [n, S, S, 1], since C = 1. */
function batch(n: number, size: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: n * size * size }, () => next());
}

async function labOutputs(built: BuiltModel, images: Float32Array, n: number): Promise<{ embedding: Float32Array; logits: Float32Array }> {
  const size = built.config.inputSize;
  const input = tf.tensor4d(images, [n, size, size, 1]);
  const embedding = built.embedding.predict(input) as tf.Tensor;
  const logits = built.model.predict(input) as tf.Tensor;
  try {
    return { embedding: (await embedding.data()) as Float32Array, logits: (await logits.data()) as Float32Array };
  } finally {
    tf.dispose([input, embedding, logits]);
  }
}

async function ortOutputs(session: ort.InferenceSession, images: Float32Array, n: number, size: number): Promise<Record<string, Float32Array>> {
  const results = await session.run({ image: new ort.Tensor('float32', images, [n, 1, size, size]) });
  return Object.fromEntries(Object.entries(results).map(([name, tensor]) => [name, tensor.data as Float32Array]));
}

const built: BuiltModel[] = [];
afterAll(() => {
  for (const b of built) b.model.dispose();
});

/**
 * Exports `config`'s model (seeded random weights, varied PReLU slopes) and checks onnxruntime's
 * outputs against the lab's for a batch of 3, then for `otherBatch` images (the dynamic N).
 */
async function checkExport(config: ModelConfig, options: { classifier?: boolean; otherBatch?: number; prelu?: number } = {}): Promise<Decoded> {
  const model = buildModel(config);
  built.push(model);
  expect(varyPreluSlopes(model, 7)).toBe(options.prelu ?? 0);
  const before = tf.memory().numTensors;
  const bytes = await onnxModel(model, { classifier: options.classifier ?? false });
  expect(tf.memory().numTensors).toBe(before);

  const session = await ort.InferenceSession.create(bytes);
  try {
    const size = model.config.inputSize;
    for (const [n, seed] of [[3, 11], ...(options.otherBatch === undefined ? [] : [[options.otherBatch, 12]])] as const) {
      const images = batch(n, size, seed);
      const lab = await labOutputs(model, images, n);
      const out = await ortOutputs(session, images, n, size);
      expect(relativeError(out['embedding'], lab.embedding)).toBeLessThan(1e-5);
      if (options.classifier === true) expect(relativeError(out['logits'], lab.logits)).toBeLessThan(1e-5);
      else expect(out['logits']).toBeUndefined();
    }
  } finally {
    await session.release();
  }
  return onnx.ModelProto.decode(bytes);
}

type Decoded = ReturnType<typeof onnx.ModelProto.decode>;
const initializerNames = (model: Decoded) => (model.graph?.initializer ?? []).map((t) => t.name);
const initializer = (model: Decoded, name: string) => (model.graph?.initializer ?? []).find((t) => t.name === name);

const tiny = (activation: ActivationSpec | undefined, overrides: Record<string, ActivationSpec> = {}, inputSize = 32): ModelConfig => ({
  architecture: 'tiny',
  inputSize,
  numClasses: 5,
  ...(activation === undefined ? {} : { activation }),
  overrides,
});

describe('onnxModel: tiny, every activation', () => {
  it('default MFM 2/1, with the classifier, a dynamic batch, and the file says what it is', async () => {
    const model = await checkExport(tiny(undefined), { classifier: true, otherBatch: 5 });
    expect(model.producerName).toBe('Face CNN Lab');
    expect(Number(model.irVersion)).toBe(ONNX_IR_VERSION);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', ONNX_OPSET]]);
    const inputs = model.graph?.input ?? [];
    const outputs = model.graph?.output ?? [];
    expect(inputs.map((i) => i.name)).toEqual(['image']);
    expect(inputs[0]?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 1, 32, 32]);
    expect(outputs.map((o) => o.name)).toEqual(['embedding', 'logits']);
    expect(outputs[0]?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 256]);
    expect(initializerNames(model)).toEqual(expect.arrayContaining(['features.0.filter.weight', 'features.0.filter.bias', 'features.2.conv_a.filter.weight', 'features.2.conv.filter.weight', 'fc1.filter.weight', 'fc1.filter.bias', 'fc2.weight', 'fc2.bias']));
    const weight = initializer(model, 'features.0.filter.weight');
    expect(weight?.dims?.map(Number)).toEqual([16, 1, 5, 5]);
    expect(weight?.rawData?.length).toBe(16 * 25 * 4);
    const config = JSON.parse(model.metadataProps.find((p) => p.key === ONNX_CONFIG_KEY)?.value ?? '{}') as Record<string, unknown>;
    expect(config).toMatchObject({ architecture: 'tiny', inputSize: 32, activation: 'mfm:2/1', embeddingSize: 256, classifier: true });
  });

  it('prelu (conv maps and the fc) with a relu override, without the classifier', async () => {
    const model = await checkExport(tiny({ name: 'prelu' }, { 'group1.b': { name: 'relu' } }), { prelu: 3, otherBatch: 1 });
    const names = initializerNames(model);
    expect(names).toEqual(expect.arrayContaining(['features.0.act.weight', 'features.2.conv_a.act.weight', 'fc1.act.weight']));
    expect(names).not.toContain('fc2.weight');
    expect(initializer(model, 'features.0.act.weight')?.dims?.map(Number)).toEqual([8, 1, 1]);
    expect(initializer(model, 'fc1.act.weight')?.dims?.map(Number)).toEqual([256]);
  });

  it('maxout:3, with MFM 3/2 and PReLU overrides', async () => {
    await checkExport(tiny({ name: 'maxout', k: 3 }, { 'group1.a': { name: 'mfm', variant: '3/2' }, 'group1.b': { name: 'prelu' } }), { classifier: true, prelu: 1 });
  });

  it('MFM 3/2 everywhere, at 30 px (ceil pooling of an odd map)', async () => {
    await checkExport(tiny({ name: 'mfm', variant: '3/2' }, {}, 30), { classifier: true });
  });

  it('gelu (the fc), rrelu, swish, mish', async () => {
    await checkExport(tiny({ name: 'gelu' }, { conv1: { name: 'rrelu', lower: 0.125, upper: 1 / 3 }, 'group1.a': { name: 'swish' }, 'group1.b': { name: 'mish' } }));
  });

  it('leaky_relu:0.1 (the fc), sigmoid, tanh, elu, and selu', async () => {
    await checkExport(tiny({ name: 'leaky_relu', alpha: 0.1 }, { conv1: { name: 'sigmoid' }, 'group1.a': { name: 'tanh' }, 'group1.b': { name: 'elu' } }));
    await checkExport(tiny({ name: 'selu' }, { conv1: { name: 'mish' }, 'group1.b': { name: 'swish' }, fc: { name: 'rrelu', lower: 0.1, upper: 0.5 } }));
  });
});

describe('onnxModel: the Light CNN networks', () => {
  it('lightcnn29v2: residual blocks, max+avg pools, the plain fc, the classifier without bias', async () => {
    const model = await checkExport({ architecture: 'lightcnn29v2', inputSize: 32, widthMultiplier: 0.25, numClasses: 7 }, { classifier: true, otherBatch: 2 });
    const names = initializerNames(model);
    expect(names).toEqual(expect.arrayContaining(['conv1.filter.weight', 'block1.0.conv1.filter.weight', 'block4.3.conv2.filter.bias', 'group4.conv.filter.weight', 'fc.weight', 'fc.bias', 'fc2.weight']));
    expect(names).not.toContain('fc2.bias');
  });

  it('lightcnn29 with PReLU: residual blocks under the reference names, max pools', async () => {
    await checkExport({ architecture: 'lightcnn29', inputSize: 32, widthMultiplier: 0.25, numClasses: 4, activation: { name: 'prelu' }, overrides: { res3: { name: 'mfm', variant: '2/1' } } }, { prelu: 24 });
  });

  it('lightcnn9 at 40 px (a 5x5 map pooled with ceil to 3x3)', async () => {
    await checkExport({ architecture: 'lightcnn9', inputSize: 40, widthMultiplier: 0.5, numClasses: 3 }, { classifier: true });
  });

  it('lightcnn4 at 64 px (valid convs)', async () => {
    await checkExport({ architecture: 'lightcnn4', inputSize: 64, widthMultiplier: 0.25, numClasses: 3, activation: { name: 'maxout', k: 2 } });
  });
});
