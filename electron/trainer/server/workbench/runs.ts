// The Runs and Evaluate views' commands: evaluateRun, getEvaluation, exportRun,
// listSnapshots, loadSnapshot, and what the user changes about a run: renameRun,
// setRunNotes, deleteRun (run-store.ts does those under the run's lock, so a run that
// trains is refused with a message saying to stop it first).
//
// Where things are kept (all in the run's folder, <dataDir>/runs/<runId>/):
// - evaluation.json: the last evaluation, in full (evaluation/evaluate-run.ts describes it),
//   including what the Evaluate view shows beyond the numbers (score histogram, hardest
//   pairs with their faces). getEvaluation rebuilds the view from this file alone, so it is
//   the very view evaluateRun returned. An evaluation.json of an older lab (format 1, no
//   histogram and no hardest pairs) gives a view with an empty histogram, no hardest pairs
//   and a note saying to evaluate again; a run never evaluated gives null.
// - evaluateRun's `data`: another dataset to evaluate on (LFW's protocol), a folder or archive
//   (a grant, or typed in serve mode) or the synthetic set; an imported run needs one.
// - snapshots/step-N.fclf: the activation maps recorded at each epoch end (probes/snapshots.ts).
//
// A run id from a client is checked against runIdSchema before any file is touched; a run
// that does not exist is openRun's RunError, whose message says so and what to do.
import { resolve } from 'node:path';
import { Buffer } from 'node:buffer';
import { evaluateRun, readSavedEvaluation, savedEvaluation, type EvaluationData, type EvaluationPhase } from '../../evaluation/evaluate-run';
import { evaluationView, savedEvaluationSchema } from '../../evaluation/evaluation-view';
import { listSnapshots as listSnapshotInfos, readSnapshot } from '../../probes/snapshots';
import { runIdSchema, type CommandOf } from '#protocol/messages';
import { openRun, renameRun as renameStoredRun, setRunNotes as setStoredRunNotes, trashRun, type RunHandle } from '../../runs/run-store';
import type { WorkbenchContext } from './context';
import { exportRunArchive } from './run-export';
import { CommandError, type WorkbenchResult } from './types';

/** Progress events of one phase are sent at most this often (phase changes always). */
export const PROGRESS_INTERVAL_MS = 250;

/** Opens a run named by a client, refusing an id that could name anything but a run folder. */
export async function openClientRun(context: WorkbenchContext, runId: string): Promise<RunHandle> {
  const checked = runIdSchema.safeParse(runId);
  if (!checked.success) {
    throw new CommandError(`"${runId}" is not a run id (${checked.error.issues[0]?.message ?? 'invalid'}): choose a run from the Runs list`, 'invalid');
  }
  return openRun(context.dataDir, checked.data);
}

export async function evaluateRunCommand(command: CommandOf<'evaluateRun'>, context: WorkbenchContext): Promise<WorkbenchResult['evaluateRun']> {
  const run = await openClientRun(context, command.runId);
  if ((await run.listCheckpoints()).length === 0) {
    throw new CommandError(
      `Run ${run.id} has no checkpoint yet, so there is nothing to evaluate: let it train to the end of an epoch (or stop it, which saves one), then evaluate it`,
      'no-checkpoint',
    );
  }
  const pairsFile = command.pairs === undefined ? undefined : resolve(context.resolvePath(command.pairs, 'read'));
  const data = command.data === undefined ? undefined : evaluationData(command.data, context);
  const onProgress = progressEmitter(context, run.id);
  const result = await evaluateRun(run, {
    dataDir: context.dataDir,
    ...(pairsFile === undefined ? {} : { pairsFile }),
    ...(data === undefined ? {} : { data }),
    hardest: command.hardest,
    onProgress,
    // While a run trains in this process the backend stays the one it trains on.
    ...(context.training ? { backend: 'current' as const } : context.backend ? { backend: context.backend } : {}),
    pairsHint: 'choose a pairs file',
    dataHint: 'choose another dataset to evaluate it on (and a pairs file of its people)',
  });
  // The view is made from what was saved, exactly as getEvaluation makes it later.
  return evaluationView(savedEvaluationSchema.parse(savedEvaluation(result)));
}

/** The dataset a client named to evaluate on, as evaluateRun takes it: a path resolved as the Data view's import resolves it. */
function evaluationData(source: NonNullable<CommandOf<'evaluateRun'>['data']>, context: WorkbenchContext): EvaluationData {
  if (source.kind === 'synthetic') return { spec: `synthetic:${source.identities}x${source.imagesPerIdentity}` };
  return {
    spec: resolve(context.resolvePath(source.path, 'read')),
    layout: source.layout,
    ...(source.identityRegex === undefined ? {} : { identityRegex: source.identityRegex }),
  };
}

