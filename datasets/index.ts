// The datasets module's public face: everything else imports from here.
import { importDataset, type ImportOptions } from './import';
import { openSyntheticDataset, SYNTHETIC_SOURCE, type OpenSyntheticOptions } from './synthetic-dataset';
import type { FaceDataset } from './face-dataset';

export { DatasetError, type SkippedFile } from './errors';
export { FaceDataset, type FaceImage, type ImportReport } from './face-dataset';
export { importDataset, type ImportOptions, type ImportProgress } from './import';
export { openSyntheticDataset, SYNTHETIC_SOURCE } from './synthetic-dataset';
export { labDataDir } from './data-dir';
export { contactSheetPng } from './contact-sheet';
export type { IdentityRule, LayoutKind } from './layout';

/** A path, an archive, or `synthetic:` (optionally `synthetic:IDxIMAGES`, e.g. `synthetic:20x12`). */
export async function openDataset(spec: string, options: ImportOptions & OpenSyntheticOptions = {}): Promise<FaceDataset> {
  if (spec === 'synthetic' || spec.startsWith(SYNTHETIC_SOURCE)) {
    const match = /^synthetic:?(\d+)?(?:x(\d+))?$/.exec(spec);
    const identities = match?.[1] === undefined ? options.identities : Number(match[1]);
    const imagesPerIdentity = match?.[2] === undefined ? options.imagesPerIdentity : Number(match[2]);
    return openSyntheticDataset({ ...options, identities, imagesPerIdentity });
  }
  return importDataset(spec, options);
}
