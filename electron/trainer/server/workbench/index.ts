// The workbench commands (protocol/workbench.ts) routed to the module that does each.
import type { WorkbenchContext } from './context';
import { datasetFaces, describeModel, importDatasetCommand, labInfo } from './data';
import { exportRunForCommand, importCheckpointCommand } from './interchange';
import { deleteRun, evaluateRunCommand, exportRun, getEvaluation, listSnapshots, loadSnapshot, renameRun, setRunNotes } from './runs';
import type { WorkbenchCommand, WorkbenchResult } from './types';

export type { WorkbenchContext } from './context';
export { CommandError } from './types';

export function isWorkbenchCommand(command: { name: string }): command is WorkbenchCommand {
  return WORKBENCH_NAMES.has(command.name);
}

const WORKBENCH_NAMES = new Set<string>(['labInfo', 'describeModel', 'importDataset', 'datasetFaces', 'evaluateRun', 'getEvaluation', 'exportRun', 'listSnapshots', 'loadSnapshot', 'renameRun', 'setRunNotes', 'deleteRun', 'importCheckpoint', 'exportRunFor'] satisfies (keyof WorkbenchResult)[]);

export async function runWorkbenchCommand(command: WorkbenchCommand, context: WorkbenchContext): Promise<WorkbenchResult[keyof WorkbenchResult]> {
  switch (command.name) {
    case 'labInfo':
      return labInfo(context);
    case 'describeModel':
      return describeModel(command, context);
    case 'importDataset':
      return importDatasetCommand(command, context);
    case 'datasetFaces':
      return datasetFaces(command, context);
    case 'evaluateRun':
      return evaluateRunCommand(command, context);
    case 'getEvaluation':
      return getEvaluation(command, context);
    case 'exportRun':
      return exportRun(command, context);
    case 'listSnapshots':
      return listSnapshots(command, context);
    case 'loadSnapshot':
      return loadSnapshot(command, context);
    case 'renameRun':
      return renameRun(command, context);
    case 'setRunNotes':
      return setRunNotes(command, context);
    case 'deleteRun':
      return deleteRun(command, context);
    case 'importCheckpoint':
      return importCheckpointCommand(command, context);
    case 'exportRunFor':
      return exportRunForCommand(command, context);
  }
}
