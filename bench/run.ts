// `npm run bench`: speed and memory figures, printed as a table and written to
// bench/results/<timestamp>.json. Targets are checked here, never in unit tests.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { PROBE_CASES, printProbeRows, probeRows } from './probe-rows';
import { renderSyntheticFace } from '../datasets/synthetic';

const root = resolve(import.meta.dirname, '..');
const ORL = process.env['FACE_CNN_LAB_SHARED'] ? join(process.env['FACE_CNN_LAB_SHARED'], 'orl_faces') : resolve(root, '../shared/datasets/orl_faces');

interface Row {
  readonly name: string;
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
  readonly peakRssMiB: number;
  readonly target: string;
  readonly met: boolean | null;
}

/** 5,000 face-like 250x250 JPEGs (LFW's size), made once and kept in the temp folder. */
async function jpegFolder(count: number): Promise<string> {
  const folder = join(tmpdir(), `fcl-bench-jpeg-${count}`);
  if (existsSync(join(folder, 'done'))) return folder;
  await rm(folder, { recursive: true, force: true });
  const identities = 250;
  for (let i = 0; i < count; i++) {
    const id = i % identities;
    const k = Math.floor(i / identities);
    const grey = renderSyntheticFace({ identities, imagesPerIdentity: count / identities, size: 250, seed: 11 }, id, k);
    const dir = join(folder, `person${String(id).padStart(4, '0')}`);
    await mkdir(dir, { recursive: true });
    await sharp(grey, { raw: { width: 250, height: 250, channels: 1 } }).jpeg({ quality: 90 }).toFile(join(dir, `${String(k).padStart(4, '0')}.jpg`));
  }
  await writeFile(join(folder, 'done'), '');
  return folder;
}

type CaseResult = { times: Array<{ seconds: number; decoded: number; images: number }>; peakRssMiB: number };

function runScript(script: string, args: string[]): CaseResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench', script), ...args], { encoding: 'utf8', cwd: root });
  return JSON.parse(out) as CaseResult;
}

function runCase(source: string, dataDir: string, inputSize: number, repeats: number): { times: Array<{ seconds: number; decoded: number; images: number }>; peakRssMiB: number } {
  return runScript('import-case.ts', [source, dataDir, String(inputSize), String(repeats)]);
}

async function importRows(name: string, source: string, coldTarget: number | null, warmTargetSeconds: number | null): Promise<Row[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fcl-bench-data-'));
  const cold = runCase(source, dataDir, 128, 1);
  const warm = runCase(source, dataDir, 128, 3);
  await rm(dataDir, { recursive: true, force: true });
  const c = cold.times[0]!;
  const bestWarm = warm.times.reduce((a, b) => (a.seconds < b.seconds ? a : b));
  if (bestWarm.decoded !== 0) throw new Error(`warm open of ${name} decoded ${bestWarm.decoded} files`);
  return [
    {
      name: `import ${name}, cold (decode)`,
      images: c.images,
      seconds: c.seconds,
      imagesPerSecond: c.images / c.seconds,
      peakRssMiB: cold.peakRssMiB,
      target: coldTarget === null ? '' : `>= ${coldTarget} img/s`,
      met: coldTarget === null ? null : c.images / c.seconds >= coldTarget,
    },
    {
      name: `open ${name}, warm (cache)`,
      images: bestWarm.images,
      seconds: bestWarm.seconds,
      imagesPerSecond: bestWarm.images / bestWarm.seconds,
      peakRssMiB: warm.peakRssMiB,
      target: warmTargetSeconds === null ? '' : `< ${warmTargetSeconds} s`,
      met: warmTargetSeconds === null ? null : bestWarm.seconds < warmTargetSeconds,
    },
  ];
}

const rows: Row[] = [];
if (existsSync(ORL)) rows.push(...(await importRows('ORL (400 PGM 92x112)', ORL, null, null)));
else console.log(`skipped ORL rows: ${ORL} not found`);
const jpegs = await jpegFolder(5000);
rows.push(...(await importRows('5,000 JPEG 250x250', jpegs, 800, 0.5)));
const ceiling = runScript('decode-case.ts', [jpegs, '144', '6']);
const c = ceiling.times[0]!;
rows.push({ name: 'decodeFace only (sharp), 5,000 JPEG 250x250', images: c.images, seconds: c.seconds, imagesPerSecond: c.images / c.seconds, peakRssMiB: ceiling.peakRssMiB, target: '', met: null });

