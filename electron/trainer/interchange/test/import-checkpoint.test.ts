// `lab import` against checkpoints PyTorch itself wrote (test/python/reference_lightcnn.py: the
// reference's module names and MFM), in both of torch.save's formats: the imported run must give
// PyTorch's embeddings, and files that do not fit or are not safe must be refused clearly.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCheckpoint } from '../import-checkpoint';
import { loadRunModel } from '../run-weights';
import { writeStateDict } from '../torch-writer';
import { runPython, SKIP_TORCH } from './torch-python';
import { relativeError } from './compare';

const REFERENCE = fileURLToPath(new URL('./python/reference_lightcnn.py', import.meta.url));

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fcl-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A seeded batch of grey faces in [0, 1], as PyTorch takes them: [n, 1, size, size]. */
function batchOf(n: number, size: number): Float32Array {
  const values = new Float32Array(n * size * size);
  let state = 12345;
  for (let i = 0; i < values.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    values[i] = (state >>> 8) / 2 ** 24;
  }
  return values;
}

interface Saved {
  file: string;
  batch: Float32Array;
  embedding: Float32Array;
}

async function pytorchCheckpoint(arch: string, size: number, format: 'zip' | 'legacy', flags: string[] = []): Promise<Saved> {
  const name = `${arch}-${size}-${format}${flags.join('')}`;
  const file = join(dir, `${name}.pth.tar`);
  const batchFile = join(dir, `${name}.batch.f32`);
  const embeddingFile = join(dir, `${name}.embedding.f32`);
  const batch = batchOf(3, size);
  await writeFile(batchFile, Buffer.from(batch.buffer));
  await runPython([REFERENCE, arch, String(size), format, file, batchFile, embeddingFile, ...flags], { env: { OMP_NUM_THREADS: '1' } });
  const bytes = await readFile(embeddingFile);
  return { file, batch, embedding: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
}

/** The imported run's embedding of PyTorch's batch (NCHW with one channel is NHWC's order too). */
async function labEmbedding(runId: string, batch: Float32Array, size: number): Promise<Float32Array> {
  const { built } = await loadRunModel(dir, runId);
  try {
    const input = tf.tensor4d(batch, [batch.length / (size * size), size, size, 1]);
    const output = built.embedding.predict(input) as tf.Tensor;
    const values = (await output.data()) as Float32Array;
    tf.dispose([input, output]);
    return values;
  } finally {
    built.model.dispose();
  }
}

describe.skipIf(SKIP_TORCH)('importing PyTorch checkpoints', () => {
  it("reads LightCNN-9 in torch's legacy format, DataParallel's prefix and all, and gives PyTorch's embedding", async () => {
    const saved = await pytorchCheckpoint('lightcnn9', 32, 'legacy', ['--dataparallel']);
    const result = await importCheckpoint(saved.file, { dataDir: dir });
    expect(result.checkpoint.format).toBe('legacy');
    expect(result.checkpoint.strippedModulePrefix).toBe(true);
    expect(result.config.model).toBe('lightcnn9');
    expect(result.config.inputSize).toBe(32);
    expect(result.config.width).toBe(1);
    expect(result.config.activation).toBe('mfm:2/1');
    expect(result.classifier).toEqual({ present: true, classes: 10 });
    expect(result.run.record.origin).toMatchObject({ kind: 'imported', format: 'legacy', classifier: true });
    expect(result.run.record.origin?.notes).toEqual(expect.arrayContaining(['epoch: 7', 'arch: lightcnn9', 'prec1: 42.5']));
    expect(result.run.record.state).toBe('finished');
    expect(relativeError(await labEmbedding(result.run.id, saved.batch, 32), saved.embedding)).toBeLessThan(1e-5);
  }, 120_000);

  it('reads a checkpoint saved from a GPU (CUDA storages, as the published files were trained)', async () => {
    const saved = await pytorchCheckpoint('tiny', 32, 'legacy', ['--seed', '3']);
    // The legacy pickle (protocol 2, no frames) as a GPU machine writes it: torch.cuda.FloatStorage at cuda:0.
    const bytes = await readFile(saved.file);
    const cpuLocation = Buffer.from([0x58, 3, 0, 0, 0, ...Buffer.from('cpu')]);
    const cudaLocation = Buffer.from([0x58, 6, 0, 0, 0, ...Buffer.from('cuda:0')]);
    let text = bytes.toString('latin1');
    expect(text).toContain('ctorch\nFloatStorage\n');
    text = text.split('ctorch\nFloatStorage\n').join('ctorch.cuda\nFloatStorage\n').split(cpuLocation.toString('latin1')).join(cudaLocation.toString('latin1'));
    const gpuFile = join(dir, 'gpu.pth.tar');
    await writeFile(gpuFile, Buffer.from(text, 'latin1'));
    const result = await importCheckpoint(gpuFile, { dataDir: dir });
    expect(relativeError(await labEmbedding(result.run.id, saved.batch, 32), saved.embedding)).toBeLessThan(1e-5);
  }, 60_000);

  it('reads the zip format of a tiny Light CNN without a classifier', async () => {
    const numTensors = tf.memory().numTensors;
    const saved = await pytorchCheckpoint('tiny', 32, 'zip', ['--no-classifier']);
    const result = await importCheckpoint(saved.file, { dataDir: dir, name: 'tiny from torch' });
    expect(result.checkpoint.format).toBe('zip');
    expect(result.config.model).toBe('tiny');
    expect(result.classifier.present).toBe(false);
    expect(result.run.record.displayName).toBe('tiny from torch');
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(relativeError(await labEmbedding(result.run.id, saved.batch, 32), saved.embedding)).toBeLessThan(1e-5);
  }, 120_000);

  it('reads LightCNN-29 and LightCNN-29 v2 (residual blocks, max + avg pools, the plain fc)', async () => {
    for (const arch of ['lightcnn29', 'lightcnn29v2']) {
      const saved = await pytorchCheckpoint(arch, 32, 'zip');
      const result = await importCheckpoint(saved.file, { dataDir: dir });
      expect(result.config.model).toBe(arch);
      expect(result.config.inputSize).toBe(32);
      expect(relativeError(await labEmbedding(result.run.id, saved.batch, 32), saved.embedding)).toBeLessThan(1e-5);
    }
  }, 240_000);

  it('refuses a pickle that would run a command, and runs nothing', async () => {
    const marker = join(dir, 'pwned');
    const evil = join(dir, 'evil.pth');
    await runPython([
      '-c',
      `import os, torch
class Evil:
    def __reduce__(self):
        return (os.system, (${JSON.stringify(`touch ${marker}`)},))
torch.save({'state_dict': {'x': torch.zeros(1)}, 'payload': Evil()}, ${JSON.stringify(evil)})`,
    ]);
    await expect(importCheckpoint(evil, { dataDir: dir })).rejects.toThrow(/asks for posix\.system when it is loaded.*nothing in it was run/);
    await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
  }, 60_000);

  it('refuses a truncated file, saying it is cut short', async () => {
    const saved = await pytorchCheckpoint('tiny', 32, 'legacy');
    for (const cut of [0.5, 0.999]) {
      const bytes = await readFile(saved.file);
      const truncated = join(dir, `truncated-${cut}.pth`);
      await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * cut)));
      await expect(importCheckpoint(truncated, { dataDir: dir })).rejects.toThrow(/cut short/);
    }
    const zip = await pytorchCheckpoint('tiny', 32, 'zip');
    const bytes = await readFile(zip.file);
    const truncated = join(dir, 'truncated.zip.pth');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
    await expect(importCheckpoint(truncated, { dataDir: dir })).rejects.toThrow(/damaged|cut short/);
  }, 60_000);
});

