// What the backend tests share: random inputs, running one computation (or one whole
// training step) on two backends, and the error between them. The webgpu backend is this
// machine's adapter, forced as `--backend webgpu` does (a software one here and in CI,
// from Debian's Mesa packages, which .ci/run installs). Reads are `await data()`:
// tfjs-webgpu has no synchronous read in Node.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { Rng } from '../../datasets/random';
import { InProcessCore, type BatchData } from '../../electron/trainer/training/compute-core';
import { parseTrainConfig } from '../../electron/trainer/training/config';
import { Optimizer } from '../../electron/trainer/training/optimizer';
import { namedParams, trainStep, type StepObserver } from '../../electron/trainer/training/train-step';
import { parseActivation } from '../activations/spec';
import { selectBackend, type BackendChoice } from '../backend';
import { buildModel } from '../lightcnn';
import type { ArchitectureName } from '../lightcnn-architectures';
import { setTrainingStep } from '../step-random';

export type TestBackend = 'webgpu' | 'wasm' | 'cpu';

let webgpu: Promise<BackendChoice> | undefined;

/** Registers webgpu on this machine's adapter once per test file; fails the test when there is none. */
export function webGpuReady(): Promise<BackendChoice> {
  webgpu ??= selectBackend({ force: 'webgpu' });
  return webgpu;
}

/** Makes `backend` tfjs' global backend (webgpu registered first, when asked for). */
export async function useBackend(backend: TestBackend): Promise<void> {
  if (backend === 'webgpu') await webGpuReady();
  if (!(await tf.setBackend(backend))) throw new Error(`could not switch to ${backend}`);
}

export interface Input {
  readonly shape: number[];
  readonly values: Float32Array;
}

export function random(shape: number[], rng: Rng, integers = false): Input {
  const size = shape.reduce((a, b) => a * b, 1);
  // Integers in [-3, 3] make exact ties (and all-negative windows) common.
  const values = Float32Array.from({ length: size }, () => (integers ? Math.floor(rng.uniform(-3, 4)) : rng.uniform(-1, 1)));
  return { shape, values };
}

/** Runs `f` on `backend` with fresh tensors of `inputs`; returns every output's values and frees every tensor. */
export async function onBackend(backend: TestBackend, inputs: readonly Input[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await useBackend(backend);
  const outputs = tf.tidy(() => {
    const out = f(...inputs.map((i) => tf.tensor(i.values, i.shape)));
    return Array.isArray(out) ? out : [out];
  });
  try {
    return await Promise.all(outputs.map(async (t) => Float32Array.from(await t.data())));
  } finally {
    for (const t of outputs) t.dispose();
  }
}

export function norm(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] as number) ** 2;
  return Math.sqrt(s);
}

/** ||ours - reference|| / max(||reference||, floor); the absolute error when both are zero. */
export function relativeError(ours: ArrayLike<number>, reference: ArrayLike<number>, floor = 0): number {
  if (ours.length !== reference.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  for (let i = 0; i < ours.length; i++) num += ((ours[i] as number) - (reference[i] as number)) ** 2;
  const scale = Math.max(norm(reference), floor);
  return scale === 0 ? Math.sqrt(num) : Math.sqrt(num) / scale;
}

// ------------------------------------------------------------------ whole training steps

export interface StepOutcome {
  loss: number;
  weights: Float32Array[];
  grads: Float32Array[];
}

/** One SGD step of a small model (width 0.125, 32 px unless told, 5 classes) on `backend`: its loss, gradients and updated weights. */
export async function oneStep(backend: TestBackend, architecture: ArchitectureName, activation: string, batch = 3, inputSize = 32): Promise<StepOutcome> {
  await useBackend(backend);
  const built = buildModel({ architecture, inputSize, widthMultiplier: 0.125, activation: parseActivation(activation), numClasses: 5, seed: 3 });
  const params = namedParams(built.model);
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 }, params);
  const rng = new Rng(21);
  const xs = tf.tensor4d(random([batch, inputSize, inputSize, 1], rng).values, [batch, inputSize, inputSize, 1]);
  const ys = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 5), 'int32');
  try {
    setTrainingStep(7, 1); // the same dropout masks and RReLU slopes on both backends
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(tf.oneHot(ys, 5), built.model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar,
      params.map((p) => p.variable),
    );
    const gradValues = await Promise.all(params.map(async (p) => Float32Array.from(await (grads[p.variable.name] as tf.Tensor).data())));
    value.dispose();
    tf.dispose(Object.values(grads));
    setTrainingStep(7, 1);
    const result = await trainStep(built.model, params, optimizer, { xs, ys, numClasses: 5, lr: 0.05, clipNorm: 0 });
    const weights = await Promise.all(params.map(async (p) => Float32Array.from(await p.variable.data())));
    return { loss: result.loss, weights, grads: gradValues };
  } finally {
    built.model.dispose();
    optimizer.dispose();
    xs.dispose();
    ys.dispose();
  }
}

