// `bench/gpu-check` (no arguments, no network, under 5 minutes): what a machine with a GPU
// makes of the lab's webgpu training.
//   1. The adapter a forced `--backend webgpu` takes (describeAdapter, its limits).
//   2. Correctness: tiny @32 px, batch 8, 3 seeded steps on webgpu and on wasm: the same losses.
//   3. Speed: LightCNN-9 at 128 px, batch 64 on webgpu, images/s over 20 timed steps after 5
//      warm-up steps, each step reading its loss with `await data()` as the trainer does
//      (bench/train-case.ts). First the batch is checked against the adapter's storage-binding
//      limit (conv1's output at batch 64 is 384 MiB in one binding): an adapter that binds less
//      runs the largest batch that fits (a multiple of 8 where it can), and says so.
//   4. PyTorch on CUDA, where a python3 with a CUDA torch exists: the same step at the same
//      batch (bench/pytorch/lightcnn.py --device cuda) and the lab's images/s over PyTorch's.
//      It runs before the probes: it is the denominator of the main target.
//   5. Probe overhead: one training session alternating 12 steps with the probes on (statistics
//      every step, every activation layer's maps) and 12 with them off (bench/probe-case.ts
//      same-run): the on cycle over the off cycle, as a percentage of a step.
// Targets: >= 0.5x PyTorch CUDA images/s; probe overhead <= 5% of a step.
// Each step has a cap (CAPS_MS); the caps of steps 2-4 add up to less than the 285 s budget and
// the probes take what is left (at least PROBE_RESERVE_MS when every step before used its cap).
// What cannot run here (no webgpu package, no python3, no torch, no CUDA) is said, and
// skipped. With only a software adapter (Mesa's llvmpipe) it runs a small smoke version and
// says its figures mean nothing. Exit code 0 when it ran what it could; 1 when something that
// should have run failed. The figures also go to bench/results/gpu-check-<time>.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapterLimits, describeAdapter } from '../models/backend-webgpu';
import { describeModel } from '../models/lightcnn';
import { probeCase } from './probe-rows';
import { findTorchPython, isFailed, pytorchCase, torchCuda, trainCase, type Failed, type Measured, type TrainCase } from './train-runs';
import { LOSS_TOLERANCE, SOFTWARE_LABEL, fitCaseToAdapter, lossDifference, webGpuPlan } from './webgpu-rows';

const root = resolve(import.meta.dirname, '..');
const started = Date.now();
/** The whole check stays under 5 minutes: each child gets at most what is left of this. */
const BUDGET_MS = 285_000;
/**
 * Each step's cap. On a GPU each takes a fraction of it (Dawn's start, shader compilation and
 * 25 steps of a few hundred ms at most); on llvmpipe the smoke cases take 10-40 s each.
 */
const CAPS_MS = {
  correctnessWebgpu: 35_000,
  correctnessWasm: 25_000,
  speed: 90_000,
  /** Finding a python with torch and asking it about CUDA, together. */
  torchLookup: 30_000,
  pytorch: 60_000,
} as const;
/** What the probe step has at least when every step before it used its whole cap. */
const PROBE_RESERVE_MS = BUDGET_MS - Object.values(CAPS_MS).reduce((a, b) => a + b, 0);
if (PROBE_RESERVE_MS < 30_000) throw new Error(`gpu-check's caps leave the probes ${PROBE_RESERVE_MS} ms of the budget`);
const timeLeft = (cap: number = Number.POSITIVE_INFINITY): number => Math.min(cap, BUDGET_MS - (Date.now() - started));
const TARGET_RATIO = 0.5;
const TARGET_OVERHEAD = 0.05;
const SPENT = 'not run: the 5-minute budget is spent';

const errors: string[] = [];
const report: Record<string, unknown> = {};
const say = (line: string) => console.log(line);
const perSecond = (m: Measured) => `${m.imagesPerSecond.toFixed(1)} images/s (median ${m.msPerStep.toFixed(1)} ms a step${m.meanMsPerStep === undefined ? '' : `, mean ${m.meanMsPerStep.toFixed(1)} ms`})`;
const caseText = (c: TrainCase) => `${c.model} @${c.input} px, batch ${c.batch}, ${c.steps} timed steps after ${c.warmup ?? 1} warm-up`;
/** Runs a child within its cap and the budget, or says it could not. */
function withinBudget(capMs: number, run: (timeoutMs: number) => Measured | Failed): Measured | Failed {
  const timeoutMs = timeLeft(capMs);
  return timeoutMs < 10_000 ? { failed: SPENT } : run(timeoutMs);
}

