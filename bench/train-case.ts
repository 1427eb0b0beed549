// One training-throughput case in its own process (own peak RSS, own wasm threads):
// tsx bench/train-case.ts <model> <inputSize> <batch> <steps> [backend] [optimizer]
// backend: tensorflow | wasm | cpu (default: the lab's chain); FACE_CNN_LAB_WASM_THREADS=1
// runs wasm on one thread. optimizer: adam (default, as bench/pytorch/lightcnn.py) | sgd.
// Random inputs and labels: the cost of a step does not depend on the pixels. MFM 2/1,
// 40 classes, as the PyTorch script. Prints one JSON line.
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../models/backend';
import { wasmThreads } from '../models/backend-wasm';
import { parseActivation } from '../models/activations/spec';
import { buildModel } from '../models/lightcnn';
import type { ArchitectureName } from '../models/lightcnn-architectures';
import { Optimizer } from '../electron/trainer/training/optimizer';
import { namedParams, trainStep } from '../electron/trainer/training/train-step';

const [model, inputSize, batch, steps, backend, optimizerKind] = process.argv.slice(2);
if (!model || !inputSize || !batch || !steps) throw new Error('usage: train-case.ts <model> <inputSize> <batch> <steps> [backend] [adam|sgd]');
const choice = await selectBackend({ purpose: 'train', force: backend ? (backend as BackendName) : undefined });
const size = Number(inputSize);
const n = Number(batch);
const classes = 40;
const built = buildModel({ architecture: model as ArchitectureName, inputSize: size, activation: parseActivation('mfm:2/1'), numClasses: classes, seed: 1 });
const params = namedParams(built.model);
const kind = optimizerKind === 'sgd' ? 'sgd' : 'adam';
const optimizer = new Optimizer({ kind, momentum: 0.9, weightDecay: 1e-4 }, params);
const xs = tf.randomUniform([n, size, size, 1]) as tf.Tensor4D;
const ys = tf.tensor1d(Array.from({ length: n }, (_, i) => i % classes), 'int32');
const run = () => trainStep(built.model, params, optimizer, { xs, ys, numClasses: classes, lr: 0.001, clipNorm: 0 });
run(); // warm-up: kernels, first allocations
const times: number[] = [];
for (let i = 0; i < Number(steps); i++) {
  const started = performance.now();
  run();
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const median = times[times.length >> 1] as number;
const threads = choice.tfBackend === 'wasm' ? wasmThreads() : 1;
const line = JSON.stringify({ backend: choice.name, threads, optimizer: kind, msPerStep: median, imagesPerSecond: (n * 1000) / median, peakRssMiB: process.resourceUsage().maxRSS / 1024 });
// Exit once the line is out: nothing else should keep the process (wasm's pool threads are unref'd anyway).
process.stdout.write(line, () => process.exit(0));
