// Errors a user can cause with their data. Every one names the cause, the file or
// folder it concerns, and the way out, so the UI and the command line can show it
// as it is.
import { FileError } from '../files/file-error';


/** Stops an operation on a dataset: nothing was written. */
export class DatasetError extends FileError {
  override readonly name: string = 'DatasetError';
}

/** Why one file was left out of an import that otherwise went on. */
export interface SkippedFile {
  /** Path relative to the dataset's root (or the archive), as shown to the user. */
  readonly path: string;
  readonly reason: string;
}
