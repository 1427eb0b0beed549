// The datasets module's public face: everything else imports from here.
import { importDataset, type ImportOptions } from './import';
import { isSyntheticSpec, openSyntheticDataset, parseSyntheticSpec, type OpenSyntheticOptions } from './synthetic-dataset';
import type { FaceDataset } from './face-dataset';

export { DatasetError, type SkippedFile } from './errors';
export { FaceDataset, type FaceImage, type ImportReport } from './face-dataset';
export { groupByReason, imageNotes, type ImageNotice, type ImageNotes, type ReasonGroup } from './report-notes';
export { importDataset, type ImportOptions, type ImportProgress } from './import';
export { openSyntheticDataset, parseSyntheticSpec, SYNTHETIC_LIMITS, SYNTHETIC_SOURCE } from './synthetic-dataset';
export { labDataDir } from './data-dir';
export { contactSheetPng } from './contact-sheet';
export type { IdentityRule, LayoutKind } from './layout';

/**
 * A path, an archive, or `synthetic` (optionally `synthetic:IDxIMAGES`, e.g.
 * `synthetic:20x12`; anything else after `synthetic:` is a DatasetError).
 */
export async function openDataset(spec: string, options: ImportOptions & OpenSyntheticOptions = {}): Promise<FaceDataset> {
  if (isSyntheticSpec(spec)) {
    const counts = parseSyntheticSpec(spec);
    return openSyntheticDataset({
      ...options,
      identities: counts.identities ?? options.identities,
      imagesPerIdentity: counts.imagesPerIdentity ?? options.imagesPerIdentity,
    });
  }
  return importDataset(spec, options);
}
