// labInfo, describeModel, importDataset, datasetFaces. (Being built.)
import type { CommandOf } from '../../protocol/messages';
import type { WorkbenchContext } from './context';
import { CommandError, type WorkbenchResult } from './types';

const todo = (name: string) => new CommandError(`${name} is not built yet`, 'unavailable');

export async function labInfo(_context: WorkbenchContext): Promise<WorkbenchResult['labInfo']> {
  throw todo('labInfo');
}
export async function describeModel(_command: CommandOf<'describeModel'>, _context: WorkbenchContext): Promise<WorkbenchResult['describeModel']> {
  throw todo('describeModel');
}
export async function importDatasetCommand(_command: CommandOf<'importDataset'>, _context: WorkbenchContext): Promise<WorkbenchResult['importDataset']> {
  throw todo('importDataset');
}
export async function datasetFaces(_command: CommandOf<'datasetFaces'>, _context: WorkbenchContext): Promise<WorkbenchResult['datasetFaces']> {
  throw todo('datasetFaces');
}
