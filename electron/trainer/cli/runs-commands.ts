// `lab runs rename|notes|delete` (issue 14, 4): what a user changes about a stored run, the
// same as the Runs view does through the trainer (run-store.ts renameRun, setRunNotes,
// trashRun). A run is named as everywhere else on the command line: its id, a unique part
// of it, or "latest". Each is refused while the run is being trained (its lock is held).
import type { Command } from 'commander';
import { labDataDir } from '../../../datasets';
import { renameRun, resolveRun, setRunNotes, trashRun } from '../runs/run-store';
import { printOut } from './terminal-text';

const RUN_ARGUMENT = 'run id (a unique prefix is enough), or "latest"';

/** Adds rename, notes and delete under the `runs` command. */
export function registerRunEditCommands(runs: Command): void {
  runs
    .command('rename')
    .description("give a run a display name (kept in its run.json; the run's id does not change); an empty name removes it")
    .argument('<run>', RUN_ARGUMENT)
    .argument('<name>', 'the new name (quote it if it has spaces)')
    .action(async (runRef: string, name: string) => {
      const dataDir = labDataDir();
      const run = await resolveRun(dataDir, runRef);
      const record = await renameRun(dataDir, run.id, name);
      printOut(record.displayName === undefined ? `Run ${run.id} has no name now.\n` : `Run ${run.id} is now named "${record.displayName}".\n`);
    });

  runs
    .command('notes')
    .description('set the notes of a run (kept in its run.json); empty text removes them')
    .argument('<run>', RUN_ARGUMENT)
    .argument('<text>', 'the notes (quote them)')
    .action(async (runRef: string, text: string) => {
      const dataDir = labDataDir();
      const run = await resolveRun(dataDir, runRef);
      const record = await setRunNotes(dataDir, run.id, text);
      printOut(record.notes === undefined ? `Run ${run.id} has no notes now.\n` : `The notes of run ${run.id} are saved.\n`);
    });

  runs
    .command('delete')
    .description("move a run's folder to the trash folder in the data folder (nothing is deleted; move it back to restore it)")
    .argument('<run>', 'run id (a unique prefix is enough)')
    .action(async (runRef: string) => {
      const dataDir = labDataDir();
      const run = await resolveRun(dataDir, runRef);
      const trashed = await trashRun(dataDir, run.id);
      printOut(`Run ${trashed.id} was moved to the trash: ${trashed.trashedTo}\n${trashed.restore}.\n`);
    });
}
