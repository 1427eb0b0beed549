// `lab inspect <run> --data <faces>`: an inspection pass (inspection/inspection-session.ts) on
// the command line. The run's latest weights go once over the dataset in inference mode; it
// prints, per activation layer, the filters and units dead on every image of the pass, and
// where the pass was kept in the run.
import { Option, type Command } from 'commander';
import { labDataDir } from '../../../datasets';
import { BACKEND_ORDER, type BackendName } from '../../../models/backend';
import type { LayerStats } from '#protocol/messages';
import { InspectionSession, type InspectionOutcome } from '../inspection/inspection-session';
import type { TrainEvent } from '../training/session';
import { positiveInt } from './args';
import { progressBar } from './progress-bar';
import { printErr, printOut } from './terminal-text';

interface InspectFlags {
  data: string;
  layout: 'auto' | 'folders' | 'flat';
  identityRegex?: string;
  batch?: number;
  backend?: BackendName;
}

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description("look inside a run without training it: its latest weights go once over a dataset (inference mode), and every activation layer's dead filters and units over the pass, its health and histograms, and the probe faces' maps are measured and kept in the run")
    .argument('<run>', 'run id (a unique prefix is enough), its folder, or "latest"; an imported run too')
    .requiredOption('--data <path>', 'the dataset to look with: a folder, an archive, or "synthetic:IDxIMAGES"')
    .addOption(new Option('--layout <layout>', 'dataset layout').choices(['auto', 'folders', 'flat']).default('auto'))
    .option('--identity-regex <regex>', 'flat layout: identity = first capture group of this on the file name')
    .option('--batch <n>', "images per batch (default: the run's training batch)", positiveInt)
    .addOption(new Option('--backend <name>', 'force a backend instead of the best one for inference').choices([...BACKEND_ORDER]))
    .action(async (runRef: string, flags: InspectFlags) => {
      const outcome = await inspectWithProgress(runRef, flags);
      printOut(`\n${describeOutcome(outcome)}\n`);
      if (outcome.state !== 'finished') process.exitCode = 1;
    });
}

async function inspectWithProgress(runRef: string, flags: InspectFlags): Promise<InspectionOutcome> {
  const bar = progressBar('Inspecting', 'batches');
  let total = 0;
  const onEvent = (event: TrainEvent): void => {
    if (event.type === 'started' && event.inspection) {
      const { data, source, images, batches, checkpointStep } = event.inspection;
      total = batches;
      printOut(`Looking inside run ${event.runId} (the weights of step ${checkpointStep}) with ${data} (${source}; ${images} images) in ${batches} batches\nBackend: ${event.backend}\n`);
    } else if (event.type === 'layerStats' && process.stderr.isTTY) bar.update(event.step, total, '');
    else if (event.type === 'warning') printErr(`warning: ${event.message}\n`);
  };
  const session = await InspectionSession.open(runRef, {
    dataDir: labDataDir(),
    data: { spec: flags.data, layout: flags.layout, ...(flags.identityRegex === undefined ? {} : { identityRegex: flags.identityRegex }) },
    onEvent,
    ...(flags.batch === undefined ? {} : { batch: flags.batch }),
    ...(flags.backend === undefined ? {} : { backend: flags.backend }),
  });
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    printErr('\nStopping after this batch (nothing is kept of a pass cut short; Ctrl-C again to quit at once)...\n');
    session.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    return await session.train();
  } finally {
    bar.stop();
    process.off('SIGINT', onSigint);
    session.dispose();
  }
}

/** Per layer, what died over the pass; then what cannot be measured without gradients, and where it was kept. */
export function describeOutcome(outcome: InspectionOutcome): string {
  const head = `Run ${outcome.runId}: ${outcome.state}${outcome.message ? ` (${outcome.message})` : ''}`;
  if (outcome.layers.length === 0) return head;
  const over = outcome.state === 'finished' ? `on every image of the pass (${outcome.images} images of ${outcome.data.name})` : `on every image looked at before the stop (${outcome.images} images)`;
  const lines = [head, '', `Dead ${over}, with the weights of step ${outcome.step}:`, ...outcome.layers.map(describeLayer)];
  lines.push('', 'Not measured in a pass (no gradient flows, no weight changes): gradient flow and update ratio.');
  if (outcome.saved) lines.push(`Kept in the run: ${outcome.saved.metrics} ("layers" and "histograms" rows marked inspection, at step ${outcome.step})${outcome.saved.snapshot ? ` and ${outcome.saved.snapshot}` : ''}`);
  else lines.push(`Not kept in the run: ${outcome.notSaved ?? 'the pass did not end'}`);
  return lines.join('\n');
}

function describeLayer(l: LayerStats): string {
  const name = `  ${l.layer.padEnd(16)} ${l.activation.padEnd(15)}`;
  const health = `mean ${l.mean}, std ${l.std}, zeros ${pct(l.zeroFraction)}`;
  if (l.deadFilters === null) return `${name} cannot die; ${l.negativeRegimeFilters ?? 0}/${l.filters} filters wholly in the negative regime, ${pct(l.negativeFraction ?? 0)} of pre-activations at or below 0; ${health}`;
  const what = l.rule === 'pieces' ? 'pieces' : 'filters';
  const saturated = l.rule === 'saturation' ? `, ${pct(l.saturatedFraction ?? 0)} saturated` : '';
  return `${name} ${l.deadFilters}/${l.filters} ${what} dead, ${l.deadUnits}/${l.units} units; ${health}${saturated}`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
