// The Runs table's filter (issue 14, 4): by dataset, model and activation, each a choice
// among the values the listed runs have. An unreadable run has none of them, so it is shown
// only while no filter is set.
import { runConfig, runDataset, type RunListEntry } from '../../lib/run-records';

export interface RunFilter {
  dataset: string;
  model: string;
  activation: string;
}

export const NO_FILTER: RunFilter = { dataset: '', model: '', activation: '' };

type Readable = Extract<RunListEntry, { ok: true }>;

function valuesOf(entry: Readable): RunFilter {
  const config = runConfig(entry.record);
  return { dataset: runDataset(entry.record).name, model: config.model, activation: config.activation };
}

/** Each filter's choices: the distinct values of the readable runs, sorted. */
export function filterChoices(entries: readonly RunListEntry[]): { [K in keyof RunFilter]: string[] } {
  const sets = { dataset: new Set<string>(), model: new Set<string>(), activation: new Set<string>() };
  for (const entry of entries) {
    if (!entry.ok) continue;
    const values = valuesOf(entry);
    for (const key of ['dataset', 'model', 'activation'] as const) if (values[key] !== '') sets[key].add(values[key]);
  }
  const sorted = (set: Set<string>) => [...set].sort((a, b) => a.localeCompare(b));
  return { dataset: sorted(sets.dataset), model: sorted(sets.model), activation: sorted(sets.activation) };
}

export function isFiltered(filter: RunFilter): boolean {
  return filter.dataset !== '' || filter.model !== '' || filter.activation !== '';
}

/** The entries the filter keeps ('' keeps every value), in their order. */
export function filterRuns(entries: readonly RunListEntry[], filter: RunFilter): RunListEntry[] {
  if (!isFiltered(filter)) return [...entries];
  return entries.filter((entry) => {
    if (!entry.ok) return false;
    const values = valuesOf(entry);
    return (['dataset', 'model', 'activation'] as const).every((key) => filter[key] === '' || values[key] === filter[key]);
  });
}