// Training throughput: wasm (with the lab's kernels; 2 threads where there are 2 cores, and one
// thread for comparison), cpu, and the same step in PyTorch when python3 has torch. Adam, MFM
// 2/1, 40 classes, random data, median step after one warm-up (bench/train-case.ts,
// bench/pytorch/lightcnn.py). On the pure-JS cpu backend the big cases take minutes a step:
// they run only with BENCH_FULL=1, as do the one-thread wasm rows beyond 64 px batch 16.
interface TrainRow {
  readonly case: string;
  readonly backend: string;
  readonly msPerStep: number | null;
  readonly imagesPerSecond: number | null;
  readonly peakRssMiB: number | null;
  /** wasm images/s over PyTorch's for the same case, measured right after it. */
  readonly vsPytorch: number | null;
  readonly target: string;
  readonly met: boolean | null;
  readonly note: string;
}
const full = process.env['BENCH_FULL'] === '1';
type TrainCase = { model: 'tiny' | 'lightcnn4' | 'lightcnn9'; input: number; batch: number; steps: number };
const trainCases: TrainCase[] = [];
for (const model of ['tiny', 'lightcnn4', 'lightcnn9'] as const) {
  for (const input of [64, 128]) for (const batch of [16, 64]) trainCases.push({ model, input, batch, steps: input * batch >= 128 * 64 ? 2 : 3 });
}
/** The cpu cases that run without BENCH_FULL (as before the wasm kernels): the small ones. */
const cpuByDefault = (c: TrainCase): boolean => (c.model === 'tiny' && c.input === 64) || (c.model === 'lightcnn9' && c.input === 64 && c.batch === 16);
const oneThreadByDefault = (c: TrainCase): boolean => c.input === 64 && c.batch === 16;
/** The issue's target: wasm at least half PyTorch's images/s for these. */
const targetCase = (c: TrainCase): boolean => c.input === 64 && c.batch === 16;

/** A python3 that imports torch: $PYTHON, python3 on the PATH, then the system one (Debian's python3-torch). */
function findTorchPython(): { python: string | null; why: string } {
  const tried: string[] = [];
  for (const python of [process.env['PYTHON'], 'python3', '/usr/bin/python3'].filter((p): p is string => typeof p === 'string' && p !== '')) {
    try {
      const version = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      return { python, why: `${python}, torch ${version}` };
    } catch (error) {
      const e = error as { code?: string; stderr?: string };
      tried.push(`${python}: ${e.code === 'ENOENT' ? 'not found' : (e.stderr ?? '').trim().split('\n').pop() || 'failed'}`);
    }
  }
  return { python: null, why: tried.join('; ') };
}
const torch = findTorchPython();
if (torch.python === null) console.log(`PyTorch rows skipped: no python3 with torch (${torch.why}); \`apt-get install python3-torch\` adds them`);
else console.log(`PyTorch rows: ${torch.why}, 2 threads`);

