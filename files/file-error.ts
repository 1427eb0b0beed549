// An error a user can act on about a file or folder: it names the cause, the path and the way
// out, so the UI and the command line show it as it is. Datasets' errors are one kind
// (datasets/errors.ts); a failed write anywhere in the lab is another (atomic-file.ts).
export class FileError extends Error {
  override readonly name: string = 'FileError';
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
