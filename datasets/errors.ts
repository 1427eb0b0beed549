// Errors a user can cause with their data. Every one names the cause, the file or
// folder it concerns, and the way out, so the UI and the command line can show it
// as it is.

/** Stops an operation: nothing was written. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  constructor(
    /** What is wrong, in one sentence, without the remedy. */
    readonly reason: string,
    /** What the user can do about it. */
    readonly remedy: string,
    /** The file or folder concerned, when there is one. */
    readonly path?: string,
  ) {
    super(`${reason}${path === undefined ? '' : `: ${path}`}. ${remedy}`);
  }
}

/** Why one file was left out of an import that otherwise went on. */
export interface SkippedFile {
  /** Path relative to the dataset's root (or the archive), as shown to the user. */
  readonly path: string;
  readonly reason: string;
}
