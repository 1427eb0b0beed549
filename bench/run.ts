// `npm run bench`: speed and memory figures, printed as a table and written to
// bench/results/<timestamp>.json. Targets are checked here, never in unit tests.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
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

// Training throughput. On the pure-JS cpu backend LightCNN-9 at 128 px takes
// minutes a step, so the big cases run only with BENCH_FULL=1 (or on a native backend).
interface TrainRow {
  readonly case: string;
  readonly backend: string;
  readonly msPerStep: number | null;
  readonly imagesPerSecond: number | null;
  readonly peakRssMiB: number | null;
  readonly note: string;
}
const full = process.env['BENCH_FULL'] === '1';
const trainCases: Array<{ model: string; input: number; batch: number; steps: number; big: boolean }> = [
  { model: 'tiny', input: 32, batch: 16, steps: 5, big: false },
  { model: 'tiny', input: 32, batch: 64, steps: 3, big: false },
  { model: 'tiny', input: 64, batch: 16, steps: 3, big: false },
  { model: 'tiny', input: 64, batch: 64, steps: 3, big: false },
  { model: 'lightcnn9', input: 64, batch: 16, steps: 1, big: false },
  { model: 'lightcnn9', input: 64, batch: 64, steps: 1, big: true },
  { model: 'lightcnn9', input: 128, batch: 16, steps: 1, big: true },
  { model: 'lightcnn9', input: 128, batch: 64, steps: 1, big: true },
];
const trainRows: TrainRow[] = [];
let backendName = '';
for (const c of trainCases) {
  const name = `${c.model} @${c.input} px, batch ${c.batch}`;
  if (c.big && !full && backendName === 'cpu') {
    trainRows.push({ case: name, backend: backendName, msPerStep: null, imagesPerSecond: null, peakRssMiB: null, note: 'skipped on cpu (minutes a step); BENCH_FULL=1 runs it' });
    continue;
  }
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/train-case.ts'), c.model, String(c.input), String(c.batch), String(c.steps)], { encoding: 'utf8', cwd: root });
  const r = JSON.parse(out) as { backend: string; msPerStep: number; imagesPerSecond: number; peakRssMiB: number };
  backendName = r.backend;
  trainRows.push({ case: name, backend: r.backend, msPerStep: r.msPerStep, imagesPerSecond: r.imagesPerSecond, peakRssMiB: r.peakRssMiB, note: `median of ${c.steps} after 1 warm-up` });
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
    'peak RSS MiB': r.peakRssMiB === null ? '' : Math.round(r.peakRssMiB),
    note: r.note,
  })),
);
const results = {
  when: new Date().toISOString(),
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  notes: 'stored size 144 (input 128); cold = fresh cache, files already in the OS page cache; warm = best of 3 opens including reading all pixels',
  rows,
  training: trainRows,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `${results.when.replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`written ${file}`);
