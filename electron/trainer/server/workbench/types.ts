// Protocol types the workbench commands use, in one place.
import type { z } from 'zod';
import type { CommandOf } from '#protocol/messages';
import type { ConfigIssue } from '#protocol/train-config';
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
    /** A refused training config's problems by field (sent with the reply). */
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
  }
}
