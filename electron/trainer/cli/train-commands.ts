// `lab train`, `lab resume`, `lab runs`, `lab summary`: training from the command line.
import { basename } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { findPreset, PRESETS } from '../training/presets';
import { labDataDir } from '../../../datasets';
import { parseActivation } from '../../../models/activations/spec';
import { buildModel } from '../../../models/lightcnn';
import { formatSummary } from '../../../models/summary';
import { BACKEND_ORDER, type BackendName } from '../../../models/backend';
import { listRuns, runResumePoint, type ResumePoint } from '../runs/run-store';
import { evaluateRun, formatEvaluation, readEvaluationSummary, type EvaluateOptions } from '../evaluation/evaluate-run';
import { fractionArg, inputSizeArg, positiveInt, seedArg } from './args';
import { progressBar } from './progress-bar';
import { ARCHITECTURES, type TrainConfigInput } from '../training/config';
import { INITIALIZERS } from '../../../models/initializers';
import { TrainingSession, type RunOutcome, type TrainEvent } from '../training/session';
import { printErr, printOut } from './terminal-text';
import { registerRunEditCommands } from './runs-commands';

function numberArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of 0 or more');
  return n;
}

function activationArg(value: string): string {
  try {
    parseActivation(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** `--layer conv2=prelu` (repeatable) -> { conv2: 'prelu' }. */
function layerArg(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError('expected LAYER=ACTIVATION, e.g. conv2=prelu');
  return { ...previous, [value.slice(0, eq)]: activationArg(value.slice(eq + 1)) };
}

const backendOption = () => new Option('--backend <name>', 'force a backend instead of the best one that can train').choices([...BACKEND_ORDER]);

/**
 * Runs a session, showing its progress: a progress bar on a terminal, a line
 * every few seconds in a log. The first Ctrl-C stops cleanly after the current
 * step (with a checkpoint, so `resume` continues); the second quits at once.
 */
async function runWithProgress(start: (onEvent: (event: TrainEvent) => void) => Promise<TrainingSession>): Promise<RunOutcome> {
  const bar = progressBar('Training', 'steps');
  const terminal = process.stderr.isTTY;
  let lastLine = 0;
  let total = 0;
  let lastLayers: Extract<TrainEvent, { type: 'layerStats' }> | undefined;
  const onEvent = (event: TrainEvent): void => {
    switch (event.type) {
      case 'started':
        total = event.totalSteps;
        printOut(`${event.resumed ? 'Resuming' : 'Starting'} run ${event.runId} at step ${event.step} of ${event.totalSteps}\nBackend: ${event.backend}\n`);
        break;
      case 'progress': {
        const label = `loss ${event.loss.toFixed(4)}, acc ${(event.accuracy * 100).toFixed(1)}%, lr ${event.lr.toPrecision(3)}, ${event.imagesPerSecond.toFixed(1)} img/s`;
        if (terminal) bar.update(event.step, total, label);
        else if (performance.now() - lastLine > 5000 || event.step === total) {
          lastLine = performance.now();
          printOut(`step ${event.step}/${total}  epoch ${event.epoch + 1}  ${label}  ${event.stepMs.toFixed(0)} ms/step\n`);
        }
        break;
      }
      case 'epoch':
        printOut(`${terminal ? '\n' : ''}${describeEpoch(event)}\n`);
        break;
      case 'warning':
        printErr(`warning: ${event.message}\n`);
        break;
      case 'layerStats':
        lastLayers = event;
        break;
      default:
        break;
    }
  };
  const session = await start(onEvent);
  for (const line of session.decisions) printOut(`Default ${line}\n`);
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    printErr('\nStopping after this step and saving a checkpoint (Ctrl-C again to quit at once)...\n');
    session.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    const outcome = await session.train();
    bar.stop();
    if (lastLayers) printOut(`\n${describeLayers(lastLayers)}\n`);
    return outcome;
  } finally {
    bar.stop();
    process.off('SIGINT', onSigint);
    session.dispose();
  }
}

/** Flag names as the config spells them, where they differ. */
const CONFIG_KEY_OF_FLAG: Record<string, keyof TrainConfigInput> = { input: 'inputSize', layer: 'layers' };

/** The preset's config, with every option the user typed on top (defaults do not override the preset). */
function withPreset(name: string, config: TrainConfigInput, command: Command): TrainConfigInput {
  const preset = findPreset(name);
  const merged: Record<string, unknown> = { ...preset.config, data: config.data };
  for (const flag of Object.keys(command.opts())) {
    if (command.getOptionValueSource(flag) !== 'cli') continue;
    const key = CONFIG_KEY_OF_FLAG[flag] ?? flag;
    if (key in config) merged[key] = (config as Record<string, unknown>)[key];
  }
  printOut(`Preset ${preset.name}: ${preset.title}\n${preset.claim}\n`);
  return merged as TrainConfigInput;
}

/** The last step's dead filters per layer, the lab's headline numbers. */
function describeLayers(event: Extract<TrainEvent, { type: 'layerStats' }>): string {
  const lines = event.layers.map((l) => {
    if (l.deadFilters === null) return `  ${l.layer.padEnd(16)} ${l.activation.padEnd(15)} cannot die; ${l.negativeRegimeFilters ?? 0}/${l.filters} filters in the negative regime, ${pct(l.negativeFraction ?? 0)} of pre-activations at or below 0`;
    const what = l.rule === 'pieces' ? 'pieces' : 'filters';
    const extra = l.rule === 'saturation' ? `, ${pct(l.saturatedFraction ?? 0)} saturated` : '';
    return `  ${l.layer.padEnd(16)} ${l.activation.padEnd(15)} ${l.deadFilters}/${l.filters} ${what} dead, ${l.deadUnits}/${l.units} units${extra}`;
  });
  // Before a full window has run, "dead" means dead at every step so far.
  const over = event.step < event.window ? `since step 1 (the window of ${event.window} steps has not filled yet)` : `over the last ${event.window} steps`;
  return `Dead ${over}, at step ${event.step}:\n${lines.join('\n')}`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function describeEpoch(event: Extract<TrainEvent, { type: 'epoch' }>): string {
  return `epoch ${event.epoch + 1} (step ${event.step}): train loss ${event.trainLoss.toFixed(4)}, train accuracy ${pct(event.trainAccuracy)}; held-out loss ${event.valLoss.toFixed(4)}, held-out accuracy ${pct(event.valAccuracy)}`;
}

/** The final summary and what to do next; a failed run makes the command exit with 1. */
function printOutcome(outcome: RunOutcome): void {
  printOut(`\nRun ${outcome.runId}: ${outcome.state} at step ${outcome.step}${outcome.message ? ` (${outcome.message})` : ''}\n`);
  if (outcome.validation) {
    printOut(`Held-out images: loss ${outcome.validation.loss.toFixed(4)}, accuracy ${(outcome.validation.accuracy * 100).toFixed(1)}% (${outcome.validation.count} images)\n`);
  }
  if (outcome.failure === 'diverged') {
    const lower = outcome.lr === undefined ? '<a tenth of it>' : String(Number((outcome.lr / 10).toPrecision(2)));
    printOut(`Resume it from its last checkpoint with a lower learning rate, e.g.: npm run lab -- resume ${outcome.runId} --lr ${lower} --clip-norm 5\n`);
  } else if (outcome.state === 'stopped') {
    printOut(`Continue it with: npm run lab -- resume ${outcome.runId}${outcome.message?.includes('step limit') ? ' --max-steps <more>' : ''}\n`);
  }
  if (outcome.state !== 'failed') printOut(`Evaluate it with: npm run lab -- eval ${outcome.runId}\n`);
  else process.exitCode = 1;
}

export function registerTrainCommands(program: Command): void {
  program
    .command('presets')
    .description('experiments that show what activations do (use one with `lab train --preset <name> --data <faces>`)')
    .action(() => {
      for (const p of PRESETS) {
        const c = p.config;
        printOut(`${p.name}\n  ${p.title}: ${c.activation}, ${c.model} at ${c.inputSize} px, ${c.optimizer} lr ${c.lr}${c.clipNorm ? `, clip ${c.clipNorm}` : ''}\n  ${p.claim}\n  compare with: ${p.compareWith.join(', ')}\n\n`);
      }
    });

  program
    .command('train')
    .description('train a Light CNN on a dataset; a run folder keeps config, metrics and checkpoints')
    .requiredOption('--data <path>', 'dataset folder, archive, or "synthetic"')
    .addOption(new Option('--model <name>', 'architecture').choices([...ARCHITECTURES]).default('lightcnn9'))
    .option('--activation <name>', 'activation of every layer: relu, leaky_relu[:a], prelu, rrelu, maxout:k, mfm[:3/2], sigmoid, tanh, elu, selu, gelu, swish, mish', activationArg, 'mfm:2/1')
    .option('--layer <layer=activation>', 'a different activation for one layer (repeatable; see `lab summary` for names)', layerArg)
    .option('--input <px>', 'input size (default: 128, the reference, on a GPU; 64 on the CPU backends)', inputSizeArg)
    .option('--width <x>', 'width multiplier', numberArg, 1)
    .option('--epochs <n>', 'epochs (default: the recipe\'s, see below)', positiveInt)
    .option('--batch <n>', 'batch size (default: the recipe\'s, lowered to what fits the wasm heap)', positiveInt)
    .addOption(new Option('--optimizer <name>', 'optimizer (default: the recipe\'s)').choices(['sgd', 'adam']))
    .option('--lr <x>', 'learning rate (default: the recipe\'s)', numberArg)
    .option('--momentum <x>', 'SGD momentum', numberArg, 0.9)
    .option('--weight-decay <x>', 'L2 weight decay', numberArg, 1e-4)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule (default: the recipe\'s)').choices(['constant', 'step', 'cosine']))
    .option('--warmup-steps <n>', 'linear learning-rate warm-up over the first N steps (0 = none; default: the recipe\'s)', numberArg)
    .option('--step-epochs <n>', 'step schedule: multiply the learning rate by --gamma every N epochs (reference: 10)', positiveInt, 10)
    .option('--gamma <x>', 'step schedule: the factor (reference: 0.457)', numberArg, 0.457)
    .option('--clip-norm <x>', 'clip the global gradient norm to this (0 = off; default: the recipe\'s)', numberArg)
    .addOption(new Option('--init <scheme>', 'initial weights: pytorch (the reference\'s default), he, glorot').choices([...INITIALIZERS]).default('pytorch'))
    .option('--dropout <x>', 'dropout before the classifier', numberArg, 0.5)
    .option('--hold-out <fraction>', "fraction of each identity's images kept for validation", fractionArg, 0.2)
    .option('--seed <n>', 'random seed (same seed + config = same run on CPU)', seedArg, 1)
    .option('--checkpoint-every <steps>', 'also checkpoint every N steps (always at epoch ends)', positiveInt)
    .option('--max-steps <n>', 'stop after N steps', positiveInt)
    .option('--stats-window <steps>', 'dead units and filters are counted over the last N steps', positiveInt, 50)
    .option('--saturation-threshold <fraction>', "a sigmoid/tanh unit is saturated when its derivative is under this fraction of its maximum", fractionArg, 0.01)
    .addOption(new Option('--layout <layout>', 'dataset layout').choices(['auto', 'folders', 'flat']).default('auto'))
    .option('--identity-regex <regex>', 'flat layout: identity = first capture group of this on the file name')
    .addOption(backendOption())
    .option('--preset <name>', 'start from a preset experiment (see `lab presets`); options given here override it')
    .action(async (flags, command: Command) => {
      const config: TrainConfigInput = {
        data: flags.data,
        layout: flags.layout,
        identityRegex: flags.identityRegex,
        model: flags.model,
        inputSize: flags.input,
        width: flags.width,
        activation: flags.activation,
        layers: flags.layer ?? {},
        optimizer: flags.optimizer,
        lr: flags.lr,
        momentum: flags.momentum,
        weightDecay: flags.weightDecay,
        batch: flags.batch,
        epochs: flags.epochs,
        schedule: flags.schedule,
        warmupSteps: flags.warmupSteps,
        init: flags.init,
        stepEpochs: flags.stepEpochs,
        gamma: flags.gamma,
        clipNorm: flags.clipNorm,
        dropout: flags.dropout,
        holdOut: flags.holdOut,
        seed: flags.seed,
        checkpointEvery: flags.checkpointEvery ?? 0,
        maxSteps: flags.maxSteps ?? 0,
      };
      const backend = flags.backend as BackendName | undefined;
      const probes = { window: flags.statsWindow as number, saturationThreshold: flags.saturationThreshold as number };
      printOutcome(await runWithProgress((onEvent) => TrainingSession.start(flags.preset ? withPreset(flags.preset, config, command) : config, { dataDir: labDataDir(), backend, onEvent, probes })));
    });

  program
    .command('resume')
    .description('continue a run from its last good checkpoint (after a stop, a crash or kill -9)')
    .argument('<run>', 'run id (a unique prefix is enough), its folder, or "latest"')
    .option('--lr <x>', 'a new learning rate from here on (e.g. after a NaN)', numberArg)
    .option('--clip-norm <x>', 'gradient-norm clipping from here on (0 = off)', numberArg)
    .option('--epochs <n>', 'train to this many epochs in all', positiveInt)
    .option('--max-steps <n>', 'stop after this many steps in all (0 = no limit)', numberArg)
    .addOption(backendOption())
    .action(async (runId: string, flags: { backend?: BackendName; lr?: number; clipNorm?: number; epochs?: number; maxSteps?: number }) => {
      const overrides = { lr: flags.lr, clipNorm: flags.clipNorm, epochs: flags.epochs, maxSteps: flags.maxSteps };
      printOutcome(await runWithProgress((onEvent) => TrainingSession.resume(runId, { dataDir: labDataDir(), backend: flags.backend, onEvent, overrides })));
    });

  program
    .command('eval')
    .description('face verification (10-fold accuracy, ROC, AUC, EER, TAR@FAR) and rank-1 identification of a run')
    .argument('<run>', 'run id (a unique prefix is enough), or "latest"')
    .option('--pairs <file>', "a pairs file in LFW's pairs.txt format (default: generated from the evaluated dataset)")
    .option('--data <path>', "evaluate on this dataset (folder, archive or \"synthetic:IDxIMAGES\") instead of the run's own: LFW's protocol, for a model trained on other data; required for an imported run")
    .addOption(new Option('--layout <layout>', '--data: dataset layout').choices(['auto', 'folders', 'flat']).default('auto'))
    .option('--identity-regex <regex>', '--data, flat layout: identity = first capture group of this on the file name')
    .action(async (runRef: string, flags: EvalFlags, command: Command) => {
      const result = await evaluateRun(runRef, { dataDir: labDataDir(), pairsFile: flags.pairs, ...evaluationDataOf(flags, command) });
      printOut(`${formatEvaluation(result)}\n`);
    });

  const runsCommand = program
    .command('runs')
    .description('list the runs in the lab data folder, newest first; rename, notes and delete change one')
    .action(async () => {
      const runs = await listRuns(labDataDir());
      if (runs.length === 0) printOut('No runs yet. Start one with: npm run lab -- train --data synthetic --model tiny --input 32\n');
      for (const run of runs) {
        // Checked, not taken from run.json: a run whose checkpoints are all damaged is not resumable.
        const resume = run.ok && mayResume(run) ? await runResumePoint(run.dir) : null;
        printOut(`${describeRunLine(run, await readEvaluationSummary(run.dir), resume)}\n`);
      }
    });
  registerRunEditCommands(runsCommand);

  program
    .command('summary')
    .description('print a model: layers, output shapes, parameters, MACs per image')
    .addOption(new Option('--model <name>', 'architecture').choices([...ARCHITECTURES]).default('lightcnn9'))
    .option('--input <px>', 'input size', inputSizeArg, 128)
    .option('--width <x>', 'width multiplier', numberArg, 1)
    .option('--activation <name>', 'activation', activationArg, 'mfm:2/1')
    .option('--layer <layer=activation>', 'per-layer activation (repeatable)', layerArg)
    .option('--classes <n>', 'identities in the classifier', positiveInt, 10)
    .action((flags) => {
      const built = buildModel({
        architecture: flags.model,
        inputSize: flags.input,
        widthMultiplier: flags.width,
        activation: parseActivation(flags.activation),
        overrides: Object.fromEntries(Object.entries((flags.layer ?? {}) as Record<string, string>).map(([k, v]) => [k, parseActivation(v)])),
        numClasses: flags.classes,
        dropout: 0.5,
        seed: 1,
      });
      printOut(`${formatSummary(built.summary)}\n`);
      built.model.dispose();
    });
}

type RunEntry = Awaited<ReturnType<typeof listRuns>>[number];

interface EvalFlags {
  pairs?: string;
  data?: string;
  layout: 'auto' | 'folders' | 'flat';
  identityRegex?: string;
}

/** `lab eval`'s dataset flags as evaluateRun takes them; --layout and --identity-regex mean nothing without --data. */
function evaluationDataOf(flags: EvalFlags, command: Command): Pick<EvaluateOptions, 'data'> {
  if (flags.data === undefined) {
    if (flags.identityRegex !== undefined || flags.layout !== 'auto') {
      command.error("error: --layout and --identity-regex describe the dataset given with --data; without --data the run's own dataset is opened as it was trained on. Add --data <faces>, or leave them out");
    }
    return {};
  }
  return { data: { spec: flags.data, layout: flags.layout, ...(flags.identityRegex === undefined ? {} : { identityRegex: flags.identityRegex }) } };
}

/** Runs a user would resume: stopped, paused, failed, or interrupted (not one being trained, nor a finished one). */
function mayResume(run: Extract<RunEntry, { ok: true }>): boolean {
  return run.interrupted || ['stopped', 'paused', 'failed'].includes(run.record.state);
}

/** `checkpoints/step-000040.ckpt` as `step 40`, for a line that stays short. */
function unusableText(resume: Extract<ResumePoint, { unusable: unknown }>): string {
  return resume.unusable.map((u) => `step ${u.step}: ${u.reason.replace(/^The checkpoint /, '').replace(/^is /, '')}`).join('; ');
}

export function describeRunLine(run: RunEntry, evaluation: Awaited<ReturnType<typeof readEvaluationSummary>>, resume: ResumePoint | null = null): string {
  if (!run.ok) return `${run.id}  DAMAGED: ${run.reason}`;
  const r = run.record;
  const config = r.config as Partial<TrainConfigInput>;
  let state: string = run.interrupted ? 'interrupted (resumable)' : r.state;
  let step = r.lastCheckpoint ? `checkpoint at step ${r.lastCheckpoint.step}` : 'no checkpoint';
  if (resume?.kind === 'none') {
    if (run.interrupted) state = 'interrupted';
    step = `NOT resumable: every checkpoint is damaged (${unusableText(resume)})`;
  } else if (resume?.kind === 'checkpoint' && resume.unusable.length > 0) {
    if (run.interrupted) state = `interrupted (resumable from step ${resume.step})`;
    step = `checkpoint at step ${resume.step}, newer ones damaged (${unusableText(resume)})`;
  } else if (resume?.kind === 'checkpoint') {
    step = `checkpoint at step ${resume.step}`;
  } else if (resume?.kind === 'start' && run.interrupted) {
    state = 'interrupted (resumable from step 0)';
  }
  if (r.gaps !== undefined && r.gaps.length > 0) {
    step += `, no metrics for ${r.gaps.map((g) => (g.from === g.to ? `step ${g.from}` : `steps ${g.from}-${g.to}`)).join(', ')}`;
  }
  const scores = evaluation ? `, verification ${(evaluation.accuracy * 100).toFixed(1)}% at step ${evaluation.step}` : '';
  const name = r.displayName === undefined ? '' : `  "${r.displayName}"`;
  // An imported run trained elsewhere: where its weights came from says more than a state and a step.
  if (r.origin?.kind === 'imported') return `${run.id}${name}  imported from ${basename(r.origin.file)}${scores}  [${config.model} ${config.activation} @${config.inputSize}px]`;
  return `${run.id}${name}  ${state}, ${step}${scores}  [${config.model} ${config.activation} @${config.inputSize}px on ${r.dataset.name}${r.dataset.synthetic ? ' (synthetic)' : ''}]`;
}
