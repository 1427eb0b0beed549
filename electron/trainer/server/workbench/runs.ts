// evaluateRun, getEvaluation, exportRun, listSnapshots, loadSnapshot. (Being built.)
import type { CommandOf } from '../../protocol/messages';
import type { WorkbenchContext } from './context';
import { CommandError, type WorkbenchResult } from './types';

const todo = (name: string) => new CommandError(`${name} is not built yet`, 'unavailable');

export async function evaluateRunCommand(_command: CommandOf<'evaluateRun'>, _context: WorkbenchContext): Promise<WorkbenchResult['evaluateRun']> {
  throw todo('evaluateRun');
}
export async function getEvaluation(_command: CommandOf<'getEvaluation'>, _context: WorkbenchContext): Promise<WorkbenchResult['getEvaluation']> {
  throw todo('getEvaluation');
}
export async function exportRun(_command: CommandOf<'exportRun'>, _context: WorkbenchContext): Promise<WorkbenchResult['exportRun']> {
  throw todo('exportRun');
}
export async function listSnapshots(_command: CommandOf<'listSnapshots'>, _context: WorkbenchContext): Promise<WorkbenchResult['listSnapshots']> {
  throw todo('listSnapshots');
}
export async function loadSnapshot(_command: CommandOf<'loadSnapshot'>, _context: WorkbenchContext): Promise<WorkbenchResult['loadSnapshot']> {
  throw todo('loadSnapshot');
}
