// Protocol types the workbench commands use, in one place.
import type { z } from 'zod';
import type { CommandOf } from '#protocol/messages';
import { workbenchEventSchemas, type PathRef, type WorkbenchResult } from '#protocol/workbench';

export type { PathRef, WorkbenchResult };
export type WorkbenchCommandName = keyof WorkbenchResult;
export type WorkbenchCommand = CommandOf<WorkbenchCommandName>;
export type WorkbenchEventSchema = z.infer<(typeof workbenchEventSchemas)[number]>;

/** A refusal the viewer can act on: `code` says what kind (bad-path, busy, no-run...). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}