/** evaluateProgress events: every phase change, and within a phase at most every PROGRESS_INTERVAL_MS (and its last count). */
function progressEmitter(context: WorkbenchContext, runId: string) {
  let lastPhase: EvaluationPhase | null = null;
  let lastAt = -Infinity;
  return ({ phase, done, total }: { phase: EvaluationPhase; done: number; total: number | null }) => {
    const now = performance.now();
    const complete = total !== null && done >= total;
    if (phase === lastPhase && !complete && now - lastAt < PROGRESS_INTERVAL_MS) return;
    lastPhase = phase;
    lastAt = now;
    context.emit({ type: 'evaluateProgress', requestId: context.requestId, runId, phase, done, total });
  };
}

export async function getEvaluation(command: CommandOf<'getEvaluation'>, context: WorkbenchContext): Promise<WorkbenchResult['getEvaluation']> {
  const run = await openClientRun(context, command.runId);
  const read = await readSavedEvaluation(run.dir);
  if (read === null) return null;
  if ('problem' in read) throw new CommandError(`The saved evaluation of run ${run.id} cannot be used: ${read.problem}. Evaluate the run again`, 'damaged');
  return evaluationView(read.saved);
}

export async function exportRun(command: CommandOf<'exportRun'>, context: WorkbenchContext): Promise<WorkbenchResult['exportRun']> {
  const run = await openClientRun(context, command.runId);
  const destination = context.resolvePath(command.destination, 'write');
  if (command.destination.kind === 'typed') {
    // A typed path (made whole, or refused when relative, by grants.ts typedPath): no dialog asked about replacing a file.
    return exportRunArchive(run, destination, { overwrite: false, ensureSuffix: true });
  }
  // From a save dialog: the user chose the name and was asked about replacing it.
  return exportRunArchive(run, destination, { overwrite: true, ensureSuffix: false });
}

export async function listSnapshots(command: CommandOf<'listSnapshots'>, context: WorkbenchContext): Promise<WorkbenchResult['listSnapshots']> {
  const run = await openClientRun(context, command.runId);
  // A snapshot file that cannot be read is left out (the others stay usable); loadSnapshot names its problem.
  const { snapshots } = await listSnapshotInfos(run.dir);
  return { snapshots };
}

export async function loadSnapshot(command: CommandOf<'loadSnapshot'>, context: WorkbenchContext): Promise<WorkbenchResult['loadSnapshot']> {
  const run = await openClientRun(context, command.runId);
  let snapshot;
  try {
    snapshot = await readSnapshot(run.dir, command.step);
  } catch (error) {
    throw new CommandError(`The snapshot of step ${command.step} of run ${run.id} cannot be read: ${(error as Error).message}. Choose another step`, 'damaged');
  }
  if (snapshot === null) {
    const { snapshots } = await listSnapshotInfos(run.dir);
    const steps = snapshots.map((s) => s.step);
    throw new CommandError(
      steps.length === 0
        ? `Run ${run.id} has no activation snapshots (they are recorded at the end of each epoch, by this version of the lab): train it to the end of an epoch first`
        : `Run ${run.id} has no snapshot at step ${command.step}: it has snapshots at step${steps.length === 1 ? '' : 's'} ${steps.join(', ')}`,
      'not-found',
    );
  }
  const { header, frames } = snapshot;
  return {
    step: header.step,
    epoch: header.epoch,
    probeLabels: [...header.probeLabels],
    frames: frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64')),
  };
}

export async function renameRun(command: CommandOf<'renameRun'>, context: WorkbenchContext): Promise<WorkbenchResult['renameRun']> {
  const run = await openClientRun(context, command.runId);
  const record = await renameStoredRun(context.dataDir, run.id, command.displayName);
  return { runId: run.id, displayName: record.displayName ?? null };
}

export async function setRunNotes(command: CommandOf<'setRunNotes'>, context: WorkbenchContext): Promise<WorkbenchResult['setRunNotes']> {
  const run = await openClientRun(context, command.runId);
  const record = await setStoredRunNotes(context.dataDir, run.id, command.notes);
  return { runId: run.id, notes: record.notes ?? '' };
}

export async function deleteRun(command: CommandOf<'deleteRun'>, context: WorkbenchContext): Promise<WorkbenchResult['deleteRun']> {
  const run = await openClientRun(context, command.runId);
  const trashed = await trashRun(context.dataDir, run.id);
  return { runId: trashed.id, trashedTo: trashed.trashedTo, restore: trashed.restore };
}
