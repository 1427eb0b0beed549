// The Data view's commands: importDataset and datasetFaces (labInfo and describeModel live in lab-info.ts).
import { resolve } from 'node:path';
import { DatasetError, type FaceDataset } from '../../../../datasets';
import { FileError } from '../../../../files/file-error';
import { CachePixelsError } from '../../../../datasets/cache-file';
import { CATALOG, catalogEntry, type CatalogEntry } from '../../../../datasets/catalog';
import { fetchCatalogDataset } from '../../../../datasets/download';
import { checkIdentityPattern, type IdentityRule } from '../../../../datasets/layout';
import type { CommandOf } from '#protocol/messages';
import type { DatasetSummary, FaceThumb } from '#protocol/workbench';
import type { WorkbenchContext } from './context';
import { openedDatasets, openWith, type OpenOptions } from './dataset-cache';
import { evenlySpaced, faceThumb, imagesByIdentity, mapLimited } from './face-thumbs';
import { importProgressReporter, type ProgressReporter } from './import-progress';
import { CommandError, type WorkbenchResult } from './types';

export { describeModel, labInfo } from './lab-info';

/** Skipped files listed in a reply at most (a folder of 100,000 stray files must not make a 10 MB message). */
export const MAX_SKIPPED_LISTED = 1000;
/** Image notices (misnamed files, odd sizes) listed in a reply at most; the rest are counted. */
export const MAX_NOTICES_LISTED = 1000;
/** Thumbnails made at once. */
const THUMB_CONCURRENCY = 8;

/** What to open and how: the `data` string a training config takes, and the options it was opened with. */
interface Opening {
  readonly data: string;
  readonly options: OpenOptions;
  readonly label?: string;
  readonly citation?: string;
}

export async function importDatasetCommand(command: CommandOf<'importDataset'>, context: WorkbenchContext): Promise<WorkbenchResult['importDataset']> {
  const progress = importProgressReporter(context);
  const { source, inputSize } = command;
  let opening: Opening;
  switch (source.kind) {
    case 'path': {
      // Resolved here, as the importer would: the same string then opens it from any working folder.
      const data = resolve(context.resolvePath(source.path, 'read'));
      opening = { data, options: { inputSize, layout: source.layout, ...identityRuleOf(source.identityRegex) } };
      break;
    }
    case 'synthetic':
      opening = { data: `synthetic:${source.identities}x${source.imagesPerIdentity}`, options: { inputSize, layout: 'auto' } };
      break;
    case 'catalog':
      opening = await fetchCatalog(source.id, inputSize, context.dataDir, progress);
      break;
  }
  // The importer's own 'done' is left out: this command sends one 'done', whatever the source.
  const dataset = await withDatasetErrors(() =>
    openWith(context.dataDir, opening.data, opening.options, (p) => {
      if (p.phase !== 'done') progress.report(p.phase, p.done, p.total);
    }),
  );
  progress.report('done', dataset.images.length, dataset.images.length);
  openedDatasets.add(context.dataDir, opening.data, dataset, opening.options);
  context.rememberDataset(opening.data);
  return summarize(dataset, opening);
}

function identityRuleOf(pattern: string | undefined): { identityRule?: IdentityRule } {
  if (pattern === undefined) return {};
  const problem = checkIdentityPattern(pattern);
  if (problem !== null) throw new CommandError(`${problem}. Write a regular expression whose one group is the person, e.g. ^(.+)_\\d+\\.`, 'bad-dataset');
  return { identityRule: { kind: 'regex', pattern } };
}

/** Downloads a catalog dataset (or finds it downloaded); `data` is then its images archive, as for any archive. */
async function fetchCatalog(id: string, inputSize: number, dataDir: string, progress: ProgressReporter): Promise<Opening> {
  const entry = catalogEntry(id);
  if (!entry) throw new CommandError(`No dataset "${id}" in the catalog; choose one of ${CATALOG.map((e) => e.id).join(', ')}`, 'bad-dataset');
  progress.report('downloading', 0, null, entry.name);
  const files = await withDatasetErrors(() =>
    fetchCatalogDataset(entry, dataDir, { onProgress: (p) => progress.report('downloading', p.received, p.total, p.file) }),
  );
  const images = files.find((file) => file.file.role === 'images');
  if (!images) throw new Error(`internal: the catalog entry ${entry.id} has no images file`); // the catalog's schema requires one
  return { data: images.path, options: { inputSize, ...catalogLayout(entry) }, label: entry.name, citation: `${entry.citation} Terms: ${entry.terms}` };
}

