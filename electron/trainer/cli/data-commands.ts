// `lab data …`: look at a dataset before training on it.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { contactSheetPng } from '../../../datasets';
import { positiveInt, seedArg } from './args';
import { addDatasetFlags, describeDataset, openWithProgress, type DatasetFlags } from './open-dataset';
import { formatPairs, generatePairs } from '../../../datasets/pairs';
import { writeFileAtomic } from '../../../files/atomic-file';
import { registerCatalogCommands } from './catalog-commands';
import { jsonTerminalSafe, printOut } from './terminal-text';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('import and inspect face datasets');
  registerCatalogCommands(data);

  addDatasetFlags(
    data
      .command('inspect')
      .description('import a dataset (folder, archive, or "synthetic") and print what is in it; --sheet writes a contact sheet PNG of the first faces')
      .argument('<path>', 'a folder of identities, a flat folder, a .zip/.tar/.tar.gz archive, or "synthetic"')
      // No default file: a sheet written unasked lands in whatever folder the command ran from (the project checkout under npm run).
      .option('--sheet <file>', 'write a contact sheet PNG of the first faces to this file')
      .option('--json', 'print the import report as JSON instead'),
  ).action(async (path: string, flags: DatasetFlags & { sheet?: string; json?: boolean }) => {
    const dataset = await openWithProgress(path, flags);
    const sheet = flags.sheet === undefined ? null : resolve(flags.sheet);
    // The report first: a sheet that cannot be written must not cost the user what the import found.
    if (flags.json) {
      // Escaped the JSON way, so that it still parses to the same names.
      const json = JSON.stringify({ ...dataset.report, identityNames: dataset.identities, imagesPerIdentity: dataset.imagesPerIdentity(), contactSheet: sheet }, null, 2);
      printOut(`${jsonTerminalSafe(json)}\n`);
    } else {
      printOut(`${describeDataset(dataset, flags.input)}\n`);
    }
    if (sheet === null) {
      if (!flags.json) printOut('Contact sheet: not written (--sheet <file.png> writes one)\n');
      return;
    }
    await writeFileAtomic(sheet, [await contactSheetPng(dataset)]);
    if (!flags.json) printOut(`Contact sheet: written to ${sheet}\n`);
  });

  addDatasetFlags(
    data
      .command('pairs')
      .description("write a verification pairs file in LFW's pairs.txt format: balanced matched/mismatched pairs, identity-disjoint folds, seeded")
      .argument('<path>', 'the dataset (as for inspect)')
      .requiredOption('--out <file>', 'where to write the pairs file')
      .option('--folds <n>', 'number of folds (LFW: 10)', positiveInt, 10)
      .option('--per-fold <n>', 'matched (and as many mismatched) pairs per fold; default: as many as the data allows, up to 300', positiveInt)
      .option('--seed <n>', 'random seed', seedArg, 1),
  ).action(async (path: string, flags: DatasetFlags & { out: string; folds: number; perFold?: number; seed: number }) => {
    const dataset = await openWithProgress(path, flags);
    const pairs = generatePairs(dataset, { folds: flags.folds, perFold: flags.perFold, seed: flags.seed });
    await writeFileAtomic(resolve(flags.out), [Buffer.from(formatPairs(pairs), 'utf8')]);
    for (const note of pairs.notes) printOut(`note: ${note}\n`);
    printOut(
      `Wrote ${flags.out}: ${pairs.folds} folds x (${pairs.perFold} matched + ${pairs.perFold} mismatched) = ${pairs.pairs.length} pairs from ${dataset.identities.length} identities of ${dataset.name}\n`,
    );
  });
}
