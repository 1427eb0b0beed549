// What the workbench commands (data, models, evaluation, export, replay) get from the host.
import type { BackendName, RemoteWebGpu } from '../../../../models/backend';
import type { PathRef, WorkbenchEventSchema } from './types';

export interface WorkbenchContext {
  readonly dataDir: string;
  readonly backend?: BackendName;
  /** The desktop app's GPU host: webgpu there is Chromium's, not Dawn's. */
  readonly gpuHost?: RemoteWebGpu;
  /** How this viewer may name files: only through grants (the desktop app), or typed too (serve mode). */
  readonly pathInput: 'dialog' | 'typed';
  /** The id of the request being answered (progress events carry it). */
  readonly requestId: number;
  /** Sends a workbench event (importProgress, evaluateProgress) to the viewer that made the request. */
  emit(event: WorkbenchEventSchema): void;
  /** Turns a PathRef into a real path, or throws a CommandError saying why it is refused. */
  resolvePath(ref: PathRef, purpose: 'read' | 'write'): string;
  /** Records a dataset this trainer opened, so a dialog-only viewer may train on it. */
  rememberDataset(data: string): void;
  /** Whether this viewer may name `data` (a desktop window: synthetic, or opened through its dialogs here). */
  mayUseDataset(data: string): boolean;
  /** Whether a run is training right now (some commands refuse, or go slower, meanwhile). */
  readonly training: boolean;
}