say('GPU check: the lab on webgpu (see bench/NOTES.md, "GPU check")');
say(`machine: ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);

// 1. The adapter
const plan = await webGpuPlan();
const adapter = plan.adapter;
const software = adapter !== null && adapter.software !== null;
if (adapter === null) say(`webgpu: NOT AVAILABLE: ${plan.why}. Nothing of the lab's side can run.`);
else {
  say(`adapter: ${describeAdapter(adapter)}`);
  say(`limits: ${adapterLimits(adapter)}`);
  if (software) say(`only a software adapter (${adapter.software}): a small smoke run follows; its figures are not meaningful (${SOFTWARE_LABEL}).`);
}
report['adapter'] = adapter;
report['software'] = software;

// The speed case: the real one on a GPU, a smoke one on a software adapter; its batch fitted to
// the adapter's storage-binding limit (every tensor of a webgpu step lives in one binding).
const asked: TrainCase = software ? { model: 'lightcnn9', input: 32, batch: 4, steps: 2, warmup: 1 } : { model: 'lightcnn9', input: 128, batch: 64, steps: 20, warmup: 5 };
let speedCase: TrainCase | null = asked;
if (adapter !== null) {
  // The model's layer shapes, built once on tfjs' cpu backend in this process (PROD: without its
  // "install the node backend" banner in the middle of the report).
  tf.env().set('PROD', true);
  const fit = fitCaseToAdapter(asked, describeModel({ architecture: asked.model, inputSize: asked.input, numClasses: 40 }), adapter);
  if (fit.kind === 'reduced') {
    speedCase = { ...asked, batch: fit.batch };
    say(`batch: ${fit.why}. PyTorch runs batch ${fit.batch} too, so the ratio compares the same step.`);
  } else if (fit.kind === 'none') {
    speedCase = null;
    say(`batch: ${fit.why}: the speed case, PyTorch's and the probes cannot run on this adapter.`);
  }
  report['batch'] = { asked: asked.batch, run: speedCase?.batch ?? null, ...(fit.kind === 'fits' ? {} : { why: fit.why }) };
}
const probeSize = software ? { model: 'tiny', input: 32, batch: 8, steps: 12 } : speedCase === null ? null : { model: speedCase.model, input: speedCase.input, batch: speedCase.batch, steps: 24 };

let lab: Measured | null = null;
if (adapter !== null) {
  // 2. Correctness first: a webgpu that computes something else makes every speed figure moot.
  const small: TrainCase = { model: 'tiny', input: 32, batch: 8, steps: 2, warmup: 1 };
  const gpuSmall = withinBudget(CAPS_MS.correctnessWebgpu, (t) => trainCase(small, 'webgpu', {}, t));
  const wasmSmall = isFailed(gpuSmall) ? null : withinBudget(CAPS_MS.correctnessWasm, (t) => trainCase(small, 'wasm', {}, t));
  if (isFailed(gpuSmall)) {
    say(`correctness (tiny @32 px, batch 8): FAILED on webgpu: ${gpuSmall.failed}`);
    errors.push(`webgpu training step failed: ${gpuSmall.failed}`);
  } else if (wasmSmall === null || isFailed(wasmSmall)) say(`correctness: the wasm reference did not run (${wasmSmall?.failed ?? ''})`);
  else {
    const difference = lossDifference(gpuSmall.losses ?? [], wasmSmall.losses ?? []);
    const same = difference <= LOSS_TOLERANCE;
    const losses = (m: Measured) => (m.losses ?? []).map((l) => l.toFixed(4)).join(', ');
    say(`correctness (tiny @32 px, batch 8, 3 seeded steps): losses webgpu ${losses(gpuSmall)}; wasm ${losses(wasmSmall)}: ${same ? 'the same' : 'DIFFERENT'} (max rel. diff ${difference.toExponential(1)}, tolerance ${LOSS_TOLERANCE})`);
    report['correctness'] = { webgpu: gpuSmall.losses, wasm: wasmSmall.losses, maxRelativeDifference: difference, same };
    if (!same) errors.push(`webgpu losses differ from wasm's (max rel. diff ${difference.toExponential(1)})`);
  }

  // 3. Speed
  if (speedCase !== null) {
    const c = speedCase;
    const speed = withinBudget(CAPS_MS.speed, (t) => trainCase(c, 'webgpu', {}, t));
    if (isFailed(speed)) {
      say(`training on webgpu, ${caseText(c)}: ${speed.failed === SPENT ? SPENT : `FAILED: ${speed.failed}`}`);
      errors.push(`webgpu ${c.model} @${c.input}, batch ${c.batch} failed: ${speed.failed}`);
    } else {
      lab = speed;
      say(`training on webgpu, ${caseText(c)}: ${perSecond(speed)}${software ? ' (software adapter: not meaningful)' : ''}`);
    }
    report['webgpu'] = { case: c, result: speed };
  }
}

// 4. PyTorch on CUDA: before the probes, so that the main target's denominator gets its time.
let pytorch: Measured | null = null;
const lookupStarted = Date.now();
const lookupLeft = () => timeLeft(CAPS_MS.torchLookup - (Date.now() - lookupStarted));
const torch = lookupLeft() < 5_000 ? { python: null, version: '', why: 'the 5-minute budget is spent' } : findTorchPython(lookupLeft());
if (torch.python === null) say(`PyTorch on CUDA: not run: no python3 with torch (${torch.why})`);
else if (lookupLeft() < 5_000) say(`PyTorch on CUDA: not run: finding torch took the ${CAPS_MS.torchLookup / 1000} s given to it (${torch.why})`);
else if (speedCase === null) say(`PyTorch on CUDA: not run: no batch of ${asked.model} @${asked.input} px fits the adapter, so there is nothing to compare with`);
else {
  const c = speedCase;
  const cuda = torchCuda(torch.python, lookupLeft());
  if (cuda.device === null) say(`PyTorch on CUDA: not run: ${torch.why} has no CUDA (${cuda.why})`);
  else {
    const result = withinBudget(CAPS_MS.pytorch, (t) => pytorchCase(c, torch.python as string, { device: 'cuda', timeoutMs: t }));
    if (isFailed(result)) {
      say(`PyTorch on CUDA (${cuda.device}): ${result.failed === SPENT ? SPENT : `FAILED: ${result.failed}`}`);
      errors.push(`PyTorch on CUDA failed: ${result.failed}`);
    } else {
      pytorch = result;
      say(`PyTorch ${torch.version} on CUDA (${cuda.device}), ${caseText(c)}: ${perSecond(result)}`);
    }
    report['pytorch'] = { device: cuda.device, case: c, result };
  }
}

// 5. Probe overhead: what is left of the budget.
let overhead: number | null = null;
if (adapter !== null && probeSize !== null) {
  const probeTimeout = timeLeft();
  if (probeTimeout < 10_000) say(`probe overhead: ${SPENT}`);
  else {
    try {
      const same = probeCase(root, probeSize.model, probeSize.input, probeSize.batch, probeSize.steps, 'same-run', { backend: 'webgpu', timeoutMs: probeTimeout });
      overhead = same['overhead'] as number;
      const text = `${probeSize.model} @${probeSize.input} px, batch ${probeSize.batch}: ${(same['offMsPerCycle'] as number).toFixed(1)} ms a step off, ${(same['onMsPerCycle'] as number).toFixed(1)} ms on`;
      say(`probe overhead (statistics every step and every layer's maps, against none, one run): ${(overhead * 100).toFixed(1)}% (${text})${software ? ' (software adapter: not meaningful)' : ''}`);
      report['probes'] = { ...probeSize, ...same };
    } catch (error) {
      const e = error as { signal?: string; code?: string; stderr?: string; message?: string };
      const why = e.signal === 'SIGTERM' || e.code === 'ETIMEDOUT' ? `stopped after ${Math.round(probeTimeout / 1000)} s (what was left of the budget)` : ((e.stderr ?? e.message ?? '').trim().split('\n').filter((l) => /error/i.test(l)).pop() ?? 'failed');
      say(`probe overhead: FAILED: ${why}`);
      errors.push(`probe overhead run failed: ${why}`);
    }
  }
}

// Targets
const meaningful = adapter !== null && !software;
const ratio = lab !== null && pytorch !== null ? lab.imagesPerSecond / pytorch.imagesPerSecond : null;
const batchNote = speedCase !== null && speedCase.batch !== asked.batch ? ` (at batch ${speedCase.batch}, not ${asked.batch}: see "batch" above)` : '';
say('targets:');
if (ratio === null) say(`  webgpu >= ${TARGET_RATIO}x PyTorch CUDA images/s: not measured (${lab === null ? 'no webgpu figure' : 'no PyTorch CUDA figure'})`);
else say(`  webgpu >= ${TARGET_RATIO}x PyTorch CUDA images/s: ${ratio.toFixed(2)}x${batchNote}, ${meaningful ? (ratio >= TARGET_RATIO ? 'met' : 'NOT MET') : 'not meaningful (software adapter)'}`);
if (overhead === null) say(`  probe overhead <= ${TARGET_OVERHEAD * 100}% of a step: not measured`);
else say(`  probe overhead <= ${TARGET_OVERHEAD * 100}% of a step: ${(overhead * 100).toFixed(1)}%${batchNote}, ${meaningful ? (overhead <= TARGET_OVERHEAD ? 'met' : 'NOT MET') : 'not meaningful (software adapter)'}`);
report['targets'] = { ratio, ratioMet: meaningful && ratio !== null ? ratio >= TARGET_RATIO : null, overhead, overheadMet: meaningful && overhead !== null ? overhead <= TARGET_OVERHEAD : null, batch: speedCase?.batch ?? null };

const when = new Date().toISOString();
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `gpu-check-${when.replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify({ when, machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version }, ...report, errors }, null, 2)}\n`);
say(`${Math.round((Date.now() - started) / 1000)} s; written ${file}`);
if (errors.length > 0) {
  say(`errors: ${errors.join('; ')}`);
  process.exitCode = 1;
}
