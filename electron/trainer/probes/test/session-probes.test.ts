// Probes inside a real training session: stats every step, frames only for watched layers,
// a record in metrics.jsonl, "ever fired" state surviving a resume, and no tensor leaks.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { decodeFrame } from '#protocol/frames';
import { openRun } from '../../runs/run-store';
import type { TrainConfigInput } from '../../training/config';
import { TrainingSession, type TrainEvent } from '../../training/session';

const SMALL: TrainConfigInput = { data: 'synthetic:6x8', model: 'tiny', inputSize: 16, batch: 4, epochs: 2, optimizer: 'adam', lr: 0.001, seed: 3, activation: 'mfm' };

type Of<T extends TrainEvent['type']> = Extract<TrainEvent, { type: T }>;

describe('probes in a training session', () => {
  test('every step reports every activation layer; frames come only for the watched layer', async () => {
    const dataDir = await tempDir();
    const events: TrainEvent[] = [];
    const session = await TrainingSession.start({ ...SMALL, maxSteps: 12 }, { dataDir, backend: 'cpu', prefetch: 0, probes: { recordEvery: 5, intervalMs: 50 }, onEvent: (e) => events.push(e) });
    try {
      session.subscribe({ layers: new Set(['conv1.act']), preActivation: new Set(['group1.b.act']), fullMaps: [{ layer: 'conv1.act', filter: 1, probe: 0 }] });
      const outcome = await session.train();
      expect(outcome.state).toBe('stopped');
    } finally {
      session.dispose();
    }
    const layersEvent = events.find((e) => e.type === 'layers') as Of<'layers'>;
    expect(layersEvent.layers.map((l) => l.layer)).toEqual(['conv1.act', 'group1.a.act', 'group1.b.act', 'embedding']);
    expect(layersEvent.layers[0]).toMatchObject({ rule: 'pieces', height: 16, width: 16 });
    const probes = events.find((e) => e.type === 'probes') as Of<'probes'>;
    expect(probes.images).toHaveLength(4);
    expect(new Set(probes.labels).size).toBe(4); // four different people

    const stats = events.filter((e) => e.type === 'layerStats') as Of<'layerStats'>[];
    expect(stats.map((s) => s.step)).toEqual([...Array(12).keys()].map((i) => i + 1));
    for (const s of stats) {
      expect(s.layers).toHaveLength(4);
      for (const layer of s.layers) {
        expect(layer.rule).toBe('pieces');
        expect(layer.gradOutputMeanAbs).toBeGreaterThan(0);
        expect(layer.gradWeightMeanAbs).toBeGreaterThan(0);
        expect(layer.updateRatio).toBeGreaterThan(0);
        expect(layer.pieceWinRates!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
      }
    }

    const frames = (events.filter((e) => e.type === 'frames') as Of<'frames'>[]).flatMap((e) => e.frames.map((f) => decodeFrame(f)));
    expect(frames.length).toBeGreaterThan(0);
    const channels = new Set(frames.map((f) => f.header.channel));
    expect(channels).toEqual(new Set(['frame:conv1.act', 'frame:group1.b.act:pre', 'full:conv1.act:activation:1:0']));
    const conv1 = frames.find((f) => f.header.channel === 'frame:conv1.act')!;
    expect(conv1.header).toMatchObject({ kind: 'activation', layer: 'conv1.act', probes: probes.images, height: 16, width: 16, trueHeight: 16 });
    const pre = frames.find((f) => f.header.kind === 'preactivation')!;
    expect(pre.header.channels).toBe(2 * layersEvent.layers[2]!.channels); // MFM: twice the output's channels
    const full = frames.find((f) => f.header.channel.startsWith('full:'))!;
    expect(full.header).toMatchObject({ channels: 1, filterOffset: 1, probes: [probes.images[0]] });
    // Maps are not blank: each uses the uint8 range between its own min and max.
    const map = conv1.map(0, 0);
    expect(Math.max(...map)).toBe(255);
    expect(Math.min(...map)).toBe(0);

    const run = await openRun(dataDir, stats[0] ? (events.find((e) => e.type === 'started') as Of<'started'>).runId : '');
    const { rows } = await run.readMetrics();
    const recorded = rows.filter((r) => r['kind'] === 'layers').map((r) => r.step);
    expect(recorded).toEqual([1, 5, 10, 12]);

    // Histograms: step 1, every 5 steps (histogram-cadence.ts's least) and the last; filters on the first and last.
    const histograms = events.filter((e) => e.type === 'histograms') as Of<'histograms'>[];
    expect(histograms.map((h) => h.step)).toEqual([1, 5, 10, 12]);
    expect(histograms.map((h) => h.filters !== null)).toEqual([true, false, false, true]);
    for (const h of histograms) expect(h.layers.map((l) => l.layer)).toEqual(layersEvent.layers.map((l) => l.layer));
    expect(histograms[3]!.filters).toMatchObject({ layer: 'conv1', height: 5, width: 5, inChannels: 1, count: layersEvent.layers[0]!.preActivationChannels });
    // The weights move between step 1 and 12: the first layer's histogram is not the same.
    expect(histograms[3]!.layers[0]!.weights).not.toEqual(histograms[0]!.layers[0]!.weights);
    const histogramRows = rows.filter((r) => r['kind'] === 'histograms');
    expect(histogramRows.map((r) => r.step)).toEqual([1, 5, 10, 12]);
    expect(histogramRows.map((r) => 'filters' in r)).toEqual([true, false, false, true]);
    expect(histogramRows[1]!['layers']).toEqual(histograms[1]!.layers);
  }, 120_000);

  test('without viewers no maps are computed; the tensor count stays flat; "ever fired" survives resume', async () => {
    const dataDir = await tempDir();
    const events: TrainEvent[] = [];
    let numTensors: number[] = [];
    const session = await TrainingSession.start({ ...SMALL, maxSteps: 10, checkpointEvery: 5 }, {
      dataDir,
      backend: 'cpu',
      prefetch: 0,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'progress') numTensors.push(tf.memory().numTensors);
      },
    });
    let runId = '';
    try {
      runId = session.run.id;
      await session.train();
    } finally {
      session.dispose();
    }
    expect(events.some((e) => e.type === 'frames')).toBe(false);
    expect(new Set(numTensors.slice(2)).size).toBe(1);
    const before = (events.filter((e) => e.type === 'layerStats') as Of<'layerStats'>[]).at(-1)!;

    const resumed: TrainEvent[] = [];
    const again = await TrainingSession.resume(runId, { dataDir, backend: 'cpu', prefetch: 0, overrides: { maxSteps: 11 }, onEvent: (e) => resumed.push(e) });
    try {
      await again.train();
    } finally {
      again.dispose();
    }
    const after = (resumed.filter((e) => e.type === 'layerStats') as Of<'layerStats'>[])[0]!;
    expect(after.step).toBe(11);
    // Died/revived counts carry on from the checkpoint (step 10), not from zero.
    for (const [i, layer] of after.layers.entries()) expect(layer.died).toBeGreaterThanOrEqual(before.layers[i]!.died);
    // Units that never fired in 10 steps cannot have more never-fired units after the 11th.
    for (const [i, layer] of after.layers.entries()) expect(layer.neverFiredUnits!).toBeLessThanOrEqual(before.layers[i]!.neverFiredUnits!);
  }, 120_000);
});

