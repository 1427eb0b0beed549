// importProgress events for one importDataset request: every phase change at once, and
// within a phase at most one about every 250 ms, so a fast import of thousands of files
// does not flood every viewer with a message per file.
import type { WorkbenchContext } from './context';
import type { WorkbenchEventSchema } from './types';

export type ImportPhase = Extract<WorkbenchEventSchema, { type: 'importProgress' }>['phase'];

export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressReporter {
  report(phase: ImportPhase, done: number, total: number | null, detail?: string): void;
}

export function importProgressReporter(context: Pick<WorkbenchContext, 'emit' | 'requestId'>, now: () => number = () => performance.now()): ProgressReporter {
  let phase: ImportPhase | null = null;
  let sentAt = Number.NEGATIVE_INFINITY;
  /** The newest update held back by the throttle: sent before the next phase, so a phase is seen to finish (400/400). */
  let held: WorkbenchEventSchema | null = null;
  return {
    report(next, done, total, detail) {
      const event: WorkbenchEventSchema = { type: 'importProgress', requestId: context.requestId, phase: next, done, total, ...(detail === undefined ? {} : { detail }) };
      const t = now();
      if (next === phase && t - sentAt < PROGRESS_INTERVAL_MS) {
        held = event;
        return;
      }
      if (next !== phase && held !== null) context.emit(held);
      held = null;
      phase = next;
      sentAt = t;
      context.emit(event);
    },
  };
}
