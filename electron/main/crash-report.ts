// What the crash banner says when the trainer dies: its own report of the error that killed
// it (sent over the parent port before it exits) or Electron's V8 fatal-error event, each
// worded with the cause and the way out; the last stderr lines are an extra, since Electron
// drops the utility process's stderr right after 'exit' and a dying stack often comes later.

import type { FatalKind } from '#protocol/parent-port';

/** The longest report kept from the trainer: a runaway message must not fill the banner. */
const MAX_REPORT_CHARS = 4_000;

/** The longest path kept from a report. */
const MAX_PATH_CHARS = 1_000;

export interface FatalReport {
  readonly kind: FatalKind;
  readonly message: string;
  /** A system error's code (ENOSPC, EACCES...), when the error had one. */
  readonly code?: string;
  /** The file or folder a system error was about, when it said. */
  readonly path?: string;
}

/**
 * The trainer's `{type: 'fatal', kind, message, code?, path?}` message (protocol/parent-port.ts'
 * FatalMessage), or null. Lenient on purpose: a dying process's report is kept even when a
 * field is off, and truncated.
 */
export function parseFatalReport(data: unknown): FatalReport | null {
  const { type, kind, message, code, path } = (data ?? {}) as { type?: unknown; kind?: unknown; message?: unknown; code?: unknown; path?: unknown };
  if (type !== 'fatal' || typeof message !== 'string' || message.trim() === '') return null;
  const known = kind === 'uncaughtException' || kind === 'unhandledRejection' ? kind : 'uncaughtException';
  const text = message.length > MAX_REPORT_CHARS ? `${message.slice(0, MAX_REPORT_CHARS)}…` : message;
  return {
    kind: known,
    message: text,
    ...(typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,31}$/.test(code) ? { code } : {}),
    ...(typeof path === 'string' && path !== '' ? { path: path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path } : {}),
  };
}

/** A system error the user can fix: its cause and the way out, or null for any other error. */
function systemErrorText(code: string | undefined, path: string | undefined): string | null {
  const onPath = path ? ` (${path})` : '';
  switch (code) {
    case 'ENOSPC':
      return (
        `The trainer stopped because the disk is full (ENOSPC) while writing${onPath}. ` +
        "Free space on the disk that holds the lab's data folder (runs, checkpoints, exports), then restart the trainer and resume the run."
      );
    case 'EACCES':
    case 'EPERM':
      return (
        `The trainer stopped because it was not allowed to use ${path ?? 'a file or folder'} (${code}). ` +
        `Check the permissions on ${path ?? "the lab's data folder and the files it reads"} (the lab must be able to read and write there), then restart the trainer.`
      );
    case 'EMFILE':
    case 'ENFILE':
      return (
        `The trainer stopped because too many files were open (${code}). ` +
        'Close other programs, or raise the open-file limit (on Linux and macOS: ulimit -n), then restart the trainer and resume the run.'
      );
    default:
      return null;
  }
}

export function uncaughtErrorText(report: FatalReport): string {
  const system = systemErrorText(report.code, report.path);
  if (system) return `${system} The error:\n${report.message}`;
  const what = report.kind === 'unhandledRejection' ? 'a promise rejection it did not handle' : 'an error it did not handle';
  return (
    `The trainer stopped on ${what}: a bug in the trainer, not in your data. ` +
    'Restart the trainer to go on; if it happens again, please report these lines:\n' +
    report.message
  );
}

/** Electron's utility-process 'error' event: V8 gave up (most often the heap is full). */
export function v8FatalErrorText(type: string, location: string, report: string): string {
  const event = diagnosticEvent(report);
  const where = `${type} at "${location}"${event ? `: ${event}` : ''}`;
  const memory = /heap|alloc|memory/i.test(`${location} ${event}`);
  const wayOut = memory
    ? 'The trainer ran out of memory. Restart the trainer and start a new run with a smaller batch size or model (a resumed run keeps its batch size), or close other programs that use much memory.'
    : 'Restart the trainer to go on; if it happens again, please report this message.';
  return `The trainer was stopped by a fatal error in its JavaScript engine (V8 ${where}). ${wayOut}`;
}

/** The event line of a Node.js diagnostic report (JSON), if it is one. */
function diagnosticEvent(report: string): string {
  try {
    const event = (JSON.parse(report) as { header?: { event?: unknown } } | null)?.header?.event;
    return typeof event === 'string' ? event.slice(0, 300) : '';
  } catch {
    return '';
  }
}

/** The banner's text: the cause when there is one, then the stderr lines it does not already hold. */
export function crashText(cause: string | null, stderrTail: string): string {
  if (!cause) return stderrTail;
  const known = new Set(cause.split('\n').map((line) => line.trim()));
  const extra = stderrTail.split('\n').filter((line) => line.trim() !== '' && !known.has(line.trim()));
  return extra.length > 0 ? `${cause}\n\nThe trainer's last lines on stderr:\n${extra.join('\n')}` : cause;
}
