// How a file's place in a dataset says whose face it is. Two layouts exist in the
// wild: one folder per identity (LFW, CASIA-WebFace, VGGFace2, ORL) and one flat
// folder with the identity in the file name (Yale: `subject07.happy`).

export type LayoutKind = 'folders' | 'flat';

/** For flat layouts: how the identity is read from a file name. */
export type IdentityRule =
  | { readonly kind: 'before-first-dot' }
  | { readonly kind: 'regex'; readonly pattern: string };

export const DEFAULT_IDENTITY_RULE: IdentityRule = { kind: 'before-first-dot' };

const SYSTEM_FILES = new Set(['thumbs.db', 'desktop.ini', 'ehthumbs.db', '__macosx', '$recycle.bin', 'system volume information']);

/** Dot files (.DS_Store, ._AppleDouble) and the files Windows and macOS leave behind. */
export function isHiddenOrSystem(name: string): boolean {
  return name.startsWith('.') || SYSTEM_FILES.has(name.toLowerCase());
}

/** The single folder that wraps everything (`orl_faces/` in an archive), or '' when there is none. */
export function commonWrapper(relPaths: readonly string[]): string {
  if (relPaths.length === 0) return '';
  let wrapper = '';
  for (;;) {
    const prefix = wrapper === '' ? '' : `${wrapper}/`;
    let next: string | undefined;
    for (const path of relPaths) {
      const rest = path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) return wrapper; // a file at this level: stop here
      const head = rest.slice(0, slash);
      if (next === undefined) next = head;
      else if (next !== head) return wrapper;
    }
    if (next === undefined) return wrapper;
    wrapper = prefix + next;
  }
}

/** Folders when most files sit below a first-level folder, flat otherwise. */
export function detectLayout(relPaths: readonly string[]): LayoutKind {
  let nested = 0;
  for (const path of relPaths) if (path.includes('/')) nested++;
  return nested > relPaths.length - nested ? 'folders' : 'flat';
}

/**
 * The wrapper folder to look through and the layout, for 'auto'. A flat reading in
 * which most files would be a person of their own is really one identity folder
 * (the user chose a folder with a single person in it): then the wrapper's last
 * folder is read as that identity, so the user hears "only one identity".
 */
export function chooseLayout(
  relPaths: readonly string[],
  choice: LayoutKind | 'auto',
  identityOf: (fileName: string) => string | null,
): { wrapper: string; layout: LayoutKind } {
  const wrapper = commonWrapper(relPaths);
  const stripped = wrapper === '' ? relPaths : relPaths.map((path) => path.slice(wrapper.length + 1));
  const layout = choice === 'auto' ? detectLayout(stripped) : choice;
  if (choice !== 'auto' || layout === 'folders' || wrapper === '') return { wrapper, layout };
  const perIdentity = new Map<string, number>();
  for (const path of stripped) {
    const identity = identityOf(path.slice(path.lastIndexOf('/') + 1));
    if (identity !== null) perIdentity.set(identity, (perIdentity.get(identity) ?? 0) + 1);
  }
  const singletons = [...perIdentity.values()].filter((n) => n === 1).length;
  if (singletons * 2 <= stripped.length) return { wrapper, layout };
  const slash = wrapper.lastIndexOf('/');
  return { wrapper: slash < 0 ? '' : wrapper.slice(0, slash), layout: 'folders' };
}

export function compileIdentityRule(rule: IdentityRule): (fileName: string) => string | null {
  if (rule.kind === 'before-first-dot') {
    return (name) => {
      const dot = name.indexOf('.');
      const identity = dot < 0 ? name : name.slice(0, dot);
      return identity === '' ? null : identity;
    };
  }
  const regex = new RegExp(rule.pattern, 'u');
  return (name) => {
    const match = regex.exec(name);
    const identity = match?.[1];
    return identity === undefined || identity === '' ? null : identity;
  };
}

/** Checks a user-given pattern; returns the problem in words, or null when it is usable. */
export function checkIdentityPattern(pattern: string): string | null {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch (error) {
    return `"${pattern}" is not a valid regular expression (${(error as Error).message})`;
  }
  // Count capture groups by matching the empty alternative.
  const groups = (new RegExp(`${regex.source}|`, 'u').exec('')?.length ?? 1) - 1;
  if (groups !== 1) return `"${pattern}" must have exactly one capture group (the identity), it has ${groups}`;
  return null;
}

export function describeIdentityRule(layout: LayoutKind, rule: IdentityRule): string {
  if (layout === 'folders') return 'identity = the name of the folder directly under the dataset root';
  return rule.kind === 'before-first-dot'
    ? "identity = the file name's text before the first '.'"
    : `identity = the first capture group of /${rule.pattern}/ on the file name`;
}

export type Placement = { readonly identity: string } | { readonly skip: string };

/** Whose face a file is, given its path relative to the dataset root (wrapper already removed). */
export function placeFile(relPath: string, layout: LayoutKind, identityOf: (fileName: string) => string | null): Placement {
  const slash = relPath.indexOf('/');
  if (layout === 'folders') {
    if (slash < 0) return { skip: 'not inside an identity folder (this dataset has one folder per identity)' };
    return { identity: relPath.slice(0, slash) };
  }
  const fileName = relPath.slice(relPath.lastIndexOf('/') + 1);
  const identity = identityOf(fileName);
  return identity === null ? { skip: 'the identity rule finds no identity in this file name' } : { identity };
}

/** Natural order, so that `2.pgm` comes before `10.pgm` (image numbers as LFW's pairs.txt counts them). */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0); // ties broken so the order is total
}