type Measured = { msPerStep: number; imagesPerSecond: number; peakRssMiB: number | null; threads?: number };
type Failed = { failed: string };
/** A case that takes longer than this is stopped and reported (a wasm heap that fills up can hang the package's kernels). */
const CASE_TIMEOUT_MS = 8 * 60_000;
function failure(error: unknown): Failed {
  const e = error as { signal?: string; stderr?: string; message?: string };
  if (e.signal === 'SIGTERM') return { failed: `stopped after ${CASE_TIMEOUT_MS / 60_000} min` };
  const lines = `${e.stderr ?? ''}\n${e.message ?? ''}`.split('\n').map((l) => l.trim());
  return { failed: lines.find((l) => /^(Error|RangeError|RuntimeError)\b|heap is full|out of memory/i.test(l)) ?? lines.find((l) => l !== '') ?? 'failed' };
}
function trainCase(c: TrainCase, backend: string, env: Record<string, string> = {}): Measured | Failed {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/train-case.ts'), c.model, String(c.input), String(c.batch), String(c.steps), backend, 'adam'], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, ...env },
      timeout: CASE_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out) as Measured;
  } catch (error) {
    return failure(error);
  }
}
function pytorchCase(c: TrainCase, python: string): Measured | Failed {
  try {
    const out = execFileSync(python, [join(root, 'bench/pytorch/lightcnn.py'), c.model, String(c.input), String(c.batch), String(c.steps), '2'], { encoding: 'utf8', cwd: root, timeout: CASE_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
    return { ...(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Measured), peakRssMiB: null };
  } catch (error) {
    return failure(error);
  }
}
const isFailed = (m: Measured | Failed | null): m is Failed => m !== null && 'failed' in m;
const skipped = (name: string, backend: string, note: string): TrainRow => ({ case: name, backend, msPerStep: null, imagesPerSecond: null, peakRssMiB: null, vsPytorch: null, target: '', met: null, note });
const trainRows: TrainRow[] = [];
/** Adds a row and prints it at once: a long bench that stops half-way still leaves its figures. */
function addRow(row: TrainRow): void {
  trainRows.push(row);
  const figures = row.msPerStep === null ? '' : `${Math.round(row.msPerStep)} ms/step, ${row.imagesPerSecond?.toFixed(2)} images/s${row.vsPytorch === null ? '' : `, ${row.vsPytorch.toFixed(2)}x PyTorch`}`;
  console.log(`  ${row.case}, ${row.backend}: ${figures || row.note}`);
}
console.log('training steps:');
for (const c of trainCases) {
  const name = `${c.model} @${c.input} px, batch ${c.batch}`;
  const median = `median of ${c.steps} after 1 warm-up`;
  // PyTorch first, then wasm right after it: the machine is shared, so the ratio compares neighbours.
  const pt = torch.python === null ? null : pytorchCase(c, torch.python);
  if (pt === null) addRow(skipped(name, 'pytorch', 'skipped: no python3 with torch'));
  else if (isFailed(pt)) addRow(skipped(name, 'pytorch (2 threads)', `failed: ${pt.failed}`));
  else addRow({ case: name, backend: 'pytorch (2 threads)', ...pt, vsPytorch: null, target: '', met: null, note: median });
  const ptOk = pt !== null && !isFailed(pt) ? pt : null;
  const target = targetCase(c) ? '>= 0.5x PyTorch' : '';
  const wasm = trainCase(c, 'wasm');
  if (isFailed(wasm)) {
    addRow({ ...skipped(name, 'wasm', `failed: ${wasm.failed}`), target, met: target === '' ? null : false });
  } else {
    const ratio = ptOk === null ? null : wasm.imagesPerSecond / ptOk.imagesPerSecond;
    addRow({
      case: name,
      backend: `wasm (${wasm.threads ?? 1} thread${wasm.threads === 1 ? '' : 's'})`,
      msPerStep: wasm.msPerStep,
      imagesPerSecond: wasm.imagesPerSecond,
      peakRssMiB: wasm.peakRssMiB,
      vsPytorch: ratio,
      target,
      met: target === '' || ratio === null ? null : ratio >= 0.5,
      note: median,
    });
  }
  if (isFailed(wasm) || (wasm.threads ?? 1) > 1) {
    if (!isFailed(wasm) && (full || oneThreadByDefault(c))) {
      const one = trainCase(c, 'wasm', { FACE_CNN_LAB_WASM_THREADS: '1' });
      if (isFailed(one)) addRow(skipped(name, 'wasm (1 thread)', `failed: ${one.failed}`));
      else addRow({ case: name, backend: 'wasm (1 thread)', msPerStep: one.msPerStep, imagesPerSecond: one.imagesPerSecond, peakRssMiB: one.peakRssMiB, vsPytorch: ptOk === null ? null : one.imagesPerSecond / ptOk.imagesPerSecond, target: '', met: null, note: median });
    } else addRow(skipped(name, 'wasm (1 thread)', 'skipped; BENCH_FULL=1 runs it'));
  }
  if (full || cpuByDefault(c)) {
    const cpu = trainCase(c, 'cpu');
    if (isFailed(cpu)) addRow(skipped(name, 'cpu', `failed: ${cpu.failed}`));
    else addRow({ case: name, backend: 'cpu', msPerStep: cpu.msPerStep, imagesPerSecond: cpu.imagesPerSecond, peakRssMiB: cpu.peakRssMiB, vsPytorch: null, target: '', met: null, note: median });
  } else addRow(skipped(name, 'cpu', 'skipped on cpu (minutes a step); BENCH_FULL=1 runs it'));
}

const table = rows.map((r) => ({
  case: r.name,
  images: r.images,
  seconds: r.seconds.toFixed(3),
  'images/s': Math.round(r.imagesPerSecond),
  'peak RSS MiB': Math.round(r.peakRssMiB),
  target: r.target,
  met: r.met === null ? '' : r.met ? 'yes' : 'NO',
}));
console.table(table);
console.table(
  trainRows.map((r) => ({
    'training step': r.case,
    backend: r.backend,
    'ms/step': r.msPerStep === null ? '' : Math.round(r.msPerStep),
    'images/s': r.imagesPerSecond === null ? '' : r.imagesPerSecond.toFixed(2),
    'x PyTorch': r.vsPytorch === null ? '' : r.vsPytorch.toFixed(2),
    target: r.target,
    met: r.met === null ? '' : r.met ? 'yes' : 'NO',
    'peak RSS MiB': r.peakRssMiB === null ? '' : Math.round(r.peakRssMiB),
    note: r.note,
  })),
);
// Live probes: a run with every layer watched and stats every step against none (issue: under 10% for LightCNN-9 @64 on CPU).
const probes = probeRows(root, PROBE_CASES);
printProbeRows(probes);

// The first run a newcomer starts (issue 14: it must learn within 2 minutes on a 2-core CPU).
interface FirstRunRow {
  readonly data: string;
  readonly backend: string;
  readonly settings: string;
  readonly seconds: number;
  readonly steps: number;
  readonly classes: number;
  readonly lastLoss: number;
  readonly chanceLoss: number;
  readonly heldOutAccuracy: number | null;
  readonly heldOutAtStep: number | null;
  readonly chanceAccuracy: number;
}
const firstRuns: Array<FirstRunRow & { met: boolean }> = [];
for (const data of [...(existsSync(ORL) ? [ORL] : []), 'synthetic']) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/first-run-case.ts'), data, '120'], { encoding: 'utf8', cwd: root });
  const row = JSON.parse(out.trim().split('\n').at(-1) as string) as FirstRunRow;
  // "Clearly below chance and well above it": loss under 3/4 of ln C, held-out accuracy over 5x chance.
  const met = row.lastLoss < 0.75 * row.chanceLoss && (row.heldOutAccuracy ?? 0) > 5 * row.chanceAccuracy;
  firstRuns.push({ ...row, met });
}
console.log('first run, `lab train --data <faces>` and nothing else, stopped at 120 s:');
console.table(
  firstRuns.map((r) => ({
    data: r.data === ORL ? 'ORL' : r.data,
    settings: r.settings,
    steps: r.steps,
    'loss (last 10) / ln C': `${r.lastLoss.toFixed(3)} / ${r.chanceLoss.toFixed(3)}`,
    'held-out acc. / chance': r.heldOutAccuracy === null ? 'no epoch ended' : `${(r.heldOutAccuracy * 100).toFixed(1)}% at step ${r.heldOutAtStep} / ${(r.chanceAccuracy * 100).toFixed(1)}%`,
    target: 'loss < 0.75 ln C, acc. > 5x chance in 120 s',
    met: r.met ? 'yes' : 'NO',
  })),
);

// The wasm heap a step takes against memory-fit.ts' estimate (which must stay above it).
const memoryCases = [
  ['lightcnn9', '128', '16'],
  ['lightcnn9', '128', '32'],
  ['lightcnn4', '128', '32'],
  ['lightcnn9', '64', '64', 'maxout:3'],
] as const;
const memory = existsSync(ORL)
  ? memoryCases.map((c) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/wasm-memory-case.ts'), ORL, ...c], { encoding: 'utf8', cwd: root }).trim().split('\n').at(-1) as string) as { model: string; inputSize: number; batch: number; activation: string; heapMiB: number; estimateMiB: number })
  : [];
if (memory.length > 0) {
  console.log('wasm heap of a training step (3 steps on ORL, probes on) against the estimate that refuses batches:');
  console.table(memory.map((m) => ({ case: `${m.model} @${m.inputSize}px ${m.activation}, batch ${m.batch}`, 'heap MiB': Math.round(m.heapMiB), 'estimate MiB': Math.round(m.estimateMiB), 'estimate above': m.estimateMiB > m.heapMiB ? 'yes' : 'NO' })));
}

const results = {
  when: new Date().toISOString(),
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  notes: 'stored size 144 (input 128); cold = fresh cache, files already in the OS page cache; warm = best of 3 opens including reading all pixels',
  rows,
  pytorch: torch.why,
  training: trainRows,
  probes,
  firstRuns,
  wasmMemory: memory,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `${results.when.replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`written ${file}`);
