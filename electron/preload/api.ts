// The typed surface the preload exposes as `window.lab`. Both ends import it.
import type { InterchangeFormat } from '#protocol/workbench';
import { CHANNELS } from './channels';

/**
 * What a file dialog answers with. The page never names a path: `grant` names it in
 * workbench commands (`{kind: 'grant', grant}`, protocol/workbench.ts)
 * and `label` (the chosen file or folder's base name) is for display only. A grant is
 * valid for the trainer process that was running when it was chosen: after a trainer
 * restart the user chooses again. (The page may still *see* paths, in run records and import
 * summaries; what it cannot do is make the trainer read or write anywhere the user did not
 * choose, and it cannot send anything out: no remote requests, and links leave the app only
 * after the user agrees.)
 */
export interface FileChoice {
  /** 32 hex digits. */
  readonly grant: string;
  /** The base name of the chosen file or folder. */
  readonly label: string;
}

export type DatasetKind = 'folder' | 'archive';

/** What a run's network is exported for: 'pytorch', 'onnx' or 'torchrun'. */
export type ExportFolderFormat = InterchangeFormat;

export interface LabApi {
  /** The versions of the runtime the app runs on, for the About line. */
  readonly versions: { readonly electron: string; readonly chrome: string; readonly node: string };
  /**
   * Asks main for a MessagePort to the trainer. It arrives as a window message
   * `{type: 'lab:port'}` carrying the port (contextBridge cannot pass ports), which
   * protocol/client/lab-client.ts `connectInElectron` waits for.
   */
  connectTrainer(): void;
  /**
   * Called when the trainer process exits (a crash: `code` != 0), with its last error
   * output. Returns a function that removes the listener.
   */
  onTrainerExit(listener: (info: { code: number; lastError: string; pid: number | null }) => void): () => void;
  /**
   * A native dialog to open a dataset: a folder of images, or an archive (.zip, .tar,
   * .tar.gz, .tgz). Null when the user cancels. Rejects when the trainer is not running
   * (restart it first) or another dialog of this window is open.
   */
  chooseDataset(kind: DatasetKind): Promise<FileChoice | null>;
  /** A native dialog to open a pairs file (LFW pairs.txt format). Null when cancelled. */
  choosePairsFile(): Promise<FileChoice | null>;
  /**
   * A native save dialog for an export; `suggestedName` is a plain file name (letters,
   * digits, spaces and `._-+()`, at most 220 characters: any run id with `.tar.gz` fits),
   * `.tar.gz` is added when missing. Rejects a bad name. The grant is for writing.
   */
  chooseExportPath(suggestedName: string): Promise<FileChoice | null>;
  /**
   * A native dialog to open a PyTorch checkpoint (.pth, .pt, .tar, .pth.tar, .bin, .ckpt, or
   * any file). Null when cancelled. The grant is for reading.
   */
  chooseCheckpoint(): Promise<FileChoice | null>;
  /**
   * A native folder dialog (a new folder can be made in it) to export a run's network into,
   * for `format` ('pytorch', 'onnx' or 'torchrun': the dialog's title says which). Null when
   * cancelled; rejects another format. The grant is for writing.
   */
  chooseExportFolder(format: ExportFolderFormat): Promise<FileChoice | null>;
  /** Starts the trainer again after it exited; then call connectTrainer again. No-op while it runs. */
  restartTrainer(): Promise<void>;
}

/** The window message that carries the trainer's port into the page. */
export const LAB_PORT_MESSAGE = CHANNELS.port;
