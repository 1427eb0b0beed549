// `lab export`: a trained run's network out to PyTorch (checked in PyTorch itself: torch.load
// with weights_only and the generated model.py give the lab's embeddings), to ONNX, and to a
// torchrun folder; and an imported run refuses to resume.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../../../models/lightcnn';
import { TrainingSession } from '../../training/session';
import { exportRun, stateDictOf } from '../export-run';
import { importCheckpoint } from '../import-checkpoint';
import { loadRunModel } from '../run-weights';
import { readTorchCheckpoint } from '../torch-checkpoint';
import { writeStateDict } from '../torch-writer';
import { runPython, SKIP_TORCH } from './torch-python';
import { relativeError } from './compare';

let dir: string;
let trainedRun: string;
const SIZE = 32;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fcl-export-'));
  // A short run with a different activation in every unit kind: what export must carry over.
  const session = await TrainingSession.start(
    { data: 'synthetic:4x4', model: 'tiny', inputSize: SIZE, batch: 8, maxSteps: 2, activation: 'relu', layers: { 'group1.a': 'prelu', 'group1.b': 'maxout:3', fc: 'mfm:3/2' } },
    { dataDir: dir, backend: 'cpu', prefetch: 0 },
  );
  const outcome = await session.train();
  trainedRun = outcome.runId;
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function batchOf(n: number): Float32Array {
  return Float32Array.from({ length: n * SIZE * SIZE }, (_, i) => ((i * 7919) % 1000) / 1000);
}

async function labOutputs(runId: string, batch: Float32Array): Promise<{ embedding: Float32Array; logits: Float32Array }> {
  const { built } = await loadRunModel(dir, runId);
  try {
    const input = tf.tensor4d(batch, [batch.length / (SIZE * SIZE), SIZE, SIZE, 1]);
    const embedding = built.embedding.predict(input) as tf.Tensor;
    const logits = built.model.predict(input) as tf.Tensor;
    const result = { embedding: (await embedding.data()) as Float32Array, logits: (await logits.data()) as Float32Array };
    tf.dispose([input, embedding, logits]);
    return result;
  } finally {
    built.model.dispose();
  }
}

