// What the Data view's source form turns into: the `source` of an importDataset command,
// or the reason the Import button is not ready yet. Kept apart from the components so the
// rules (a path needs a grant in the app, a catalog dataset needs its terms accepted, a
// flat folder's regex needs a group) read in one place.
import type { CatalogInfo, DatasetSource, DatasetSummary } from '#protocol/workbench';

/** A path the user picked in the desktop app's native dialog: main keeps the path, we get an id. */
export interface Grant {
  grant: string;
  label: string;
}

export type SourceKind = 'folder' | 'archive' | 'path' | 'synthetic' | 'catalog';
export type Layout = 'auto' | 'folders' | 'flat';

export interface SourceDraft {
  kind: SourceKind;
  /** Serve mode: the path typed by the user (folder or archive). */
  typedPath: string;
  /** The desktop app: what the dialogs returned, per kind. */
  folder: Grant | null;
  archive: Grant | null;
  layout: Layout;
  identityRegex: string;
  identities: number;
  imagesPerIdentity: number;
  catalogId: string | null;
  /** Whether the terms of the chosen catalog dataset were accepted (reset when another is chosen). */
  acceptedTerms: boolean;
}

/** The source kinds offered: path sources only where a path can be given (a dialog, or typed in serve mode). */
export function availableKinds(mode: 'dialog' | 'typed' | 'none'): { kind: SourceKind; title: string }[] {
  const paths: { kind: SourceKind; title: string }[] =
    mode === 'dialog'
      ? [
          { kind: 'folder', title: 'Folder' },
          { kind: 'archive', title: 'Archive' },
        ]
      : mode === 'typed'
        ? [{ kind: 'path', title: 'Folder or archive' }]
        : [];
  return [...paths, { kind: 'synthetic', title: 'Synthetic' }, { kind: 'catalog', title: 'Catalog' }];
}

export function emptyDraft(typed: boolean, catalog: readonly CatalogInfo[]): SourceDraft {
  return {
    kind: typed ? 'path' : 'folder',
    typedPath: '',
    folder: null,
    archive: null,
    layout: 'auto',
    identityRegex: '',
    identities: 20,
    imagesPerIdentity: 10,
    catalogId: catalog[0]?.id ?? null,
    acceptedTerms: false,
  };
}

/** Why an identity regex cannot be used, or '' when it can (empty: the trainer's default rule). */
export function identityRegexProblem(text: string): string {
  if (text === '') return '';
  let groups: number;
  try {
    // The trainer's rule (datasets/layout.ts checkIdentityPattern): a 'u' regex with exactly one
    // capture group. A regex that also matches '' reports its group count in the match's length.
    groups = (new RegExp(`${new RegExp(text, 'u').source}|`, 'u').exec('') as RegExpExecArray).length - 1;
  } catch (error) {
    return `is not a valid regular expression: ${(error as Error).message}`;
  }
  if (groups === 0) return 'needs a group in parentheses: the group is the identity, e.g. ^(.+)_\\d+\\.';
  return groups === 1 ? '' : `must have exactly one group in parentheses (the identity), it has ${groups}; make the others non-capturing with (?:…)`;
}

/**
 * The side of the stored faces for a network input of `inputSize`: round(inputSize × 144/128),
 * a margin around the crop for random training crops (datasets/preprocess.ts storedSizeFor,
 * which the renderer cannot import: it is the trainer's).
 */
export function storedSizeFor(inputSize: number): number {
  return Math.round((inputSize * 144) / 128);
}

export type SourceChoice = { ok: true; source: DatasetSource } | { ok: false; reason: string };

export function sourceFromDraft(draft: SourceDraft, catalog: readonly CatalogInfo[]): SourceChoice {
  switch (draft.kind) {
    case 'folder':
    case 'archive':
    case 'path': {
      const regexProblem = draft.layout === 'folders' ? '' : identityRegexProblem(draft.identityRegex);
      if (regexProblem) return { ok: false, reason: `The identity regex ${regexProblem}.` };
      let path: { kind: 'typed'; path: string } | { kind: 'grant'; grant: string };
      if (draft.kind === 'path') {
        const typed = draft.typedPath.trim();
        if (!typed) return { ok: false, reason: 'Type the path of a folder or an archive on the trainer’s machine.' };
        path = { kind: 'typed', path: typed };
      } else {
        const grant = draft[draft.kind];
        if (!grant) return { ok: false, reason: draft.kind === 'folder' ? 'Choose a folder first.' : 'Choose an archive first.' };
        path = { kind: 'grant', grant: grant.grant };
      }
      const identityRegex = draft.layout !== 'folders' && draft.identityRegex !== '' ? draft.identityRegex : undefined;
      return { ok: true, source: { kind: 'path', path, layout: draft.layout, ...(identityRegex ? { identityRegex } : {}) } };
    }
    case 'synthetic': {
      const { identities, imagesPerIdentity } = draft;
      if (!(Number.isInteger(identities) && identities >= 2 && identities <= 1000)) return { ok: false, reason: 'Identities must be a whole number from 2 to 1000.' };
      if (!(Number.isInteger(imagesPerIdentity) && imagesPerIdentity >= 2 && imagesPerIdentity <= 200))
        return { ok: false, reason: 'Images per identity must be a whole number from 2 to 200.' };
      return { ok: true, source: { kind: 'synthetic', identities, imagesPerIdentity } };
    }
    case 'catalog': {
      const entry = catalog.find((c) => c.id === draft.catalogId);
      if (!entry) return { ok: false, reason: catalog.length === 0 ? 'This trainer’s catalog is empty.' : 'Choose a dataset from the catalog.' };
      if (!draft.acceptedTerms) return { ok: false, reason: `Read ${entry.name}’s terms and accept them to download it.` };
      return { ok: true, source: { kind: 'catalog', id: entry.id, acceptTerms: true } };
    }
  }
}

/**
 * The training-config settings that open an imported dataset as the import did (a run
 * re-opens `data` with the config's layout and identity rule, and finds the import's cache
 * only with the same ones). A catalog dataset is imported with the catalog's layout, which
 * the summary reports; its identities come from folders or from the default file-name rule.
 */
export function configForImport(source: DatasetSource, summary: DatasetSummary): { layout: Layout; identityRegex: string | undefined } {
  if (source.kind === 'path') return { layout: source.layout ?? 'auto', identityRegex: source.identityRegex };
  if (source.kind === 'catalog' && (summary.layout === 'folders' || summary.layout === 'flat')) return { layout: summary.layout, identityRegex: undefined };
  return { layout: 'auto', identityRegex: undefined };
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export const PHASE_TEXT: Record<string, string> = {
  downloading: 'Downloading',
  scanning: 'Scanning',
  decoding: 'Decoding faces',
  writing: 'Writing the cache',
  done: 'Done',
};

/** The desktop app's dataset dialog (window.lab.chooseDataset), or null where there is none (a browser). */
export function datasetDialog(win: Window): ((kind: 'folder' | 'archive') => Promise<Grant | null>) | null {
  const lab = win.lab as { chooseDataset?: (kind: 'folder' | 'archive') => Promise<Grant | null> } | undefined;
  const choose = lab?.chooseDataset;
  return typeof choose === 'function' ? (kind) => choose.call(lab, kind) : null;
}