describe('probes never change or break training', () => {
  const weightsOf = (session: TrainingSession) => session.inProcessCore.built.model.weights.map((w) => Array.from(w.read().dataSync()));

  async function run(config: TrainConfigInput, probesOn: boolean) {
    const losses: number[] = [];
    const session = await TrainingSession.start(config, {
      dataDir: await tempDir(),
      backend: 'cpu',
      prefetch: 0,
      probes: { stats: probesOn, intervalMs: 50 },
      onEvent: (e) => {
        if (e.type === 'progress') losses.push(e.loss);
      },
    });
    try {
      if (probesOn) await session.subscribe({ layers: new Set(session.model.activationLayers), preActivation: new Set(session.model.activationLayers), fullMaps: [{ layer: 'conv1.act', filter: 0, probe: 1 }] });
      await session.train();
      return { losses, weights: weightsOf(session) };
    } finally {
      session.dispose();
    }
  }

  for (const activation of ['rrelu', 'mfm:3/2', 'sigmoid']) {
    test(`${activation}: the same losses and weights, to the bit, with every probe on as with none`, async () => {
      const config = { ...SMALL, activation, maxSteps: 6 };
      const off = await run(config, false);
      const on = await run(config, true);
      expect(on.losses).toEqual(off.losses);
      expect(on.weights).toEqual(off.weights);
    }, 120_000);
  }

  test('a failure inside the statistics becomes a warning; the run goes on to its end', async () => {
    const events: TrainEvent[] = [];
    const session = await TrainingSession.start({ ...SMALL, maxSteps: 5 }, { dataDir: await tempDir(), backend: 'cpu', prefetch: 0, onEvent: (e) => events.push(e) });
    try {
      // Fault injection: the tracker breaks at its third step.
      const { tracker } = session.inProcessCore.probes;
      const pack = tracker.pack.bind(tracker);
      tracker.pack = (step, ...rest) => {
        if (step === 3) throw new Error('injected fault');
        return pack(step, ...rest);
      };
      const outcome = await session.train();
      expect(outcome.state).toBe('stopped');
      expect(outcome.step).toBe(5);
    } finally {
      session.dispose();
    }
    expect(events.filter((e) => e.type === 'layerStats').map((e) => (e as Of<'layerStats'>).step)).toEqual([1, 2]);
    expect(events.find((e) => e.type === 'warning')).toMatchObject({ message: expect.stringMatching(/dead-neuron statistics and the histograms \(which use the same taps\) stopped at step 3 \(injected fault\); training goes on/) });
    expect(events.filter((e) => e.type === 'histograms').map((e) => (e as Of<'histograms'>).step)).toEqual([1]);
  }, 60_000);

  test('a failure inside the histograms becomes a warning; the statistics and the run go on', async () => {
    const events: TrainEvent[] = [];
    const session = await TrainingSession.start({ ...SMALL, maxSteps: 6 }, { dataDir: await tempDir(), backend: 'cpu', prefetch: 0, onEvent: (e) => events.push(e) });
    try {
      // Fault injection: the histograms break at step 5, the first after step 1 that takes them.
      const { histogramRecorder } = session.inProcessCore.probes;
      const pack = histogramRecorder.pack;
      histogramRecorder.pack = (...args) => {
        if (events.some((e) => e.type === 'histograms')) throw new Error('injected fault');
        return pack(...args);
      };
      const outcome = await session.train();
      expect(outcome.state).toBe('stopped');
      expect(outcome.step).toBe(6);
    } finally {
      session.dispose();
    }
    expect(events.filter((e) => e.type === 'layerStats')).toHaveLength(6);
    // Step 1's came; step 5's and the last step's did not.
    expect(events.filter((e) => e.type === 'histograms').map((e) => (e as Of<'histograms'>).step)).toEqual([1]);
    expect(events.find((e) => e.type === 'warning')).toMatchObject({ message: expect.stringMatching(/weight and activation histograms stopped at step 5 \(injected fault\); training goes on/) });
  }, 60_000);

  test('a viewer asking for something the run does not have is told what it has', async () => {
    const session = await TrainingSession.start({ ...SMALL, maxSteps: 1 }, { dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
    try {
      const none = { layers: new Set<string>(), preActivation: new Set<string>() };
      expect(session.subscriptionProblem({ ...none, layers: new Set(['conv9.act']), fullMaps: [] })).toMatch(/no activation layer "conv9.act"; this model's are conv1.act, /);
      expect(session.subscriptionProblem({ ...none, fullMaps: [{ layer: 'conv1.act', filter: 99, probe: 0 }] })).toMatch(/conv1.act has \d+ filters; there is no 99/);
      expect(session.subscriptionProblem({ ...none, fullMaps: [{ layer: 'conv1.act', filter: 0, probe: 7 }] })).toMatch(/there are 4 probe faces; there is no probe 7/);
      // MFM's pieces: twice the output's channels as pre-activation channels.
      const channels = session.model.layers[0]!.channels;
      expect(session.subscriptionProblem({ ...none, fullMaps: [{ layer: 'conv1.act', filter: channels, probe: 0, kind: 'preactivation' }] })).toBeNull();
    } finally {
      session.dispose();
    }
  }, 60_000);
});
