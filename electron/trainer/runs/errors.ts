// Errors a user can meet with their runs, and the one place a failed write becomes one.
import { writeError } from '../../../files/atomic-file';
import { FileError } from '../../../files/file-error';

/** What went wrong, for callers that act on it (fall back to an older checkpoint, say "disk full", "stop the other trainer"...). */
export type RunErrorKind = 'damaged' | 'missing' | 'disk-full' | 'unwritable' | 'io' | 'not-found' | 'ambiguous' | 'newer-format' | 'locked';

/**
 * An error a user can meet with their runs (a damaged checkpoint, a full disk, an
 * ambiguous run name, a run another process trains). Same shape as DatasetError: the
 * cause, the file, the way out.
 */
export class RunError extends Error {
  override readonly name = 'RunError';
  readonly kind: RunErrorKind | undefined;
  constructor(
    /** What is wrong, in one sentence, without the remedy. */
    readonly reason: string,
    /** What the user can do about it. */
    readonly remedy: string,
    /** The file or folder concerned, when there is one. */
    readonly path?: string,
    options: { kind?: RunErrorKind; cause?: unknown } = {},
  ) {
    super(`${reason}${path === undefined ? '' : `: ${path}`}. ${remedy}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind;
  }
}

export interface WriteFailure {
  /** What was being written, as the subject of a sentence: "run.json", "The checkpoint of step 12". */
  readonly what: string;
  /** The file or folder written to; the error names it unless the writer's own error names a more precise one. */
  readonly path: string;
  /** What did not happen, after `what`: "was not saved" (the default), "was not created", "were not written". */
  readonly outcome?: string;
  /** What is left when the disk is full, said after the outcome, e.g. "(no partial file was left) and the previous checkpoint is intact". */
  readonly kept?: string;
}

function lowerFirst(text: string): string {
  return `${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

/**
 * Turns a failed write of a run's file into a RunError the user can act on: the atomic
 * writer's FileError (full disk, no permission, missing folder) or the same failures
 * met directly (ENOSPC while appending, EACCES on mkdir...). Any other error is a bug or
 * an unexpected system failure and is rethrown as it is.
 */
export function writeFailed(error: unknown, failure: WriteFailure): never {
  const cause = error instanceof FileError ? error : writeError(error, failure.path);
  if (cause === null) throw error;
  const outcome = failure.outcome ?? 'was not saved';
  const full = /disk is full/i.test(cause.reason);
  const reason = full
    ? `The disk is full: ${lowerFirst(failure.what)} ${outcome}${failure.kept === undefined ? '' : ` ${failure.kept}`}`
    : `${failure.what} ${outcome} (${lowerFirst(cause.reason)})`;
  throw new RunError(reason, cause.remedy, cause.path ?? failure.path, { kind: full ? 'disk-full' : 'unwritable', cause: error });
}