/**
 * tfjs' tensor count and the backend's bytes (GPU bytes on webgpu) after each of `steps` Adam
 * steps of a small LightCNN-9 on `backend`, with the probes the trainer runs: through a
 * compute core, each step with its per-step probe numbers, then an activation-map capture of
 * one watched layer of the probe faces. A loop that leaks grows them.
 */
export async function memoryOverSteps(backend: TestBackend, steps = 4): Promise<{ tensors: number[]; bytes: number[] }> {
  await useBackend(backend);
  const config = parseTrainConfig({ data: 'synthetic:5x2', model: 'lightcnn9', inputSize: 32, width: 0.125, optimizer: 'adam', lr: 0.01, clipNorm: 1, warmupSteps: 0, seed: 3 });
  const core = await InProcessCore.create({ config, numClasses: 5, probes: { snapshots: false } });
  const rng = new Rng(5);
  const batchOf = (labels: number[]): BatchData => ({
    pixels: Float32Array.from({ length: labels.length * 32 * 32 }, () => rng.uniform(0, 1)),
    labels: Int32Array.from(labels),
    indices: Int32Array.from(labels, (_, i) => i),
    count: labels.length,
    inputSize: 32,
  });
  try {
    await core.setProbeFaces(batchOf([1, 2]));
    const watched = core.model.activationLayers[1] as string;
    await core.subscribe({ layers: new Set([watched]), preActivation: new Set(), fullMaps: [] });
    const batch = batchOf([0, 3]);
    const tensors: number[] = [];
    const bytes: number[] = [];
    for (let step = 1; step <= steps; step++) {
      const reply = await core.step({ batch, lr: 0.01, clipNorm: 1, step, seed: 1 });
      await core.requestCapture();
      const { frames, warnings } = await core.frames(step, { now: true });
      // The probes ran, or the count below would not have measured them.
      expect([...reply.warnings, ...warnings]).toEqual([]);
      expect(reply.layers).toHaveLength(core.model.activationLayers.length);
      expect(frames).toHaveLength(1);
      const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      tensors.push(memory.numTensors);
      bytes.push(memory.numBytesInGPU ?? memory.numBytes);
    }
    return { tensors, bytes };
  } finally {
    await core.dispose();
  }
}

/**
 * A tiny model with SGD and one fixed batch on `backend`, for tests that step it by hand: `step`
 * takes one training step (with an optional observer), `dispose` frees everything.
 */
export async function tinyTraining(backend: TestBackend) {
  await useBackend(backend);
  const built = buildModel({ architecture: 'tiny', inputSize: 16, widthMultiplier: 0.25, numClasses: 3, seed: 1 });
  const params = namedParams(built.model);
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, params);
  const xs = tf.randomUniform([2, 16, 16, 1]) as tf.Tensor4D;
  const ys = tf.tensor1d([0, 2], 'int32');
  const input = { xs, ys, numClasses: 3, lr: 0.1, clipNorm: 0 };
  return {
    params,
    step: (observer?: StepObserver) => trainStep(built.model, params, optimizer, input, observer),
    weights: () => Promise.all(params.map(async (p) => Float32Array.from(await p.variable.data()))),
    dispose: () => {
      built.model.dispose();
      optimizer.dispose();
      xs.dispose();
      ys.dispose();
    },
  };
}

/** What a bad shader or an impossible buffer does on the webgpu backend's device: a validation error. */
export function provokeValidationError(): void {
  webGpuDevice().createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
}

/** The webgpu backend's device. */
export function webGpuDevice(): GPUDevice {
  return (tf.backend() as unknown as { device: GPUDevice }).device;
}

export function expectSameStep(ours: StepOutcome, reference: StepOutcome, tolerance: number): void {
  expect(Math.abs(ours.loss - reference.loss)).toBeLessThan(tolerance * Math.max(1, Math.abs(reference.loss)));
  // A variable whose gradient nearly cancels (a 1-element bias summing terms of both signs) is
  // ill-conditioned in float32: its error is measured against 1 % of the largest gradient's norm.
  // (Backends also differ slightly in their kernels: cpu's erf, for GELU, is a 1.8e-7 approximation.)
  const floor = 0.01 * Math.max(...reference.grads.map(norm));
  reference.grads.forEach((g, i) => expect(relativeError(ours.grads[i] as Float32Array, g, floor)).toBeLessThan(tolerance));
  reference.weights.forEach((w, i) => expect(relativeError(ours.weights[i] as Float32Array, w)).toBeLessThan(tolerance));
}
