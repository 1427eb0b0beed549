// The first run a newcomer starts, timed as they would see it: `lab train --data <faces>`
// with nothing else set (the backend chain, the recipe, probes on), stopped 120 s after the
// process started (dataset import included), in a fresh data folder.
//   tsx bench/first-run-case.ts <dataset> [seconds]
// Prints one JSON line: the settings the run decided, steps, the last 10 steps' mean loss
// against ln(classes), and the held-out accuracy of the last epoch that ended in time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrainingSession, type TrainEvent } from '../electron/trainer/training/session';

const started = performance.now();
const [data, seconds = '120'] = process.argv.slice(2);
if (!data) throw new Error('usage: first-run-case.ts <dataset> [seconds]');
const dataDir = await mkdtemp(join(tmpdir(), 'fcl-first-run-'));
const losses: number[] = [];
let lastEpoch: Extract<TrainEvent, { type: 'epoch' }> | undefined;
let firstBelowChance: number | null = null;
let classes = 0;
const session = await TrainingSession.start({ data }, {
  dataDir,
  onEvent: (event) => {
    if (event.type === 'progress') losses.push(event.loss);
    if (event.type === 'epoch') {
      lastEpoch = event;
      if (firstBelowChance === null && event.trainLoss < 0.9 * Math.log(classes)) firstBelowChance = (performance.now() - started) / 1000;
    }
  },
});
classes = session.model.config.numClasses;
const timer = setTimeout(() => session.stop(), Math.max(0, Number(seconds) * 1000 - (performance.now() - started)));
const outcome = await session.train();
clearTimeout(timer);
const { config } = session;
session.dispose();
await rm(dataDir, { recursive: true, force: true });
const tail = losses.slice(-10);
const line = {
  data,
  backend: session.backend.name,
  settings: `${config.model} @${config.inputSize}px ${config.activation}, ${config.optimizer} lr ${config.lr}, batch ${config.batch}, warm-up ${config.warmupSteps}, clip ${config.clipNorm}, init ${config.init}`,
  seconds: (performance.now() - started) / 1000,
  steps: outcome.step,
  state: outcome.state,
  classes,
  lastLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
  chanceLoss: Math.log(classes),
  heldOutAccuracy: lastEpoch?.valAccuracy ?? null,
  heldOutAtStep: lastEpoch?.step ?? null,
  chanceAccuracy: 1 / classes,
  firstEpochBelowChanceSeconds: firstBelowChance,
};
process.stdout.write(`${JSON.stringify(line)}\n`);
process.exit(0);
