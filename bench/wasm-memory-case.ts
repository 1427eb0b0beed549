// The wasm heap a training step takes, measured: a real session (probes on, snapshots off) on
// ORL for 3 steps, then the heap's size (WebAssembly memory only grows, so it is the peak).
//   tsx bench/wasm-memory-case.ts <dataset> <model> <inputSize> <batch> [activation]
// Prints one JSON line with the measured heap and electron/trainer/training/memory-fit.ts' estimate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TrainingSession } from '../electron/trainer/training/session';
import { activationFloatsPerImage, trainingStepBytes } from '../electron/trainer/training/memory-fit';
import type { ArchitectureName } from '../models/lightcnn-architectures';

const [data, model, inputSize, batch, activation = 'mfm:2/1'] = process.argv.slice(2);
if (!data || !model || !inputSize || !batch) throw new Error('usage: wasm-memory-case.ts <dataset> <model> <inputSize> <batch> [activation]');
const dataDir = await mkdtemp(join(tmpdir(), 'fcl-wasm-memory-'));
const session = await TrainingSession.start(
  { data, model: model as ArchitectureName, inputSize: Number(inputSize), batch: Number(batch), activation, maxSteps: 3, epochs: 1 },
  { dataDir, backend: 'wasm', probes: { snapshots: false } },
);
const summary = session.model.summary;
await session.train();
session.dispose();
await rm(dataDir, { recursive: true, force: true });
const heapBytes = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
const MiB = 2 ** 20;
process.stdout.write(
  `${JSON.stringify({ model, inputSize: Number(inputSize), batch: Number(batch), activation, heapMiB: heapBytes / MiB, estimateMiB: trainingStepBytes(summary, Number(batch)) / MiB, activationMiBPerImage: (4 * activationFloatsPerImage(summary)) / MiB })}\n`,
);
process.exit(0);
