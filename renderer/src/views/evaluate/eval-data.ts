// Which dataset the Evaluate view scores a run on: the run's own training dataset, or another
// one (LFW's protocol: a model trained on other data) given as a folder or an archive, with
// the Data view's rules for paths and identity regexes (data/source.ts). An imported run has no
// dataset of its own, so it is evaluated only on another one. Kept apart from the components so
// the rules read in one place.
import type { EvaluationDataSource, EvaluationOverlap } from '#protocol/workbench';
import type { RunRecordView } from '../../lib/run-records';
import { emptyDraft, sourceFromDraft, type SourceDraft } from '../data/source';

export type DataChoice = 'own' | 'other';

/** Where this window's paths come from: the app's dialogs, typed (serve mode), or nowhere. */
export type DataPathMode = 'dialog' | 'typed' | 'none';

/** A fresh form for another dataset: a folder from the dialog in the app, a typed path in serve mode. */
export function emptyDataDraft(mode: DataPathMode): SourceDraft {
  return emptyDraft(mode !== 'dialog', []);
}

/** The path kinds the form offers here (none where no path can be given). */
export function dataKinds(mode: DataPathMode): { kind: 'folder' | 'archive' | 'path'; title: string }[] {
  if (mode === 'dialog') {
    return [
      { kind: 'folder', title: 'Folder' },
      { kind: 'archive', title: 'Archive' },
    ];
  }
  return mode === 'typed' ? [{ kind: 'path', title: 'Folder or archive' }] : [];
}

export type DataRequest = { ok: true; data: EvaluationDataSource | undefined } | { ok: false; reason: string };

/** The evaluateRun command's `data` for the choice made, or why the Evaluate button cannot send it yet. */
export function dataRequest(choice: DataChoice, draft: SourceDraft, mode: DataPathMode, importedFile: string | null): DataRequest {
  if (choice === 'own') {
    if (importedFile !== null) return { ok: false, reason: importedNeedsData(importedFile) };
    return { ok: true, data: undefined };
  }
  if (mode === 'none') return { ok: false, reason: 'This window cannot name a dataset (no file dialog, and typed paths are for serve mode): evaluate in the desktop app or in lab serve.' };
  if (!dataKinds(mode).some((k) => k.kind === draft.kind)) return { ok: false, reason: 'Choose a folder or an archive of faces first.' };
  const chosen = sourceFromDraft(draft, []);
  if (!chosen.ok) return chosen;
  if (chosen.source.kind !== 'path') return { ok: false, reason: 'Choose a folder or an archive of faces first.' };
  return { ok: true, data: chosen.source };
}

/** The checkpoint file an imported run came from, or null for a run the lab trained. */
export function importedFile(record: RunRecordView | undefined): string | null {
  const origin = record?.origin;
  return origin?.kind === 'imported' ? origin.file : null;
}

/** What the view says about an imported run, before anything is sent. */
export function importedNeedsData(file: string): string {
  return `This run was imported from ${file}: it has no training dataset of its own. Choose another dataset to evaluate it on (and a pairs file of its people).`;
}

/** Whether the overlap makes the figure not comparable with published ones. */
export function overlapWarns(overlap: EvaluationOverlap): boolean {
  return overlap.checked && (overlap.identities > 0 || overlap.images > 0);
}

/** The overlap in words, for the results, with its note (why it was not checked, or what changed). */
export function overlapText(overlap: EvaluationOverlap): string {
  const note = overlap.note === undefined ? '' : overlap.note.replace(/^overlap not checked: /, '');
  if (!overlap.checked) return `Overlap with the run’s training data not checked${note === '' ? '.' : `: ${note}.`}`;
  const ids = overlap.idNamesNotCompared
    ? `${overlap.idNamesNotCompared} of the pairs’ identities are named by IDs, which mean nothing across datasets, so only their images were compared`
    : '';
  const after = [note, ids].filter((t) => t !== '').map((t) => ` (${t})`).join('');
  if (!overlapWarns(overlap)) return `The pairs share no identity of the same name and no image with the run’s training data${after}.`;
  const more = overlap.identities - overlap.identityNames.length;
  const names = overlap.identityNames.join(', ') + (more > 0 ? `, and ${more} more` : '');
  const who = overlap.identities === 0 ? 'no identity' : `${overlap.identities} ${overlap.identities === 1 ? 'identity' : 'identities'} (${names})`;
  return `The pairs share ${who} and ${overlap.images} ${overlap.images === 1 ? 'image' : 'images'} with the run’s training data${after}: this figure is not comparable with published ones, which are measured on people the model never saw.`;
}
