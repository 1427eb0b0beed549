// How the Runs and Evaluate views get a file path to the trainer (see protocol/workbench.ts
// "Paths"). In the desktop app main shows a native dialog and the window only ever sees a
// grant id and a label; in serve mode the person at the browser types the path.
import type { InterchangeFormat, PathRef } from '#protocol/workbench';
import type { LabSession } from '../../lib/session.svelte';

/** A path main granted after a native dialog: the id the trainer takes, and what to show. */
export interface Grant {
  grant: string;
  label: string;
}

/** The dialogs the preload offers (electron/preload/api.ts); optional until every build has them. */
interface DialogBridge {
  chooseExportPath?: (suggestedName: string) => Promise<Grant | null>;
  choosePairsFile?: () => Promise<Grant | null>;
  chooseCheckpoint?: () => Promise<Grant | null>;
  chooseExportFolder?: (format: InterchangeFormat) => Promise<Grant | null>;
}

function bridge(): DialogBridge | undefined {
  return typeof window === 'undefined' ? undefined : (window.lab as DialogBridge | undefined);
}

export type PathMode = 'dialog' | 'typed' | 'none';

/** One of the preload's dialogs, by name. */
export type DialogName = keyof DialogBridge;

/**
 * How this window names a file: a native dialog when the bridge has the one wanted, typed
 * when the trainer accepts typed paths (serve mode), otherwise not at all (a desktop build
 * without that dialog: said in the view rather than failing at the trainer).
 */
export function pathMode(session: LabSession, dialog: DialogName): PathMode {
  if (typeof bridge()?.[dialog] === 'function') return 'dialog';
  return session.info?.pathInput === 'typed' ? 'typed' : 'none';
}

export function chooseExportPath(suggestedName: string): Promise<Grant | null> {
  const lab = bridge();
  return lab?.chooseExportPath ? lab.chooseExportPath(suggestedName) : Promise.resolve(null);
}

export function choosePairsFile(): Promise<Grant | null> {
  const lab = bridge();
  return lab?.choosePairsFile ? lab.choosePairsFile() : Promise.resolve(null);
}

/** The desktop app's dialog for a PyTorch checkpoint (a read grant). */
export function chooseCheckpoint(): Promise<Grant | null> {
  const lab = bridge();
  return lab?.chooseCheckpoint ? lab.chooseCheckpoint() : Promise.resolve(null);
}

/** The desktop app's folder dialog for an export for PyTorch, ONNX or torchrun (a write grant). */
export function chooseExportFolder(format: InterchangeFormat): Promise<Grant | null> {
  const lab = bridge();
  return lab?.chooseExportFolder ? lab.chooseExportFolder(format) : Promise.resolve(null);
}

export function grantRef(grant: Grant): PathRef {
  return { kind: 'grant', grant: grant.grant };
}

export function typedRef(path: string): PathRef {
  return { kind: 'typed', path: path.trim() };
}
