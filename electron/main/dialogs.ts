// The native dialogs' options and answers, as plain data (the Electron call is in lab-ipc.ts's
// caller). Filters are a convenience: the trainer checks what it is given anyway.
import type { OpenDialogOptions, OpenDialogReturnValue, SaveDialogOptions, SaveDialogReturnValue } from 'electron';
import { isAbsolute, join } from 'node:path';
import type { InterchangeFormat } from '#protocol/workbench';
import type { DatasetKind } from '../preload/api';

export function datasetDialogOptions(kind: DatasetKind): OpenDialogOptions {
  if (kind === 'folder') {
    return { title: 'Open a folder of face images', buttonLabel: 'Open dataset', properties: ['openDirectory', 'dontAddToRecent'] };
  }
  return {
    title: 'Open a dataset archive',
    buttonLabel: 'Open dataset',
    properties: ['openFile', 'dontAddToRecent'],
    // Extensions are matched on the last dot: 'gz' is how .tar.gz is offered on every platform.
    filters: [{ name: 'Archives (.zip, .tar, .tar.gz, .tgz)', extensions: ['zip', 'tar', 'gz', 'tgz'] }],
  };
}

export function pairsDialogOptions(): OpenDialogOptions {
  return {
    title: 'Open a pairs file',
    buttonLabel: 'Open pairs',
    properties: ['openFile', 'dontAddToRecent'],
    filters: [
      { name: 'Pairs lists (.txt)', extensions: ['txt'] },
      { name: 'All files', extensions: ['*'] },
    ],
  };
}

export function checkpointDialogOptions(): OpenDialogOptions {
  return {
    title: 'Import a PyTorch checkpoint',
    buttonLabel: 'Import',
    properties: ['openFile', 'dontAddToRecent'],
    filters: [
      // Matched on the last dot: 'tar' offers the published .pth.tar files.
      { name: 'PyTorch checkpoints (.pth, .pt, .tar, .pth.tar, .bin, .ckpt)', extensions: ['pth', 'pt', 'tar', 'bin', 'ckpt'] },
      { name: 'All files', extensions: ['*'] },
    ],
  };
}

/** What each export format writes, for the folder dialog's title. */
const EXPORT_FOLDER_TITLES: Record<InterchangeFormat, string> = {
  pytorch: 'Choose a folder for the PyTorch files (model.pt, model.py)',
  onnx: 'Choose a folder for the ONNX model',
  torchrun: 'Choose a folder for the torchrun experiment',
};

/** A folder to export a run's network into (a new one can be made in the dialog); it starts in `folder`. */
export function exportFolderDialogOptions(format: InterchangeFormat, folder: string): OpenDialogOptions {
  return {
    title: EXPORT_FOLDER_TITLES[format],
    buttonLabel: 'Export here',
    defaultPath: folder,
    properties: ['openDirectory', 'createDirectory', 'promptToCreate', 'dontAddToRecent'],
  };
}

/** The file name to pre-fill: the suggestion, ending in .tar.gz. */
export function exportFileName(suggestedName: string): string {
  return /\.(tar\.gz|tgz)$/i.test(suggestedName) ? suggestedName : `${suggestedName}.tar.gz`;
}

export function exportDialogOptions(suggestedName: string, folder: string): SaveDialogOptions {
  return {
    title: 'Export',
    buttonLabel: 'Export',
    defaultPath: join(folder, exportFileName(suggestedName)),
    filters: [{ name: 'Gzipped tar (.tar.gz)', extensions: ['gz'] }],
    properties: ['createDirectory', 'showOverwriteConfirmation', 'dontAddToRecent'],
  };
}

/** The path an open dialog answered, or null when cancelled. */
export function openedPath(result: OpenDialogReturnValue): string | null {
  const path = result.canceled ? undefined : result.filePaths[0];
  return path !== undefined && path !== '' && isAbsolute(path) ? path : null;
}

/**
 * The path a save dialog answered, or null when cancelled. Taken as the user typed it: the
 * dialog pre-fills a .tar.gz name, and adding an extension here would write a file whose
 * overwrite the dialog never confirmed.
 */
export function savedPath(result: SaveDialogReturnValue): string | null {
  const path = result.canceled ? '' : result.filePath;
  return path !== '' && isAbsolute(path) ? path : null;
}
