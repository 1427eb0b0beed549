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

/** The `code` of a Node.js system error (ENOENT, EACCES, …), or undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A byte count for people, in decimal units (kB, MB, GB), the way download pages
 * and file managers state sizes; small counts exactly, in bytes.
 */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e4) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} bytes`;
}
