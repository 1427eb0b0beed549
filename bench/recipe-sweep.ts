// Which optimisation settings take a model off chance level soonest: each config trains on a
// dataset (ORL by default) with the wasm backend for a fixed wall-clock budget, printing every
// epoch's held-out figures and, at the end, the steps done and the last 10 steps' mean loss.
// Behind the recipes in electron/trainer/training/recipes.ts (figures in bench/NOTES.md).
//   tsx bench/recipe-sweep.ts '<JSON array of training configs>' [seconds=120] [dataset]
// Each config is a partial training config (what it leaves out, the recipe fills in).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TrainingSession } from '../electron/trainer/training/session';
import type { TrainConfigInput } from '../electron/trainer/training/config';

const root = resolve(import.meta.dirname, '..');
const [configsText, seconds = '120', data = resolve(root, '../shared/datasets/orl_faces')] = process.argv.slice(2);
if (!configsText) throw new Error("usage: recipe-sweep.ts '<JSON array of configs>' [seconds] [dataset]");
const configs = JSON.parse(configsText) as Array<Omit<TrainConfigInput, 'data'>>;
const dataDir = await mkdtemp(join(tmpdir(), 'fcl-recipe-sweep-'));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const config of configs) {
  const started = performance.now();
  const losses: number[] = [];
  const session = await TrainingSession.start({ data, epochs: 1000, ...config }, {
    dataDir,
    backend: 'wasm',
    probes: { snapshots: false, stats: false },
    onEvent: (e) => {
      if (e.type === 'progress') losses.push(e.loss);
      const t = ((performance.now() - started) / 1000).toFixed(0);
      if (e.type === 'epoch') console.log(`  epoch ${e.epoch + 1}, step ${e.step}, ${t} s: train loss ${e.trainLoss.toFixed(3)}, held-out loss ${e.valLoss.toFixed(3)}, accuracy ${(e.valAccuracy * 100).toFixed(1)}%`);
    },
  });
  const timer = setTimeout(() => session.stop(), Number(seconds) * 1000);
  const outcome = await session.train();
  clearTimeout(timer);
  const { optimizer, lr, batch, warmupSteps, clipNorm, schedule, model, inputSize, init } = session.config;
  session.dispose();
  console.log(
    `${JSON.stringify(config)} -> ${model} @${inputSize}px ${optimizer} lr ${lr} batch ${batch} warm-up ${warmupSteps} clip ${clipNorm} ${schedule} init ${init}: ` +
      `${outcome.state} at step ${outcome.step} in ${((performance.now() - started) / 1000).toFixed(0)} s, last-10 loss ${mean(losses.slice(-10)).toFixed(3)}, highest ${Math.max(...losses).toFixed(2)}`,
  );
}
await rm(dataDir, { recursive: true, force: true });
process.exit(0);