describe('refusing checkpoints that do not fit', () => {
  it('names the tensor whose kernel size differs (a 3x3 file for a 5x5 layer)', async () => {
    const file = join(dir, 'kernel.pt');
    // tiny's tensors, with conv1 3x3 instead of 5x5.
    const tensors = [
      ['features.0.filter.weight', [16, 1, 3, 3]],
      ['features.0.filter.bias', [16]],
      ['features.2.conv_a.filter.weight', [16, 8, 1, 1]],
      ['features.2.conv_a.filter.bias', [16]],
      ['features.2.conv.filter.weight', [32, 8, 3, 3]],
      ['features.2.conv.filter.bias', [32]],
      ['fc1.filter.weight', [512, 1024]],
      ['fc1.filter.bias', [512]],
    ] as const;
    await writeStateDict(file, tensors.map(([name, shape]) => ({ name, shape, values: new Float32Array(shape.reduce<number>((a, b) => a * b, 1)) })));
    await expect(importCheckpoint(file, { dataDir: dir })).rejects.toThrow(/features\.0\.filter\.weight is a 3x3 kernel where the network has a 5x5 one/);
  });

  it('says which tensors are missing or extra for another network', async () => {
    const file = join(dir, 'other.pt');
    await writeStateDict(file, [{ name: 'encoder.weight', shape: [2, 2], values: new Float32Array(4) }]);
    await expect(importCheckpoint(file, { dataDir: dir })).rejects.toThrow(/do not match any Light CNN the lab builds \(1 weight tensors: encoder\.weight\)/);
    await expect(importCheckpoint(file, { dataDir: dir, model: 'tiny', inputSize: 32 })).rejects.toThrow(/lacks features\.0\.filter\.weight .*has tensors this network does not: encoder\.weight/);
  });

  it('refuses a file that is not a checkpoint', async () => {
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'hello');
    await expect(importCheckpoint(file, { dataDir: dir })).rejects.toThrow(/not a PyTorch checkpoint/);
    await expect(importCheckpoint(join(dir, 'absent.pt'), { dataDir: dir })).rejects.toThrow(/cannot be read \(ENOENT\)/);
  });
});
