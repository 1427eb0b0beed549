// The trainer's last words: an error nothing handled is sent to main before the process exits.
// Under Electron its stderr is not enough: Electron drops the utility process's stderr right
// after 'exit', and the dying stack trace usually comes later (electron/main/crash-report.ts).
import { inspect } from 'node:util';
import type { FatalKind, FatalMessage } from '#protocol/parent-port';

/**
 * What goes to main (protocol/parent-port.ts). `code` and `path` are a system error's (ENOSPC,
 * EACCES, EMFILE... and the file it was about), when the error had them: main words those as
 * the user's to fix, not a bug.
 */
export type { FatalKind, FatalMessage };

export interface FatalReportOptions {
  /** Sends the report to the parent; null where there is none to tell. */
  send: ((report: FatalMessage) => void) | null;
  exit(code: number): void;
  log(line: string): void;
  /** How long the message gets to leave before the process exits. */
  flushMs?: number;
}

export interface FatalSource {
  on(event: 'uncaughtException', listener: (error: unknown) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
}

/** Handles both; the process then exits with 1 as Node would have. */
export function installFatalReport(options: FatalReportOptions, source: FatalSource = process): void {
  let reported = false;
  const report = (kind: FatalKind, error: unknown): void => {
    const message = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `${kind === 'unhandledRejection' ? 'rejected with' : 'threw'} a non-Error: ${inspect(error)}`;
    options.log(`trainer: ${kind}: ${message}`);
    // A second error while the first is on its way out is logged, not sent: the first is the cause.
    if (reported) return;
    reported = true;
    const { code, path } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; path?: unknown };
    const sent: FatalMessage = { type: 'fatal', kind, message };
    if (typeof code === 'string') sent.code = code;
    if (typeof path === 'string') sent.path = path;
    try {
      options.send?.(sent);
    } catch (sendError) {
      options.log(`trainer: could not send the error to main: ${String(sendError)}`);
    }
    // postMessage only queues: exiting at once could drop the report.
    setTimeout(() => options.exit(1), options.flushMs ?? 200);
  };
  source.on('uncaughtException', (error) => report('uncaughtException', error));
  source.on('unhandledRejection', (reason) => report('unhandledRejection', reason));
}
