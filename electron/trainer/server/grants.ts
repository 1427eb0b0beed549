// Paths main handed over after the user answered a native dialog (DESIGN.md: a path
// comes only from a dialog). main sends {type: 'grant', grant, path, purpose} on the
// trainer's parent port (its shape: protocol/grants.ts); a window only ever holds the grant's id.
import { homedir } from 'node:os';
import { isAbsolute, join, sep } from 'node:path';
import type { GrantMessage, GrantPurpose } from '#protocol/grants';
import type { PathRef } from '#protocol/workbench';
import { CommandError } from './workbench/types';

/** Grants kept; the oldest are forgotten first (a window asks for a handful per session). */
const MAX_GRANTS = 256;

export class Grants {
  private readonly byId = new Map<string, { path: string; purpose: GrantPurpose }>();

  /**
   * Records a grant from main, whose shape the parent port's schema checked
   * (protocol/parent-port.ts); returns a reason when its path is not absolute on this platform.
   */
  add({ grant, path, purpose }: Omit<GrantMessage, 'type'>): string | null {
    if (!isAbsolute(path)) return 'path: a granted path must be absolute';
    this.byId.set(grant, { path, purpose });
    while (this.byId.size > MAX_GRANTS) this.byId.delete(this.byId.keys().next().value as string);
    return null;
  }

  /** The real path behind a reference, for a viewer whose paths come from dialogs ('dialog') or may be typed ('typed'). */
  resolve(ref: PathRef, purpose: GrantPurpose, pathInput: 'dialog' | 'typed'): string {
    if (ref.kind === 'typed') {
      if (pathInput !== 'typed') throw new CommandError('In the desktop app a file or folder is chosen in a dialog, not typed: use the Choose button', 'bad-path');
      return typedPath(ref.path, purpose);
    }
    const granted = this.byId.get(ref.grant);
    if (!granted) throw new CommandError('That file choice has expired (the trainer restarted since): choose the file or folder again', 'bad-path');
    if (granted.purpose !== purpose) throw new CommandError(`That file was chosen to ${granted.purpose === 'read' ? 'open' : 'save'}, not to ${purpose === 'read' ? 'open' : 'save'}: choose it again`, 'bad-path');
    return granted.path;
  }
}

/**
 * A path typed into a page (serve mode), as the user meant it: `~` and `~/...` are their home
 * folder (a shell would expand them; the page cannot), and a relative path is refused: it
 * would be read or written relative to whatever folder the trainer was started in (under
 * `npm run`, the project checkout), not to anything the user sees.
 */
export function typedPath(path: string, purpose: GrantPurpose, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/') || (sep === '\\' && path.startsWith('~\\'))) return join(home, path.slice(2));
  if (!isAbsolute(path)) {
    const start = sep === '/' ? '/ or ~/' : 'a drive letter or ~\\';
    const shown = path === '' ? 'an empty path' : `"${path}"`;
    throw new CommandError(
      `Type the whole path from ${start} (${shown} would be ${purpose === 'read' ? 'read' : 'written'} relative to the trainer's working folder, ${process.cwd()})`,
      'bad-path',
    );
  }
  return path;
}
