// One path a Runs view form sends to the trainer (ExportFor: the folder to write into;
// ImportCheckpoint: the checkpoint file), as paths.ts says it is named here: chosen in the
// desktop app's native dialog (a grant), typed in serve mode, or neither. PathChooser.svelte
// shows it; the form asks it for what to send.
import type { PathRef } from '#protocol/workbench';
import type { LabSession } from '../../lib/session.svelte';
import { grantRef, pathMode, typedRef, type DialogName, type Grant, type PathMode } from './paths';

export class PathChoice {
  /** What the dialog chose (the desktop app). */
  grant = $state<Grant | null>(null);
  /** What was typed (serve mode). */
  typedPath = $state('');
  readonly #session: () => LabSession;
  readonly #dialog: DialogName;
  readonly #choose: () => Promise<Grant | null>;
  readonly #mode = $derived.by(() => pathMode(this.#session(), this.#dialog));

  /** `session`: the form's (a getter, read where the mode is); `dialog`: the preload's dialog this path is chosen in; `choose` shows it. */
  constructor(session: () => LabSession, dialog: DialogName, choose: () => Promise<Grant | null>) {
    this.#session = session;
    this.#dialog = dialog;
    this.#choose = choose;
  }

  get mode(): PathMode {
    return this.#mode;
  }

  /** What the trainer is sent: the grant, or the typed path; null while there is neither. */
  ref(): PathRef | null {
    if (this.#mode === 'dialog') return this.grant ? grantRef(this.grant) : null;
    return this.#mode === 'typed' && this.typedPath.trim() !== '' ? typedRef(this.typedPath) : null;
  }

  /** What the path is shown as: the grant's label, or the typed path's last part. */
  get label(): string {
    return this.#mode === 'dialog' ? (this.grant?.label ?? '') : (this.typedPath.trim().split(/[\\/]/).pop() ?? '');
  }

  /** Shows the dialog; what it chose replaces the grant. Its failure in words, or null. */
  async pick(): Promise<string | null> {
    try {
      const chosen = await this.#choose();
      if (chosen) this.grant = chosen;
      return null;
    } catch (e) {
      return `The dialog failed: ${(e as Error).message}`;
    }
  }

  clear(): void {
    this.grant = null;
    this.typedPath = '';
  }
}