/** How the catalog says its archive is laid out (the importer finds the wrapping folder by itself). */
function catalogLayout(entry: CatalogEntry): Pick<OpenOptions, 'layout' | 'identityRule'> {
  const layout = entry.layout;
  return layout.kind === 'flat' ? { layout: 'flat', identityRule: layout.identity } : { layout: 'folders' };
}

/** DatasetErrors name the cause and the way out: they reach the user as they are, with a code the UI can act on. */
async function withDatasetErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FileError) throw new CommandError(error.message, 'bad-dataset'); // DatasetError is one
    throw error;
  }
}

function summarize(dataset: FaceDataset, opening: Opening): DatasetSummary {
  const report = dataset.report;
  const perIdentity = dataset.imagesPerIdentity().sort((a, b) => a - b);
  const skipped = report.skipped.slice(0, MAX_SKIPPED_LISTED).map(({ path, reason }) => ({ path, reason }));
  const more = report.skipped.length - MAX_SKIPPED_LISTED;
  if (more > 0) skipped.push({ path: '…', reason: `and ${more} more ${more === 1 ? 'file' : 'files'} left out` });
  return {
    data: opening.data,
    label: opening.label ?? dataset.name,
    synthetic: dataset.synthetic,
    layout: report.layout,
    identityRule: report.identityRule,
    identities: dataset.identities.length,
    images: dataset.images.length,
    imagesPerIdentity: { min: perIdentity[0] ?? 0, median: median(perIdentity), max: perIdentity[perIdentity.length - 1] ?? 0 },
    storedSize: dataset.storedSize,
    decoded: report.decoded,
    reused: report.reused,
    removed: report.removed,
    skipped,
    seconds: report.seconds,
    ...(opening.citation === undefined ? {} : { citation: opening.citation }),
    notices: report.notices.slice(0, MAX_NOTICES_LISTED).map(({ path, kind, note }) => ({ path, kind, note })),
    noticesLeftOut: Math.max(0, report.notices.length - MAX_NOTICES_LISTED),
    usualSize: report.usualSize === null ? null : { width: report.usualSize.width, height: report.usualSize.height, images: report.usualSize.images },
  };
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export async function datasetFaces(command: CommandOf<'datasetFaces'>, context: WorkbenchContext): Promise<WorkbenchResult['datasetFaces']> {
  const { data, identityOffset, identityLimit, perIdentity, size } = command;
  // A desktop window names files only through dialogs: a path it did not import here is refused (synthetic sets are not files).
  if (!context.mayUseDataset(data)) {
    throw new CommandError('This dataset was not opened in this session: open it in the Data view first', 'bad-path');
  }
  const open = () => openedDatasets.get(context.dataDir, data);
  return withDatasetErrors(async () => {
    try {
      return await facesOf(await open(), identityOffset, identityLimit, perIdentity, size);
    } catch (error) {
      // Another import rewrote the cache file since this dataset was opened: open it again, once.
      if (!(error instanceof CachePixelsError)) throw error;
      openedDatasets.drop(context.dataDir, data);
      return facesOf(await open(), identityOffset, identityLimit, perIdentity, size);
    }
  });
}

async function facesOf(dataset: FaceDataset, offset: number, limit: number, perIdentity: number, size: number): Promise<WorkbenchResult['datasetFaces']> {
  const byIdentity = imagesByIdentity(dataset);
  const page = dataset.identities.slice(offset, offset + limit).map((name, i) => {
    const images = byIdentity[offset + i] ?? [];
    return { index: offset + i, name, count: images.length, shown: evenlySpaced(images, perIdentity) };
  });
  const thumbs = await mapLimited(page.flatMap((identity) => identity.shown), THUMB_CONCURRENCY, (image) => faceThumb(dataset, image, size));
  let next = 0;
  return {
    totalIdentities: dataset.identities.length,
    identities: page.map(({ index, name, count, shown }) => ({ index, name, count, faces: shown.map(() => thumbs[next++] as FaceThumb) })),
  };
}
