// `npm run experiments [-- <name>...] [--data synthetic|orl|<path>] [--budget <seconds>]`:
// every preset (electron/trainer/training/presets.ts) and the default experiment, trained on
// ORL (or the synthetic set) with the wasm backend within a wall-clock budget, and each
// preset's claim checked against the statistics the run recorded (bench/experiment-checks.ts).
// Prints a table of claim, figure and whether it holds, and writes it with the runs to
// bench/results/experiments-<timestamp>.json. A report, like the bench: it exits 0 whether or
// not the claims hold (1 only when it could not run at all).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PRESETS } from '../electron/trainer/training/presets';
import type { TrainConfigInput } from '../electron/trainer/training/config';
import { evaluateChecks, LEARNED_ACCURACY_FACTOR, LEARNED_LOSS_FRACTION, SPEED_FACTOR, SPEED_TARGET_FRACTION, type Check } from './experiment-checks';
import { runExperiment, type RunRecord } from './experiment-run';

const root = resolve(import.meta.dirname, '..');
const ORL = process.env['FACE_CNN_LAB_SHARED'] ? join(process.env['FACE_CNN_LAB_SHARED'], 'orl_faces') : resolve(root, '../shared/datasets/orl_faces');

/** The experiment a newcomer starts with no settings: the trainer's defaults and the recipe. */
const DEFAULT_EXPERIMENT = { name: 'default', config: {} as Omit<TrainConfigInput, 'data'> };

interface Args {
  names: string[];
  data: string;
  dataLabel: string;
  budget: number;
}

function parseArgs(argv: readonly string[]): Args {
  const names: string[] = [];
  let data = 'orl';
  let budget = 120;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--data') data = argv[++i] ?? '';
    else if (a.startsWith('--data=')) data = a.slice('--data='.length);
    else if (a === '--budget') budget = Number(argv[++i]);
    else if (a.startsWith('--budget=')) budget = Number(a.slice('--budget='.length));
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: npm run experiments [-- <preset|default>...] [--data orl|synthetic[:IDxIMAGES]|<path>] [--budget <seconds per experiment, default 120>]\n`);
      process.exit(0);
    } else names.push(a);
  }
  if (!(budget > 0)) fail(`--budget must be a positive number of seconds`);
  if (data === 'orl') {
    if (!existsSync(ORL)) fail(`ORL not found at ${ORL} (set FACE_CNN_LAB_SHARED, or use --data synthetic)`);
    return { names, data: ORL, dataLabel: 'ORL (40 people x 10 images)', budget };
  }
  if (data === 'synthetic' || data.startsWith('synthetic:')) return { names, data, dataLabel: data, budget };
  if (!existsSync(data)) fail(`no dataset at ${data}`);
  return { names, data: resolve(data), dataLabel: data, budget };
}

function fail(message: string): never {
  process.stderr.write(`experiments: ${message}\n`);
  process.exit(1);
}

const args = parseArgs(process.argv.slice(2));
const all = [DEFAULT_EXPERIMENT, ...PRESETS.map((p) => ({ name: p.name, config: p.config }))];
const unknown = args.names.filter((n) => !all.some((e) => e.name === n));
if (unknown.length > 0) fail(`unknown experiment ${unknown.join(', ')}; choose from ${all.map((e) => e.name).join(', ')}`);
const chosen = args.names.length > 0 ? all.filter((e) => args.names.includes(e.name)) : all;

const startedAt = new Date();
const dataDir = await mkdtemp(join(tmpdir(), 'fcl-experiments-'));
process.stdout.write(`Experiments on ${args.dataLabel}, wasm, ${cpus().length} cores, budget ${args.budget} s each: ${chosen.map((e) => e.name).join(', ')}\n`);
const records = new Map<string, RunRecord>();
try {
  // Presets with the same settings (tanh-centring and speed-tanh, say) are one run under both names.
  const byConfig = new Map<string, RunRecord>();
  for (const experiment of chosen) {
    const key = JSON.stringify(Object.entries(experiment.config).sort(([a], [b]) => a.localeCompare(b)));
    const same = byConfig.get(key);
    if (same) {
      process.stdout.write(`\n${experiment.name}: the same settings as ${same.name}; its run is reused\n`);
      records.set(experiment.name, { ...same, name: experiment.name, sameRunAs: same.name });
      continue;
    }
    process.stdout.write(`\n${experiment.name}: ${JSON.stringify(experiment.config)}\n`);
    const record = await runExperiment(experiment.name, experiment.config, { data: args.data, dataDir, budgetSeconds: args.budget, onLine: (line) => process.stdout.write(`${line}\n`), logEvery: 10 });
    records.set(experiment.name, record);
    byConfig.set(key, record);
    const last = record.steps.at(-1);
    process.stdout.write(
      record.error
        ? `  ${experiment.name} failed: ${record.error}\n`
        : `  ${experiment.name}: ${record.outcome.state} at step ${record.outcome.step}${record.stoppedByBudget ? ' (budget)' : ''} in ${record.seconds.toFixed(0)} s${last ? `, last loss ${last.loss.toFixed(3)}` : ''}${record.outcome.failure ? ` (${record.outcome.failure})` : ''}\n`,
    );
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

const { checks, skipped } = evaluateChecks(records);
const held = checks.filter((c) => c.holds).length;
process.stdout.write(`\n${table(checks)}\n`);
if (skipped.length > 0) process.stdout.write(`Skipped (their runs were not part of this selection): ${skipped.join('; ')}\n`);
process.stdout.write(`\n${held} of ${checks.length} claims hold\n`);

await mkdir(join(root, 'bench', 'results'), { recursive: true });
const file = join(root, 'bench', 'results', `experiments-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(
  file,
  `${JSON.stringify(
    {
      date: startedAt.toISOString(),
      command: `npm run experiments${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '', node: process.version, backend: 'wasm' },
      data: args.dataLabel,
      budgetSeconds: args.budget,
      thresholds: { learnedLossFraction: LEARNED_LOSS_FRACTION, learnedAccuracyFactor: LEARNED_ACCURACY_FACTOR, speedTargetFraction: SPEED_TARGET_FRACTION, speedFactor: SPEED_FACTOR },
      summary: { hold: held, claims: checks.length },
      checks,
      skipped,
      runs: [...records.values()].map(compact),
    },
    null,
    1,
  )}\n`,
);
process.stdout.write(`Written to ${file}\n`);
process.exit(0); // the wasm backend's worker threads would keep the process alive

/** A markdown table: the same text goes into bench/NOTES.md. */
function table(rows: readonly Check[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return ['| preset | claim | figure | holds |', '|---|---|---|---|', ...rows.map((c) => `| ${cell(c.preset)} | ${cell(c.claim)} | ${cell(c.figure)} | ${c.holds ? 'yes' : '**no**'} |`)].join('\n');
}

/** A run for the JSON: every step and epoch, layer statistics every 10th step and the last (without the per-filter index lists). */
function compact(r: RunRecord) {
  if (r.sameRunAs) return { name: r.name, sameRunAs: r.sameRunAs };
  const rows = r.layerStats.filter((row, i) => row.step % 10 === 0 || row.step === 1 || i === r.layerStats.length - 1);
  return {
    ...r,
    layerStats: rows.map((row) => ({
      step: row.step,
      window: row.window,
      layers: row.layers.map(({ deadFilterIndices: _d, negativeRegimeFilterIndices: _n, ...rest }) => rest),
    })),
  };
}
