// `lab data catalog` and `lab data download <id>`: public face datasets, fetched
// the way a user would, with their terms shown and accepted first.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { CATALOG, catalogEntry, type CatalogEntry } from '../../../datasets/catalog';
import { downloadFolder, fetchCatalogDataset, formatTerms } from '../../../datasets/download';
import { DatasetError, labDataDir } from '../../../datasets';
import { inputSizeArg } from './args';
import { describeDataset, openWithProgress } from './open-dataset';
import { progressBar } from './progress-bar';
import { printErr, printOut } from './terminal-text';

async function acceptTerms(entry: CatalogEntry, accepted: boolean): Promise<void> {
  printOut(`${formatTerms(entry)}\n\n`);
  if (accepted) return;
  if (!process.stdin.isTTY) {
    throw new DatasetError(`The terms of ${entry.name} were not accepted`, 'Read them above, then run the command again with --accept-terms');
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question('Do you accept these terms and want to download it? [y/N] ');
  prompt.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new DatasetError('Download cancelled: the terms were not accepted', 'Nothing was downloaded');
}

/** A local or institutional mirror holding the same file names, tried before the catalog's addresses. */
function withMirror(entry: CatalogEntry, mirror: string | undefined): CatalogEntry {
  if (mirror === undefined) return entry;
  const base = mirror.replace(/\/+$/, '');
  return { ...entry, files: entry.files.map((file) => ({ ...file, urls: [`${base}/${file.name}`, ...file.urls] })) };
}

export function registerCatalogCommands(data: Command): void {
  data
    .command('catalog')
    .description('list the public face datasets the lab can download')
    .action(() => {
      for (const entry of CATALOG) {
        printOut(`${entry.id.padEnd(14)} ${entry.name}: ${entry.identities} identities, ${entry.images} images\n${' '.repeat(15)}${entry.homePage}\n`);
      }
      printOut('\nDownload one with: npm run lab -- data download <id>   (its terms are shown first)\n');
    });

  data
    .command('download')
    .description('download a catalog dataset (terms shown first; resumes broken downloads; checks SHA-256 where published) and import it')
    .argument('<id>', `one of: ${CATALOG.map((e) => e.id).join(', ')}`)
    .option('--accept-terms', 'accept the dataset terms shown, without asking')
    .option('--mirror <url>', 'try this base URL first (a local or institutional mirror with the same file names)')
    .option('--no-import', 'only download')
    .option('--input <px>', 'network input size for the import, 16 to 512', inputSizeArg, 128)
    .action(async (id: string, flags: { acceptTerms?: boolean; mirror?: string; import: boolean; input: number }) => {
      const found = catalogEntry(id);
      if (!found) throw new DatasetError(`No dataset "${id}" in the catalog`, `Choose one of: ${CATALOG.map((e) => e.id).join(', ')}`);
      const entry = withMirror(found, flags.mirror);
      await acceptTerms(entry, flags.acceptTerms === true);
      const dataDir = labDataDir();
      const bar = progressBar('Downloading', 'bytes');
      let files;
      try {
        files = await fetchCatalogDataset(entry, dataDir, {
          onProgress: (p) => bar.update(p.received, p.total, p.file),
          onMirrorFailed: (e) => printErr(`\n${e.url} failed (${e.error.message}); trying the next address\n`),
        });
      } finally {
        bar.stop();
      }
      for (const file of files) {
        printOut(`${file.file.name}: ${file.downloadedFrom === null ? 'already downloaded' : `downloaded from ${file.downloadedFrom}`} -> ${file.path}\n`);
      }
      printOut(`Downloads are kept in ${downloadFolder(entry, dataDir)}\n`);
      const images = files.find((file) => file.file.role === 'images');
      if (!flags.import || !images) return;
      const layout = entry.layout;
      const dataset = await openWithProgress(images.path, {
        input: flags.input,
        layout: layout.kind,
        identityRegex: layout.kind === 'flat' && layout.identity.kind === 'regex' ? layout.identity.pattern : undefined,
      });
      printOut(`\n${describeDataset(dataset, flags.input)}\n`);
      const pairs = files.find((file) => file.file.role === 'pairs');
      if (pairs) printOut(`Verification pairs: ${pairs.path}\n`);
    });
}
