// One training config, run as `npm run experiments` runs a preset, with its numbers printed:
// how the candidates in bench/NOTES.md ("Preset experiments") were measured.
//   npx tsx bench/experiment-explore.ts '<config JSON>' [budget seconds, 120] [orl | synthetic[:IDxIMAGES] | <path>] [wasm | cpu]
// e.g. npx tsx bench/experiment-explore.ts '{"model":"tiny","inputSize":32,"batch":32,"epochs":60,"optimizer":"sgd","lr":0.1,"clipNorm":5,"schedule":"constant","warmupSteps":0,"activation":"leaky_relu:0.01"}'
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { finalAccuracy, finalLoss, stepsToLoss } from './experiment-checks';
import { runExperiment, type LayerStatsRow } from './experiment-run';

const root = resolve(import.meta.dirname, '..');
const ORL = process.env['FACE_CNN_LAB_SHARED'] ? join(process.env['FACE_CNN_LAB_SHARED'], 'orl_faces') : resolve(root, '../shared/datasets/orl_faces');

const [configText, budgetText, dataText, backendText] = process.argv.slice(2);
if (!configText) {
  process.stderr.write("usage: npx tsx bench/experiment-explore.ts '<config JSON>' [budget seconds] [orl|synthetic|<path>] [wasm|cpu]\n");
  process.exit(1);
}
const config = JSON.parse(configText) as Record<string, unknown>;
const data = dataText === undefined || dataText === 'orl' ? ORL : dataText;
const dataDir = await mkdtemp(join(tmpdir(), 'fcl-explore-'));
try {
  const r = await runExperiment('explore', config, { data, dataDir, budgetSeconds: Number(budgetText ?? 120), backend: backendText === 'cpu' ? 'cpu' : 'wasm', logEvery: 10, onLine: (line) => process.stdout.write(`${line}\n`) });
  if (r.error) process.stdout.write(`error: ${r.error}\n`);
  const chance = Math.log(r.classes);
  const acc = finalAccuracy(r);
  process.stdout.write(
    `${r.outcome.state}${r.outcome.failure ? ` (${r.outcome.failure})` : ''} at step ${r.outcome.step} in ${r.seconds.toFixed(0)} s; init ${r.initializerUsed}; ` +
      `last 10 steps' loss ${finalLoss(r).toFixed(3)} (ln ${r.classes} = ${chance.toFixed(3)}); held-out ${acc ? `${(acc.accuracy * 100).toFixed(1)}%` : '-'}; ` +
      `steps to ln C / 2: ${stepsToLoss(r, chance / 2) ?? '-'}; max loss ${Math.max(...r.steps.map((s) => s.loss)).toFixed(2)}\n`,
  );
  const show = (row: LayerStatsRow | undefined): void => {
    if (!row) return;
    process.stdout.write(`layers at step ${row.step} (window ${row.window}):\n`);
    for (const l of row.layers) {
      const slopes = l.preluSlopes ? (l.preluSlopes.reduce((a, b) => a + b, 0) / l.preluSlopes.length).toFixed(3) : '-';
      process.stdout.write(
        `  ${l.layer.padEnd(14)} dead ${l.deadFilters ?? '-'}/${l.filters} negative-regime ${l.negativeRegimeFilters ?? '-'} saturated ${l.saturatedFraction ?? '-'} ` +
          `mean ${l.mean} |dL/dy| ${l.gradOutputMeanAbs} |dW| ${l.gradWeightMeanAbs} slope ${slopes} wins ${l.pieceWinRates?.join('/') ?? '-'}\n`,
      );
    }
  };
  show(r.layerStats[9]);
  show(r.layerStats.at(-1));
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(0); // the wasm backend's worker threads would keep the process alive
