// model.py against the lab: the generated PyTorch module's state_dict has torchParams' keys,
// order and shapes, loads the lab's weights (converted with labToTorch) and, in eval mode,
// gives the lab's logits and embedding to 1e-5, for every activation and the reference layouts.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ACTIVATION_NAMES, formatActivation } from '../../../../models/activations/spec';
import { buildModel, type ModelConfig } from '../../../../models/lightcnn';
import { labToTorch, torchParams } from '../../../../models/torch-layout';
import { modelPy, pyLiteral } from '../model-py';
import { runPython, SKIP_TORCH } from './torch-python';

const SIZE = 32;
const BATCH = 3;

/** Every activation appears at least once across the tiny models (one per unit, overrides). */
const TINY: ReadonlyArray<readonly [string, ModelConfig]> = [
  ['sigmoid, prelu, maxout:3, mfm:3/2', { architecture: 'tiny', inputSize: SIZE, numClasses: 7, overrides: { conv1: { name: 'sigmoid' }, 'group1.a': { name: 'prelu' }, 'group1.b': { name: 'maxout', k: 3 }, fc: { name: 'mfm', variant: '3/2' } } }],
  ['tanh, leaky_relu, rrelu, relu (glorot init)', { architecture: 'tiny', inputSize: SIZE, numClasses: 5, initializer: 'glorot', activation: { name: 'relu' }, overrides: { conv1: { name: 'tanh' }, 'group1.a': { name: 'leaky_relu', alpha: 0.1 }, 'group1.b': { name: 'rrelu', lower: 0.1, upper: 0.3 } } }],
  ['selu, gelu, swish, mish (he init)', { architecture: 'tiny', inputSize: SIZE, numClasses: 6, initializer: 'he', overrides: { conv1: { name: 'selu' }, 'group1.a': { name: 'gelu' }, 'group1.b': { name: 'swish' }, fc: { name: 'mish' } } }],
  ['elu, mfm:3/2 by its group, mfm:2/1, prelu on the fc', { architecture: 'tiny', inputSize: SIZE, numClasses: 4, dropout: 0.3, overrides: { conv1: { name: 'elu' }, group1: { name: 'mfm', variant: '3/2' }, 'group1.b': { name: 'mfm', variant: '2/1' }, fc: { name: 'prelu' } } }],
  ['maxout:2 everywhere, rrelu defaults on the fc', { architecture: 'tiny', inputSize: SIZE, numClasses: 3, activation: { name: 'maxout', k: 2 }, overrides: { fc: { name: 'rrelu', lower: 1 / 8, upper: 1 / 3 } } }],
];

const REFERENCE: ReadonlyArray<readonly [string, ModelConfig]> = [
  ['lightcnn9 at 32 (mfm:2/1)', { architecture: 'lightcnn9', inputSize: SIZE, numClasses: 10 }],
  ['lightcnn29v2 at 32, width 0.25', { architecture: 'lightcnn29v2', inputSize: SIZE, widthMultiplier: 0.25, numClasses: 10 }],
  ['lightcnn29 at 32, width 0.25, prelu', { architecture: 'lightcnn29', inputSize: SIZE, widthMultiplier: 0.25, numClasses: 10, activation: { name: 'prelu' }, overrides: { res2: { name: 'mfm', variant: '3/2' } } }],
];

/** Loads the weights, checks the keys, runs eval (and one training step's forward and backward). */
const CHECK_PY = String.raw`
import json, sys
import numpy as np
import torch
sys.path.insert(0, '.')
import model as m

torch.manual_seed(0)
index = json.load(open('index.json'))
net = m.build_model()
fresh = net.state_dict()
report = {'keys': list(fresh.keys()), 'shapes': [list(v.shape) for v in fresh.values()]}
if m.INITIALIZER in ('he', 'glorot'):
    report['biases_zero'] = all(float(v.abs().max()) == 0.0 for k, v in fresh.items() if k.endswith('.bias'))
state = {p['torch']: torch.from_numpy(np.fromfile(p['file'], dtype='<f4').reshape(p['shape'])) for p in index['params']}
net.load_state_dict(state, strict=True)
net.eval()
x = np.fromfile('input.f32', dtype='<f4').reshape(index['batch'], index['size'], index['size'], 1).transpose(0, 3, 1, 2).copy()
with torch.no_grad():
    logits, embedding = net(torch.from_numpy(x))
report['logits'] = logits.reshape(-1).tolist()
report['embedding'] = embedding.reshape(-1).tolist()
net.train()
out, fc = net(torch.from_numpy(x))
torch.nn.functional.cross_entropy(out, torch.zeros(index['batch'], dtype=torch.long)).backward()
report['train_ok'] = all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in net.parameters())
print(json.dumps(report))
`;
import { relativeError } from './compare';

