// Probes' cost and stream, in its own process:
//   tsx bench/probe-case.ts <model> <inputSize> <batch> <steps> <on|off|same-run|capture> [backend]
// capture: the time to run ONE probe face through the model and encode every activation
//      layer's maps (median of <steps> captures), the cost of a map refresh per face.
// same-run: one run in this process, alternating phases of 12 steps with stats and every
//      layer's maps on and 12 with everything off; the mean step cycle of the two kinds of
//      phase is compared (same weights, same data, same machine mood). A cycle is charged to
//      the phase in force when it began, so the maps made after a phase's last step count
//      (means, not medians: a capture every few seconds is exactly the kind of cost a median hides).
// on:  a real run in `lab serve` (its own process), this process a client subscribed to every
//      activation layer (maps every 250 ms) with stats every step; reports the median step time,
//      the latency from a step's end (the trainer's clock) to its frame decoded here, and bytes/s
//      on the wire.
// off: the same run with stats off and nobody watching.
// The run trains on the synthetic faces (the data pipeline is the same either way).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import WebSocket from 'ws';
import type { BackendName } from '../models/backend';
import { TrainingSession } from '../electron/trainer/training/session';
import type { TrainConfigInput } from '../electron/trainer/training/config';
import { LabClient } from '#protocol/client/lab-client';
import { webSocketTransport } from '#protocol/client/websocket-transport';

