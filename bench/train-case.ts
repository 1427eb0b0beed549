// One training-throughput case in its own process (own peak RSS, own wasm threads):
// tsx bench/train-case.ts <model> <inputSize> <batch> <steps> [backend] [optimizer] [warmup]
// backend: tensorflow | webgpu | wasm | cpu (default: the lab's chain); FACE_CNN_LAB_WASM_THREADS=1
// runs wasm on one thread. optimizer: adam (default, as bench/pytorch/lightcnn.py) | sgd.
// warmup: untimed steps first (default 1; a GPU compiles its shaders in the first ones).
// Random inputs and labels: the cost of a step does not depend on the pixels. MFM 2/1,
// 40 classes, as the PyTorch script. Every step reads its loss back as the trainer does.
// Prints one JSON line: the median and mean of the timed steps.
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../models/backend';
import { wasmThreads } from '../models/backend-wasm';
import { describeAdapter } from '../models/backend-webgpu';
import { parseActivation } from '../models/activations/spec';
import { buildModel } from '../models/lightcnn';
import type { ArchitectureName } from '../models/lightcnn-architectures';
import { fitBatch } from '../electron/trainer/training/memory-fit';
import { Optimizer } from '../electron/trainer/training/optimizer';
import { namedParams, trainStep } from '../electron/trainer/training/train-step';

const [model, inputSize, batch, steps, backend, optimizerKind, warmup] = process.argv.slice(2);
if (!model || !inputSize || !batch || !steps) throw new Error('usage: train-case.ts <model> <inputSize> <batch> <steps> [backend] [adam|sgd] [warmup]');
const choice = await selectBackend({ purpose: 'train', force: backend ? (backend as BackendName) : undefined });
const size = Number(inputSize);
const n = Number(batch);
const classes = 40;
const built = buildModel({ architecture: model as ArchitectureName, inputSize: size, activation: parseActivation('mfm:2/1'), numClasses: classes, seed: 1 });
// On webgpu every tensor lives in one storage binding: a batch whose largest layer output does
// not fit the adapter's is refused here in words, not by a validation error in the first step.
if (choice.adapter !== undefined) {
  const fit = fitBatch({ summary: built.summary, batch: n, backend: 'webgpu', userChose: true, model, inputSize: size, gpuLimits: choice.adapter });
  if (fit.kind === 'refused') {
    process.stderr.write(`Error: ${fit.message}\n`);
    process.exit(1);
  }
}
const params = namedParams(built.model);
const kind = optimizerKind === 'sgd' ? 'sgd' : 'adam';
const optimizer = new Optimizer({ kind, momentum: 0.9, weightDecay: 1e-4 }, params);
// Seeded: the same pixels on every backend, so the first step's loss compares across backends.
const xs = tf.randomUniform([n, size, size, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
const ys = tf.tensor1d(Array.from({ length: n }, (_, i) => i % classes), 'int32');
const run = () => trainStep(built.model, params, optimizer, { xs, ys, numClasses: classes, lr: 0.001, clipNorm: 0 });
// `await` whether trainStep answers at once or with a promise (its reads become async for webgpu).
const losses: number[] = [];
for (let i = 0; i < Number(warmup ?? 1); i++) losses.push((await run()).loss); // warm-up: kernels, shaders, first allocations
const times: number[] = [];
for (let i = 0; i < Number(steps); i++) {
  const started = performance.now();
  losses.push((await run()).loss);
  times.push(performance.now() - started);
}
const mean = times.reduce((a, b) => a + b, 0) / times.length;
times.sort((a, b) => a - b);
const median = times[times.length >> 1] as number;
const threads = choice.tfBackend === 'wasm' ? wasmThreads() : 1;
const adapter = choice.adapter === undefined ? {} : { adapter: describeAdapter(choice.adapter), software: choice.adapter.software };
const line = JSON.stringify({ backend: choice.name, ...adapter, threads, optimizer: kind, losses, msPerStep: median, meanMsPerStep: mean, imagesPerSecond: (n * 1000) / median, peakRssMiB: process.resourceUsage().maxRSS / 1024 });
// Exit once the line is out: nothing else should keep the process (wasm's pool threads are unref'd anyway).
process.stdout.write(line, () => process.exit(0));
