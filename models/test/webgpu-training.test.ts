// Everything the lab runs, on webgpu, against cpu: every activation forward and backward, one
// whole training step of each architecture, a leak check of the step loop with its probes, and a training
// session (probes, activation maps, checkpoint, resume, evaluation) whose loss rows match a
// cpu session's. The adapter is this machine's (Mesa's llvmpipe here and in CI: correct, not
// fast), forced as `--backend webgpu` does. Tolerances are norm-based relative errors.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../datasets/test/fixtures';
import { Rng } from '../../datasets/random';
import { evaluateRun } from '../../electron/trainer/evaluation/evaluate-run';
import { decodeFrame } from '#protocol/frames';
import { runSession, type Of } from '../../electron/trainer/training/test/run-session';
import { createActivation } from '../activations';
import { ACTIVATION_NAMES, inputChannels, parseActivation } from '../activations/spec';
import { setTrainingStep } from '../step-random';
import { expectSameStep, memoryOverSteps, onBackend, oneStep, random, relativeError, webGpuReady } from './backend-compare';

/** One op or one step: float32 kernels in another order (GPU reductions, exp/tanh/erf of the driver). */
const TOLERANCE = 1e-4;

test('webgpu is forced on this machine\'s adapter and says which', async () => {
  const choice = await webGpuReady();
  expect(choice.name).toBe('webgpu');
  expect(choice.tfBackend).toBe('webgpu');
  expect(choice.canTrain).toBe(true);
  expect(choice.adapter).toBeDefined();
  expect(choice.summary).toContain(choice.adapter?.device || choice.adapter?.description || '');
});

describe('every activation, forward and gradient, equals cpu', () => {
  const specs = [...ACTIVATION_NAMES.filter((a) => a !== 'maxout' && a !== 'mfm'), 'maxout:3', 'mfm:2/1', 'mfm:3/2'];
  test.each(specs.map((s) => [s]))('%s', async (text) => {
    const spec = parseActivation(text);
    const channels = 4;
    const x = random([2, 5, 3, inputChannels(spec, channels)], new Rng(text.length), false);
    const f = (t: tf.Tensor) => {
      setTrainingStep(5, 1); // RReLU's slopes: the same draw on both backends
      const layer = createActivation(spec, `act_${text.replace(/\W/g, '_')}`);
      const upstream = tf.linspace(-1, 1, tf.util.sizeFromShape(layer.computeOutputShape(t.shape) as number[])).reshape(layer.computeOutputShape(t.shape) as number[]);
      const forward = (a: tf.Tensor) => layer.apply(a, { training: true }) as tf.Tensor;
      const y = forward(t);
      const dx = tf.grad((a: tf.Tensor) => forward(a).mul(upstream).sum())(t);
      return [y, dx];
    };
    const reference = await onBackend('cpu', [x], f);
    const ours = await onBackend('webgpu', [x], f);
    ours.forEach((values, i) => expect(relativeError(values, reference[i] as Float32Array)).toBeLessThan(TOLERANCE));
  });
});

describe('a whole training step on webgpu equals one on cpu', () => {
  test.each([['tiny', 32], ['lightcnn4', 64], ['lightcnn9', 32], ['lightcnn29', 32], ['lightcnn29v2', 32]] as const)('%s (width 0.125, %i px, MFM, SGD): loss, gradients, updated weights', async (architecture, size) => {
    expectSameStep(await oneStep('webgpu', architecture, 'mfm', 3, size), await oneStep('cpu', architecture, 'mfm', 3, size), TOLERANCE);
  });

  test.each([['prelu'], ['rrelu'], ['maxout:3'], ['gelu']])('tiny with %s', async (activation) => {
    expectSameStep(await oneStep('webgpu', 'tiny', activation), await oneStep('cpu', 'tiny', activation), TOLERANCE);
  });

  test('no tensors and no GPU memory leak over several steps, with the probes on', async () => {
    const { tensors, bytes } = await memoryOverSteps('webgpu');
    // The first step makes Adam's moments; from then on nothing grows.
    expect(new Set(tensors.slice(1)).size).toBe(1);
    expect(new Set(bytes.slice(1)).size).toBe(1);
    expect(bytes[1]).toBeGreaterThan(0);
  });
});

describe('a training session on webgpu', () => {
  const run = (backend: 'webgpu' | 'cpu', dataDir: string, maxSteps: number, resume?: string) => runSession({ dataDir, maxSteps, session: { backend }, ...(resume !== undefined ? { resume } : {}) });

  test('loss rows, probes and maps as on cpu; it checkpoints, resumes and evaluates', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const gpuDir = await tempDir();
    const gpu = await run('webgpu', gpuDir, 8);
    const cpu = await run('cpu', await tempDir(), 8);
    expect(gpu.outcome.state).toBe('stopped');
    expect(gpu.losses.map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(relativeError(gpu.losses.map(([, loss]) => loss), cpu.losses.map(([, loss]) => loss))).toBeLessThan(TOLERANCE);
    expect(gpu.events.find((e) => e.type === 'started')).toMatchObject({ backend: expect.stringMatching(/^training on webgpu/) });

    // Dead-unit statistics each step, as cpu's. Layers and unit counts are exact; a dead filter is
    // decided by signs, and a unit whose pre-activation sits at the edge (an MFM tie, a value
    // within float32 rounding of 0) can fall the other way on a GPU, whose reductions add in
    // another order: up to one dead filter per layer may differ.
    const stats = (r: typeof gpu) => (r.events.filter((e) => e.type === 'layerStats') as Of<'layerStats'>[]).map((e) => e.layers);
    expect(stats(gpu)).toHaveLength(8);
    expect(stats(cpu)).toHaveLength(8);
    stats(gpu).forEach((layers, step) => {
      const reference = stats(cpu)[step]!;
      expect(layers.map((l) => [l.layer, l.units])).toEqual(reference.map((l) => [l.layer, l.units]));
      layers.forEach(({ deadFilters }, i) => {
        const expected = reference[i]!.deadFilters;
        if (deadFilters === null || expected === null) expect(deadFilters).toBe(expected);
        else expect(Math.abs(deadFilters - expected)).toBeLessThanOrEqual(1);
      });
    });
    const frames = (gpu.events.filter((e) => e.type === 'frames') as Of<'frames'>[]).flatMap((e) => e.frames.map((f) => decodeFrame(f)));
    expect(frames.length).toBeGreaterThan(0);
    expect(Math.max(...frames[0]!.map(0, 0))).toBe(255); // a real map, not zeros

    const resumed = await run('webgpu', gpuDir, 12, gpu.runId);
    expect(resumed.losses.map(([step]) => step)).toEqual([9, 10, 11, 12]);
    const evaluation = await evaluateRun(gpu.runId, { dataDir: gpuDir, backend: 'current' });
    expect(evaluation.step).toBe(12);
    expect(evaluation.verification.auc).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  }, 240_000);
});