tf.enableProdMode();
const [model, inputSize, batch, steps, mode, backend] = process.argv.slice(2);
if (!model || !inputSize || !batch || !steps || !['on', 'off', 'same-run', 'capture'].includes(mode ?? '')) throw new Error('usage: probe-case.ts <model> <inputSize> <batch> <steps> <on|off|same-run|capture> [backend]');
const dataDir = await mkdtemp(join(tmpdir(), 'fcl-bench-probes-'));
const config: TrainConfigInput = { data: 'synthetic:20x10', model: model as 'tiny', inputSize: Number(inputSize), batch: Number(batch), epochs: 1000, maxSteps: Number(steps) + 1, optimizer: 'adam', lr: 0.001, seed: 1 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
/** Wall-clock time from one step's end to the next's: the step itself plus everything done between steps (stats, maps, sending). */
const cycles = (ends: number[]) => median(ends.slice(2).map((t, i) => t - ends[i + 1]!));

let result: Record<string, unknown>;
if (mode === 'capture') {
  const session = await TrainingSession.start({ ...config, maxSteps: 1 }, { dataDir, prefetch: 0, ...(backend ? { backend: backend as BackendName } : {}) });
  await session.setProbeImages([0]);
  await session.subscribe({ layers: new Set(session.model.activationLayers), preActivation: new Set(), fullMaps: [] });
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i <= Number(steps); i++) {
    const started = performance.now();
    const frames = await session.inProcessCore.probes.captureFrames(0);
    if (i > 0) times.push(performance.now() - started); // the first one warms up
    bytes = frames.reduce((n, f) => n + f.byteLength, 0);
  }
  result = { backend: session.backend.summary, msPerCapture: median(times), layers: session.model.activationLayers.length, bytesPerCapture: bytes };
  session.dispose();
} else if (mode === 'same-run') {
  const PHASE = 12;
  const cycles: Record<'on' | 'off', number[]> = { on: [], off: [] };
  let backendName = '';
  let last: number | null = null;
  let session: TrainingSession | undefined;
  const phaseOf = (step: number): 'on' | 'off' => (Math.floor((step - 1) / PHASE) % 2 === 0 ? 'on' : 'off');
  const apply = (phase: 'on' | 'off') => {
    if (!session) return;
    // BENCH_PROBES=stats or =maps measures one half alone.
    const only = process.env['BENCH_PROBES'];
    void session.configureProbes({ statsEnabled: phase === 'on' && only !== 'maps' });
    const all = new Set(phase === 'on' && only !== 'stats' ? session.model.activationLayers : []);
    void session.subscribe({ layers: all, preActivation: new Set(), fullMaps: [] });
  };
  session = await TrainingSession.start({ ...config, maxSteps: 2 * PHASE * Math.ceil(Number(steps) / PHASE) + 1 }, {
    dataDir,
    prefetch: 2,
    ...(backend ? { backend: backend as BackendName } : {}),
    onEvent: (e) => {
      if (e.type === 'started') backendName = e.backend;
      if (e.type !== 'progress') return;
      // The cycle ending at this step began after the previous step's progress event, when that
      // step's phase switch (if any) had been applied: it belongs to phaseOf(this step).
      if (last !== null) cycles[phaseOf(e.step)].push(e.at - last);
      last = e.at;
      if (e.step % PHASE === 0) apply(phaseOf(e.step + 1));
    },
  });
  apply('on');
  await session.setProbeInterval(250);
  await session.train();
  session.dispose();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const on = mean(cycles.on);
  const off = mean(cycles.off);
  result = { backend: backendName, onMsPerCycle: on, offMsPerCycle: off, overhead: on / off - 1, samples: cycles.on.length + cycles.off.length };
} else if (mode === 'off') {
  const stepMs: number[] = [];
  const ends: number[] = [];
  let backendName = '';
  const session = await TrainingSession.start(config, {
    dataDir,
    prefetch: 2,
    ...(backend ? { backend: backend as BackendName } : {}),
    probes: { stats: false },
    onEvent: (e) => {
      if (e.type === 'progress') {
        stepMs.push(e.stepMs);
        ends.push(performance.now());
      }
      if (e.type === 'started') backendName = e.backend;
    },
  });
  await session.train();
  session.dispose();
  result = { backend: backendName, msPerStep: median(stepMs.slice(1)), msPerCycle: cycles(ends) };
} else {
  const root = resolve(import.meta.dirname, '..');
  const trainer = spawn(process.execPath, ['--import', 'tsx', join(root, 'electron/trainer/cli/main.ts'), '--data-dir', dataDir, 'serve', '--port', '0', ...(backend ? ['--backend', backend] : [])], {
    cwd: root,
    env: { ...process.env, INIT_CWD: root },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pageUrl = await new Promise<string>((done, fail) => {
    let out = '';
    trainer.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /Open: (\S+)/.exec(out);
      if (match) done(match[1]!);
    });
    trainer.once('exit', (code) => fail(new Error(`lab serve exited with ${code}`)));
  });
  const page = new URL(pageUrl);
  const wsUrl = `ws://${page.host}/ws?token=${page.searchParams.get('token')}`;
  let bytes = 0;
  const Counting = class extends WebSocket {
    constructor(address: string) {
      super(address);
      this.on('message', (data: Buffer | ArrayBuffer) => (bytes += (data as ArrayBuffer).byteLength));
    }
  };
  const client = new LabClient(await webSocketTransport(wsUrl, Counting));
  await client.welcomed();
  const stepEnd = new Map<number, number>();
  const stepMs: number[] = [];
  const ends: number[] = [];
  const latencies: number[] = [];
  let frames = 0;
  let backendName = '';
  let layers: string[] = [];
  const done = new Promise<void>((resolve) =>
    client.on('event', (e) => {
      if (e.type === 'layers') {
        layers = e.layers.map((l) => l.layer);
        void client.subscribe(layers);
      }
      if (e.type === 'started') backendName = e.backend;
      if (e.type === 'state' && e.state !== 'running' && e.state !== 'paused') resolve();
    }),
  );
  // Each step's end, on the trainer's clock (same machine); the frame of that step follows it.
  client.on('progress', (m) => {
    for (const item of m.items) {
      stepEnd.set(item.step, item.at);
      stepMs.push(item.stepMs);
      ends.push(item.at);
    }
  });
  client.on('frame', (f) => {
    frames++;
    const end = stepEnd.get(f.header.step);
    if (end !== undefined) latencies.push(Date.now() - end);
  });
  await client.setProbeRate(250);
  const started = Date.now();
  await client.start(config as Record<string, unknown>);
  await done;
  const seconds = (Date.now() - started) / 1000;
  client.close();
  const exited = new Promise((done) => trainer.once('exit', done));
  trainer.kill('SIGTERM');
  await exited;
  result = { backend: backendName, msPerStep: median(stepMs.slice(1)), msPerCycle: cycles(ends), frames, layers: layers.length, latencyMs: median(latencies), bytesPerSecond: bytes / seconds };
}
await rm(dataDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ ...result, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