describe('exporting a run', () => {
  it('writes a state_dict the lab reads back to the same values, and refuses a non-empty folder unless forced', async () => {
    const out = join(dir, 'pytorch-roundtrip');
    const result = await exportRun(trainedRun, { dataDir: dir, format: 'pytorch', out });
    expect([...result.files].sort()).toEqual(['README.md', 'config.json', 'model.pt', 'model.py']);
    const written = await readTorchCheckpoint(join(out, 'model.pt'));
    const { built } = await loadRunModel(dir, trainedRun);
    try {
      const expected = await stateDictOf(built);
      expect([...written.tensors.keys()]).toEqual(expected.map((e) => e.name));
      for (const entry of expected) {
        const tensor = written.tensors.get(entry.name);
        expect(tensor?.shape).toEqual(entry.shape);
        expect(Array.from(tensor?.values ?? [])).toEqual(Array.from(entry.values));
      }
    } finally {
      built.model.dispose();
    }
    await expect(exportRun(trainedRun, { dataDir: dir, format: 'pytorch', out })).rejects.toThrow(/exists and is not empty.*--force/);
    await expect(exportRun(trainedRun, { dataDir: dir, format: 'pytorch', out, force: true })).resolves.toMatchObject({ runId: trainedRun });
  }, 60_000);

  it("round-trips through lab import: model.pt carries the run's settings, per-layer activations and all", async () => {
    const out = join(dir, 'pytorch-reimport');
    await exportRun(trainedRun, { dataDir: dir, format: 'pytorch', out });
    const imported = await importCheckpoint(join(out, 'model.pt'), { dataDir: dir });
    const { config } = await loadRunModel(dir, trainedRun).then((m) => (m.built.model.dispose(), m));
    for (const key of ['model', 'inputSize', 'width', 'activation', 'layers', 'init', 'dropout', 'seed'] as const) expect(imported.config[key], key).toEqual(config[key]);
    expect(imported.decisions).toContain("settings: the lab's own, saved in the file (lab_config)");
    const batch = batchOf(2);
    expect(relativeError((await labOutputs(imported.run.id, batch)).embedding, (await labOutputs(trainedRun, batch)).embedding)).toBe(0);
  }, 60_000);

  it('says when the input size is a guess: a plain state_dict of a 30 px network reads as 32 px, and the decision names the range', async () => {
    const built = buildModel({ architecture: 'tiny', inputSize: 30, numClasses: 3 });
    const file = join(dir, 'tiny-30.pt');
    try {
      await writeStateDict(file, await stateDictOf(built));
    } finally {
      built.model.dispose();
    }
    const imported = await importCheckpoint(file, { dataDir: dir });
    expect(imported.config.inputSize).toBe(32);
    expect(imported.decisions).toContain("input size: 32 px (29-32 px all give the fc's inputs; the file cannot tell which one it was trained at: give --input-size if not 32)");
    const told = await importCheckpoint(file, { dataDir: dir, inputSize: 30 });
    expect(told.config.inputSize).toBe(30);
  });

  it("writes ONNX that onnxruntime runs to the lab's embedding", async () => {
    const out = join(dir, 'onnx');
    await exportRun(trainedRun, { dataDir: dir, format: 'onnx', out });
    const session = await ort.InferenceSession.create(join(out, 'model.onnx'));
    const batch = batchOf(2);
    const outputs = await session.run({ image: new ort.Tensor('float32', batch, [2, 1, SIZE, SIZE]) });
    const lab = await labOutputs(trainedRun, batch);
    expect(relativeError(outputs['embedding']?.data as Float32Array, lab.embedding)).toBeLessThan(1e-5);
    expect(relativeError(outputs['logits']?.data as Float32Array, lab.logits)).toBeLessThan(1e-5);
  }, 60_000);

  it('writes a torchrun folder', async () => {
    const out = join(dir, 'torchrun');
    const result = await exportRun(trainedRun, { dataDir: dir, format: 'torchrun', out });
    expect((await readdir(out)).sort()).toEqual([...result.files].sort());
    expect(result.files).toEqual(expect.arrayContaining(['model.py', 'train.py', 'config.json', 'README.md', 'init.pt']));
    // init.pt: the run's weights, for train.py --init (torch.load with weights_only reads this format; see torchrun-folder.test.ts).
    const init = await readTorchCheckpoint(join(out, 'init.pt'));
    const { built } = await loadRunModel(dir, trainedRun);
    try {
      const lab = await stateDictOf(built);
      expect([...init.tensors.keys()]).toEqual(lab.map((e) => e.name));
      for (const entry of lab) expect(Array.from(init.tensors.get(entry.name)?.values ?? []), entry.name).toEqual(Array.from(entry.values));
    } finally {
      built.model.dispose();
    }
    const readme = await readFile(join(out, 'README.md'), 'utf8');
    expect(readme).toContain(`\`init.pt\` holds run ${trainedRun}'s weights at step ${result.step}`);
    expect(readme).toContain('train.py --data faces/ --init init.pt');
  });

  it('refuses to resume an imported run, pointing at eval and export', async () => {
    const built = buildModel({ architecture: 'tiny', inputSize: SIZE, numClasses: 3 });
    const file = join(dir, 'tiny.pt');
    try {
      await writeStateDict(file, await stateDictOf(built));
    } finally {
      built.model.dispose();
    }
    const imported = await importCheckpoint(file, { dataDir: dir });
    await expect(TrainingSession.resume(imported.run.id, { dataDir: dir, backend: 'cpu' })).rejects.toThrow(
      /was imported from .*tiny\.pt: it has no training of the lab's to resume.*eval .* --data <faces>, or export it with npm run lab -- export \S+ --format torchrun and train it further with train\.py --init init\.pt$/,
    );
  });
});

describe.skipIf(SKIP_TORCH)('exported to PyTorch, checked in PyTorch', () => {
  it("torch.load(weights_only=True) and the generated model.py give the lab's embeddings and logits", async () => {
    const out = join(dir, 'pytorch');
    await exportRun(trainedRun, { dataDir: dir, format: 'pytorch', out });
    const batch = batchOf(3);
    await writeFile(join(out, 'batch.f32'), Buffer.from(batch.buffer));
    await runPython(
      [
        '-c',
        `import numpy as np, torch
from model import build_model
model = build_model()
model.load_state_dict(torch.load('model.pt', weights_only=True))
model.eval()
x = torch.from_numpy(np.fromfile('batch.f32', dtype=np.float32)).view(-1, 1, ${SIZE}, ${SIZE})
with torch.no_grad():
    logits, embedding = model(x)
embedding.numpy().astype(np.float32).tofile('embedding.f32')
logits.numpy().astype(np.float32).tofile('logits.f32')`,
      ],
      { cwd: out, env: { OMP_NUM_THREADS: '1' } },
    );
    const read = async (name: string) => {
      const bytes = await readFile(join(out, name));
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    };
    const lab = await labOutputs(trainedRun, batch);
    expect(relativeError(await read('embedding.f32'), lab.embedding)).toBeLessThan(1e-5);
    expect(relativeError(await read('logits.f32'), lab.logits)).toBeLessThan(1e-5);
  }, 120_000);
});
