// Opening a dataset from the command line: the flags every command shares, a
// progress bar while importing, and the summary printed afterwards.
import { Option, type Command } from 'commander';
import { groupByReason, openDataset, type FaceDataset, type ImportOptions, type SkippedFile } from '../../../datasets';
import { identityPatternArg, inputSizeArg } from './args';
import { progressBar } from './progress-bar';

export interface DatasetFlags {
  input: number;
  layout: 'auto' | 'folders' | 'flat';
  identityRegex?: string;
}

export function addDatasetFlags(command: Command): Command {
  return command
    .option('--input <px>', 'network input size, 16 to 512; faces are stored at input*144/128', inputSizeArg, 128)
    .addOption(new Option('--layout <layout>', 'folders: one folder per identity; flat: identity in the file name').choices(['auto', 'folders', 'flat']).default('auto'))
    .option('--identity-regex <regex>', "flat layout: regular expression with one capture group for the identity (default: text before the first '.'), e.g. '^(.+)_\\d+\\.'", identityPatternArg);
}

export async function openWithProgress(spec: string, flags: DatasetFlags): Promise<FaceDataset> {
  const bar = progressBar('Importing', 'files');
  const options: ImportOptions = {
    inputSize: flags.input,
    layout: flags.layout,
    identityRule: flags.identityRegex === undefined ? undefined : { kind: 'regex', pattern: flags.identityRegex },
    onProgress: (p) => {
      if (p.phase === 'decoding') bar.update(p.done, p.total, 'decoding');
    },
  };
  try {
    return await openDataset(spec, options);
  } finally {
    bar.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function tally(values: string[], top: number): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = sorted.slice(0, top).map(([value, n]) => `${value} (${n})`);
  if (sorted.length > top) shown.push(`and ${sorted.length - top} more`);
  return shown.join(', ');
}

export function describeDataset(dataset: FaceDataset, inputSize: number): string {
  const r = dataset.report;
  const perIdentity = dataset.imagesPerIdentity();
  const lines = [
    `Dataset:     ${dataset.name}${dataset.synthetic ? '  [SYNTHETIC: drawn by the lab, not real faces]' : ''}`,
    `Source:      ${r.source} (${r.kind}${r.wrapper ? `, inside ${r.wrapper}/` : ''})`,
    `Layout:      ${r.synthetic ? 'generated' : r.layout}: ${r.identityRule}`,
    `Identities:  ${dataset.identities.length}`,
    `Images:      ${dataset.images.length} (per identity: min ${Math.min(...perIdentity)}, median ${median(perIdentity)}, max ${Math.max(...perIdentity)})`,
    `Image sizes: ${tally(dataset.images.map((i) => `${i.width}x${i.height}`), 5)}`,
    `Formats:     ${tally(dataset.images.map((i) => i.format), 6)}`,
    `Stored as:   ${dataset.storedSize}x${dataset.storedSize} grey (crops of ${inputSize} for the network)`,
    `This time:   ${r.decoded} ${r.synthetic ? 'generated' : 'decoded'}, ${r.reused} from the cache${r.removed ? `, ${r.removed} gone since last time` : ''}, ${r.seconds.toFixed(2)} s`,
    `Cache:       ${r.cachePath}`,
  ];
  if (r.skipped.length === 0) lines.push('Skipped:     nothing');
  else {
    const groups = groupByReason(r.skipped).length;
    lines.push(`Skipped:     ${plural(r.skipped.length, 'file')}${groups > 1 ? `, for ${groups} reasons` : ''}`);
    lines.push(...grouped(r.skipped));
  }
  // Imported, but worth a look, by name.
  const notices = r.notices;
  const named = notices.filter((n) => n.kind === 'name');
  if (named.length > 0) {
    lines.push(`Misnamed:    ${plural(named.length, 'image')} whose name and content disagree (imported by their content)`);
    lines.push(...grouped(named.map((n) => ({ path: n.path, reason: n.note }))));
  }
  const sized = notices.filter((n) => n.kind === 'size');
  if (r.usualSize && sized.length > 0) {
    lines.push(`Other sizes: ${plural(sized.length, 'image')} not of the usual ${r.usualSize.width}x${r.usualSize.height} (${r.usualSize.images} images)`);
    lines.push(...grouped(sized.map((n) => ({ path: n.path, reason: n.note }))));
  }
  return lines.join('\n');
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Most reasons at once shown; the rest are counted (`--json` lists every file). */
const REASONS_SHOWN = 20;
/** Files named per reason. */
const EXAMPLES = 3;

/**
 * Files by reason: one line for a reason only one file has, else the reason with its
 * count and the first few files, instead of one line per file.
 */
function grouped(files: readonly SkippedFile[]): string[] {
  const groups = groupByReason(files, EXAMPLES);
  const lines: string[] = [];
  for (const group of groups.slice(0, REASONS_SHOWN)) {
    if (group.count === 1) {
      lines.push(`  ${group.examples[0]}: ${group.reason}`);
      continue;
    }
    lines.push(`  ${group.count} x ${group.reason}:`);
    for (const path of group.examples) lines.push(`      ${path}`);
    if (group.count > group.examples.length) lines.push(`      … and ${group.count - group.examples.length} more`);
  }
  const rest = groups.slice(REASONS_SHOWN);
  if (rest.length > 0) {
    const files = rest.reduce((sum, g) => sum + g.count, 0);
    lines.push(`  … and ${plural(files, 'file')} for ${plural(rest.length, 'other reason')} (--json lists them all)`);
  }
  return lines;
}
