// The Runs view's PyTorch commands: importCheckpoint (`lab import` from the app) and
// exportRunFor (`lab export --format pytorch|onnx|torchrun`). The work is interchange/'s
// (import-checkpoint.ts, export-run.ts); this file resolves the paths as the other commands
// do (a grant from a native dialog in the desktop app, typed in serve mode), and turns an
// InterchangeError into a reply the viewer shows as it is: the reason, the file and the way
// out, with the command line's flags named as the app's fields.
//
// Both are async like evaluateRun and importDataset: the file is read, and the run's files
// written, without holding up the other viewers; what runs without a break is the pickle
// parsing, the weights' conversion between the layouts and the ONNX encoding, which take time
// in proportion to the network's size (interchange/ reports no progress, so no progress
// events are sent: the viewer shows that the work is under way).
import { readdir } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { errorCode, FileError } from '../../../../files/file-error';
import type { CommandOf } from '#protocol/messages';
import { exportRun } from '../../interchange/export-run';
import { importCheckpoint, type ImportOptions } from '../../interchange/import-checkpoint';
import type { WorkbenchContext } from './context';
import { openClientRun } from './runs';
import { CommandError, type WorkbenchResult } from './types';

export async function importCheckpointCommand(command: CommandOf<'importCheckpoint'>, context: WorkbenchContext): Promise<WorkbenchResult['importCheckpoint']> {
  const file = resolve(context.resolvePath(command.source, 'read'));
  const options: ImportOptions = {
    dataDir: context.dataDir,
    ...(command.model === undefined ? {} : { model: command.model }),
    ...(command.activation === undefined ? {} : { activation: command.activation }),
    ...(command.width === undefined ? {} : { width: command.width }),
    ...(command.inputSize === undefined ? {} : { inputSize: command.inputSize }),
    ...(command.displayName === undefined ? {} : { name: command.displayName }),
  };
  let result;
  try {
    result = await importCheckpoint(file, options);
  } catch (error) {
    throw asCommandError(error, 'bad-checkpoint');
  }
  const { run, config, checkpoint, classifier, parameters, decisions } = result;
  return {
    runId: run.id,
    format: checkpoint.format,
    config: { model: config.model, inputSize: config.inputSize, width: config.width, activation: config.activation },
    classifier: { present: classifier.present, classes: classifier.classes },
    parameters,
    // Said for the app: "give --activation otherwise" names the import's advanced settings here.
    decisions: decisions.map(appRemedy),
    notes: [...(run.record.origin?.notes ?? [])],
  };
}

export async function exportRunForCommand(command: CommandOf<'exportRunFor'>, context: WorkbenchContext): Promise<WorkbenchResult['exportRunFor']> {
  const run = await openClientRun(context, command.runId);
  if ((await run.listCheckpoints()).length === 0) {
    throw new CommandError(
      `Run ${run.id} has no checkpoint yet, so it has no weights to export: let it train to the end of an epoch (or stop it, which saves one), then export it`,
      'no-checkpoint',
    );
  }
  const dir = resolve(context.resolvePath(command.destination, 'write'));
  const runs = dirname(run.dir);
  if (dir === runs || dir.startsWith(`${runs}${sep}`)) {
    throw new CommandError(`The files cannot be written inside the lab's runs folder (${dir}), which holds only runs: choose a folder elsewhere`, 'bad-path');
  }
  if (!command.force && (await holdsFiles(dir))) {
    throw new CommandError(
      `The folder ${dir} is not empty: choose an empty folder (the dialog can create one), or tick "Replace files of the same names" to write into it anyway`,
      'exists',
    );
  }
  let result;
  try {
    result = await exportRun(run, { dataDir: context.dataDir, format: command.format, out: dir, force: command.force });
  } catch (error) {
    throw asCommandError(error, 'export-failed');
  }
  return { runId: result.runId, format: result.format, dir: result.dir, files: [...result.files], step: result.step };
}

/** Whether `dir` is a folder with anything in it (missing, or not a folder: export-run.ts says what is wrong). */
async function holdsFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return false;
    throw new CommandError(`The folder ${dir} cannot be read (${errorCode(error) ?? (error as Error).message}): choose another folder`, 'bad-path');
  }
}

/** An InterchangeError (any FileError) as a reply: its reason, path and remedy, the remedy in the app's words. */
function asCommandError(error: unknown, code: string): unknown {
  if (!(error instanceof FileError)) return error;
  return new CommandError(`${error.reason}${error.path === undefined ? '' : `: ${error.path}`}. ${appRemedy(error.remedy)}`, code);
}

const FIELDS: Record<string, string> = { '--model': 'the model', '--input-size': 'the input size', '--width': 'the width', '--activation': 'the activation' };

/**
 * A remedy written for the command line, for the app: `--model` and the like are the import's
 * advanced settings, `--out` another folder, `--force` the "Replace files" choice. A remedy
 * without flags is kept word for word.
 */
export function appRemedy(remedy: string): string {
  let text = remedy
    .replace(/Choose another folder with --out/g, 'Choose another folder')
    .replace(/pass --force to replace the files of the same names/g, 'tick "Replace files of the same names"')
    .replace(/ with --out/g, '');
  const flagged = /--(model|input-size|width|activation)\b/.test(text);
  text = text.replace(/--(model|input-size|width|activation)\b/g, (flag) => FIELDS[flag] ?? flag);
  return flagged ? `${text} (the import's advanced settings)` : text;
}
