// Whose face is each examined file, decided once every path is known (the wrapper
// folder and the layout depend on all of them), and whether what came out can be
// trained on at all: faces of at least two people.
import type { CachedImage } from './cache-file';
import { DatasetError, type SkippedFile } from './errors';
import type { FacePixels, Outcome } from './import-examine';
import { chooseLayout, compileIdentityRule, describeIdentityRule, naturalCompare, placeFile, type IdentityRule, type LayoutKind } from './layout';

export interface PlacedFace {
  readonly image: CachedImage;
  readonly pixels: FacePixels;
}

export interface Placement {
  /** The folder that wraps everything ('' for none); paths below it decide the identities. */
  readonly wrapper: string;
  readonly layout: LayoutKind;
  /** By identity, then path, in natural order. */
  readonly placed: PlacedFace[];
  /** Every file left out: `skipped` given, then the rejected files, then the faces no identity was found for; by path. */
  readonly skipped: SkippedFile[];
}

export function placeFaces(
  outcomes: ReadonlyMap<string, Outcome>,
  skippedBefore: readonly SkippedFile[],
  how: { readonly layoutChoice: LayoutKind | 'auto'; readonly identityRule: IdentityRule },
): Placement {
  const skipped = [...skippedBefore];
  const faces = [...outcomes.entries()].filter((entry): entry is [string, Extract<Outcome, { kind: 'face' }>] => entry[1].kind === 'face');
  for (const [, outcome] of outcomes) if (outcome.kind === 'rejected') skipped.push({ path: outcome.rejection.path, reason: outcome.rejection.reason });
  const identityOf = compileIdentityRule(how.identityRule);
  const { wrapper, layout } = chooseLayout(faces.map(([relPath]) => relPath), how.layoutChoice, identityOf);
  const strip = (relPath: string): string => (wrapper === '' ? relPath : relPath.slice(wrapper.length + 1));
  const placed: PlacedFace[] = [];
  for (const [relPath, outcome] of faces) {
    const placement = placeFile(strip(relPath), layout, identityOf);
    if ('skip' in placement) skipped.push({ path: relPath, reason: placement.skip });
    else placed.push({ image: { ...outcome.image, identity: placement.identity }, pixels: outcome.pixels });
  }
  placed.sort((a, b) => naturalCompare(a.image.identity, b.image.identity) || naturalCompare(a.image.relPath, b.image.relPath));
  skipped.sort((a, b) => naturalCompare(a.path, b.path));
  return { wrapper, layout, placed, skipped };
}

/** Stops with a DatasetError, saying what was found and the way out, unless the faces belong to at least two people. */
export function checkUsable(
  source: string,
  identityOfImage: readonly string[],
  skipped: readonly SkippedFile[],
  how: { layoutChoice: LayoutKind | 'auto'; layout: LayoutKind; rule: IdentityRule },
): void {
  const { layout, rule } = how;
  if (identityOfImage.length === 0) {
    const reasons = new Map<string, number>();
    for (const s of skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    const summary = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([reason, n]) => `${n} x ${reason}`).join('; ');
    throw new DatasetError(
      skipped.length === 0 ? 'The folder holds no files at all' : `No usable face image was found (${skipped.length} files left out: ${summary})`,
      'Choose a folder of JPEG, PNG, WebP, GIF, TIFF or PGM images: one folder per person, or one flat folder with the person in the file name',
      source,
    );
  }
  const perIdentity = new Map<string, number>();
  for (const identity of identityOfImage) perIdentity.set(identity, (perIdentity.get(identity) ?? 0) + 1);
  if (perIdentity.size < 2) {
    const only = [...perIdentity.keys()][0] ?? '';
    throw new DatasetError(
      `Only one identity ("${only}") was found; telling faces apart needs at least 2 people`,
      layout === 'flat'
        ? `Check the identity rule (${describeIdentityRule(layout, rule)}) or add images of other people`
        : 'Add a folder for each other person, or choose the folder one level up',
      source,
    );
  }
  // A flat folder that the default rule cuts into one person per file is, most
  // likely, one person's folder (`lfw/Aaron_Eckhart/`). A rule or a layout the
  // user chose is trusted.
  if (how.layoutChoice === 'auto' && layout === 'flat' && rule.kind === 'before-first-dot') {
    const singletons = [...perIdentity.values()].filter((n) => n === 1).length;
    if (singletons * 2 > perIdentity.size) {
      throw new DatasetError(
        `Each file became its own identity (${singletons} of ${perIdentity.size} identities have a single image, by the rule "${describeIdentityRule(layout, rule)}"), which usually means this is the folder of one person`,
        'Choose the folder above it, which holds one folder per person; or, if each file name really does name a person, use --layout flat with an --identity-regex that takes the person from the name',
        source,
      );
    }
  }
}