interface Report {
  keys: string[];
  shapes: number[][];
  biases_zero?: boolean;
  logits: number[];
  embedding: number[];
  train_ok: boolean;
}

const dirs: string[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes model.py, the lab's weights in torch's layout and a batch; runs CHECK_PY; compares. */
async function checkAgainstLab(config: ModelConfig): Promise<void> {
  const built = buildModel(config);
  try {
    // PReLU slopes start at 0.25 everywhere; varied ones show each channel's slope lands on its channel.
    for (const unit of built.units) {
      if (unit.spec.name !== 'prelu') continue;
      const slopes = built.model.getLayer(unit.layer).weights[0];
      if (slopes === undefined) throw new Error(`${unit.layer} has no slopes`);
      slopes.write(tf.randomUniform(slopes.shape as number[], -0.3, 0.9, 'float32', 7));
    }
    const dir = mkdtempSync(join(tmpdir(), 'model-py-'));
    dirs.push(dir);
    const source = modelPy(built);
    writeFileSync(join(dir, 'model.py'), source);
    writeFileSync(join(dir, 'check.py'), CHECK_PY);
    const params = torchParams(built);
    const index = {
      batch: BATCH,
      size: SIZE,
      params: params.map((param, i) => {
        const weight = built.model.weights.find((w) => w.originalName === param.lab);
        if (weight === undefined) throw new Error(`no lab weight ${param.lab}`);
        const values = labToTorch(param, weight.read().dataSync() as Float32Array);
        const file = `p${i}.f32`;
        writeFileSync(join(dir, file), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
        return { torch: param.torch, shape: param.torchShape, file };
      }),
    };
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    const x = tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 11);
    const input = x.dataSync() as Float32Array;
    writeFileSync(join(dir, 'input.f32'), Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    const logits = tf.tidy(() => (built.model.predict(x) as tf.Tensor).dataSync());
    const embedding = tf.tidy(() => (built.embedding.predict(x) as tf.Tensor).dataSync());
    x.dispose();

    const report = JSON.parse(await runPython(['check.py'], { cwd: dir, env: { OMP_NUM_THREADS: '1' } })) as Report;
    expect(report.keys).toEqual(params.map((p) => p.torch));
    expect(report.shapes).toEqual(params.map((p) => [...p.torchShape]));
    expect(report.embedding).toHaveLength(BATCH * built.embeddingSize);
    expect(report.logits).toHaveLength(BATCH * built.config.numClasses);
    expect(relativeError(report.embedding, embedding)).toBeLessThan(1e-5);
    expect(relativeError(report.logits, logits)).toBeLessThan(1e-5);
    expect(report.train_ok).toBe(true);
    if (built.config.initializer !== 'pytorch') expect(report.biases_zero).toBe(true);
    // Every unit's activation shows in the code, overrides included.
    for (const unit of built.units) expect(source).toContain(pyLiteral(formatActivation(unit.spec)));
  } finally {
    built.model.dispose();
  }
}

describe('modelPy: the source', () => {
  test('states the configuration and the units, overrides marked', () => {
    const built = buildModel(TINY[0]?.[1] as ModelConfig);
    try {
      const source = modelPy(built);
      expect(source).toContain('ARCHITECTURE = "tiny"');
      expect(source).toContain('INPUT_SIZE = 32');
      expect(source).toContain('NUM_CLASSES = 7');
      expect(source).toContain('OVERRIDES = {"conv1": "sigmoid", "group1.a": "prelu", "group1.b": "maxout:3", "fc": "mfm:3/2"}');
      expect(source).toContain('self.fc1 = LinearUnit(');
      expect(source).toContain('maxout:3, overridden');
      expect(source).toMatch(/def build_model\(num_classes=NUM_CLASSES\) -> nn\.Module:/);
    } finally {
      built.model.dispose();
    }
  });

  test('the tiny cases cover every activation', () => {
    const used = new Set(TINY.flatMap(([, config]) => {
      const built = buildModel(config);
      try {
        return built.units.map((u) => u.spec.name);
      } finally {
        built.model.dispose();
      }
    }));
    expect([...used].sort()).toEqual([...ACTIVATION_NAMES].sort());
  });

  test('pyLiteral writes Python', () => {
    expect(pyLiteral({ a: [1, 0.5, 'x"y'], b: true, c: null })).toBe('{"a": [1, 0.5, "x\\"y"], "b": True, "c": None}');
  });
});

describe.skipIf(SKIP_TORCH)('modelPy in PyTorch computes what the lab computes', () => {
  test.each(TINY)('tiny: %s', async (_name, config) => {
    await checkAgainstLab(config);
  });
  test.each(REFERENCE)('%s', async (_name, config) => {
    await checkAgainstLab(config);
  });
});
