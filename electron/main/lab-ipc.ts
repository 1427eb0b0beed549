// What main does for each `window.lab` call, apart from Electron: who may call, argument
// checks, one dialog at a time, grants to the running trainer. index.ts registers these
// handlers with ipcMain and passes the Electron pieces in, so this is tested under Node.
import type { OpenDialogOptions, OpenDialogReturnValue, SaveDialogOptions, SaveDialogReturnValue } from 'electron';
import { z } from 'zod';
import { INTERCHANGE_FORMATS } from '#protocol/workbench';
import type { FileChoice } from '../preload/api';
import { CHANNELS } from '../preload/channels';
import { checkpointDialogOptions, datasetDialogOptions, exportDialogOptions, exportFolderDialogOptions, openedPath, pairsDialogOptions, savedPath } from './dialogs';
import { grantFor, type GrantMessage, type GrantPurpose } from './grants';
import { datasetKindSchema, parseArgs, senderAllowed, suggestedNameSchema } from './ipc-validation';
import type { AppLocation } from './policy';

/** The part of an IpcMainEvent / IpcMainInvokeEvent the checks use. */
/** What a run is exported for (chooseExportFolder's argument: the dialog's title says it). */
const exportFormatSchema = z.enum(INTERCHANGE_FORMATS, { error: "the export format is 'pytorch', 'onnx' or 'torchrun'" });

export interface IpcEventLike<Sender> {
  readonly sender: Sender;
  /** Null when the frame navigated away or was destroyed before the message was handled. */
  readonly senderFrame: { readonly url: string; readonly parent: unknown } | null;
}

export interface LabIpcDeps<Sender, Window> {
  readonly location: AppLocation;
  /** The app window showing these web contents; null for any other web contents. */
  windowOf(sender: Sender): Window | null;
  showOpenDialog(window: Window, options: OpenDialogOptions): Promise<OpenDialogReturnValue>;
  showSaveDialog(window: Window, options: SaveDialogOptions): Promise<SaveDialogReturnValue>;
  /** Where the save and export-folder dialogs start (the user's documents folder). */
  exportFolder(): string;
  readonly trainer: {
    readonly running: boolean;
    connect(sender: Sender): void;
    grant(message: GrantMessage): boolean;
    restart(): void;
  };
  /** Reports a refused message (main's log): a sign of a bug, or of a compromised page. */
  refused?(channel: string, reason: string): void;
  /** Randomness for grant ids (tests). */
  random?: (size: number) => Buffer;
}

export interface LabIpcHandlers<Sender> {
  connect(event: IpcEventLike<Sender>, ...args: unknown[]): void;
  chooseDataset(event: IpcEventLike<Sender>, ...args: unknown[]): Promise<FileChoice | null>;
  choosePairsFile(event: IpcEventLike<Sender>, ...args: unknown[]): Promise<FileChoice | null>;
  chooseExportPath(event: IpcEventLike<Sender>, ...args: unknown[]): Promise<FileChoice | null>;
  chooseCheckpoint(event: IpcEventLike<Sender>, ...args: unknown[]): Promise<FileChoice | null>;
  chooseExportFolder(event: IpcEventLike<Sender>, ...args: unknown[]): Promise<FileChoice | null>;
  restartTrainer(event: IpcEventLike<Sender>, ...args: unknown[]): Promise<void>;
}

export function createLabIpc<Sender, Window extends object>(deps: LabIpcDeps<Sender, Window>): LabIpcHandlers<Sender> {
  // A window with a dialog open gets no second one (a double click would stack two modals).
  const dialogOpen = new WeakSet<Window>();

  /** The calling window, when the call comes from our page in our window's main frame. */
  function callerWindow(channel: string, event: IpcEventLike<Sender>): Window | null {
    const window = deps.windowOf(event.sender);
    const frame = event.senderFrame;
    const facts = { isOurWindow: window !== null, frameUrl: frame?.url ?? null, isMainFrame: frame !== null && frame.parent === null };
    if (window !== null && senderAllowed(facts, deps.location)) return window;
    deps.refused?.(channel, window === null ? 'not sent by an app window' : `sent by ${facts.isMainFrame ? 'a page' : 'a subframe'} at ${facts.frameUrl ?? '(gone)'}`);
    return null;
  }

  function trusted(channel: string, event: IpcEventLike<Sender>): Window {
    const window = callerWindow(channel, event);
    if (window === null) throw new Error(`${channel}: refused: only the app's own page may ask for this`);
    return window;
  }

  async function choose(window: Window, purpose: GrantPurpose, ask: () => Promise<string | null>): Promise<FileChoice | null> {
    // Grants live in the trainer process: without one running, a choice would lead nowhere.
    if (!deps.trainer.running) throw new Error('The trainer is not running: restart it, then choose again');
    if (dialogOpen.has(window)) throw new Error('A file dialog is already open');
    dialogOpen.add(window);
    let path: string | null;
    try {
      path = await ask();
    } finally {
      dialogOpen.delete(window);
    }
    if (path === null) return null;
    const { message, choice } = grantFor(path, purpose, deps.random);
    if (!deps.trainer.grant(message)) throw new Error('The trainer stopped while the dialog was open: restart it, then choose again');
    return choice;
  }

  return {
    connect(event, ...args) {
      // A send has no reply to carry an error: a refused or malformed one is only logged.
      if (callerWindow(CHANNELS.connect, event) === null) return;
      if (args.length !== 0) {
        deps.refused?.(CHANNELS.connect, `takes no arguments, got ${args.length}`);
        return;
      }
      deps.trainer.connect(event.sender);
    },

    async chooseDataset(event, ...args) {
      const window = trusted(CHANNELS.chooseDataset, event);
      const [kind] = parseArgs(CHANNELS.chooseDataset, args, [datasetKindSchema]);
      return choose(window, 'read', async () => openedPath(await deps.showOpenDialog(window, datasetDialogOptions(kind))));
    },

    async choosePairsFile(event, ...args) {
      const window = trusted(CHANNELS.choosePairsFile, event);
      parseArgs(CHANNELS.choosePairsFile, args, []);
      return choose(window, 'read', async () => openedPath(await deps.showOpenDialog(window, pairsDialogOptions())));
    },

    async chooseExportPath(event, ...args) {
      const window = trusted(CHANNELS.chooseExportPath, event);
      const [suggestedName] = parseArgs(CHANNELS.chooseExportPath, args, [suggestedNameSchema]);
      return choose(window, 'write', async () => savedPath(await deps.showSaveDialog(window, exportDialogOptions(suggestedName, deps.exportFolder()))));
    },

    async chooseCheckpoint(event, ...args) {
      const window = trusted(CHANNELS.chooseCheckpoint, event);
      parseArgs(CHANNELS.chooseCheckpoint, args, []);
      return choose(window, 'read', async () => openedPath(await deps.showOpenDialog(window, checkpointDialogOptions())));
    },

    async chooseExportFolder(event, ...args) {
      const window = trusted(CHANNELS.chooseExportFolder, event);
      const [format] = parseArgs(CHANNELS.chooseExportFolder, args, [exportFormatSchema]);
      return choose(window, 'write', async () => openedPath(await deps.showOpenDialog(window, exportFolderDialogOptions(format, deps.exportFolder()))));
    },

    async restartTrainer(event, ...args) {
      trusted(CHANNELS.restartTrainer, event);
      parseArgs(CHANNELS.restartTrainer, args, []);
      deps.trainer.restart();
    },
  };
}
