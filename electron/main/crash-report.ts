// What the crash banner says when the trainer dies: its own report of the error that killed
// it (sent over the parent port before it exits) or Electron's V8 fatal-error event, each
// worded with the cause and the way out; the last stderr lines are an extra, since Electron
// drops the utility process's stderr right after 'exit' and a dying stack often comes later.

/** The longest report kept from the trainer: a runaway message must not fill the banner. */
const MAX_REPORT_CHARS = 4_000;

export interface FatalReport {
  readonly kind: 'uncaughtException' | 'unhandledRejection';
  readonly message: string;
}

/** The trainer's `{type: 'fatal', kind, message}` message (electron/trainer/fatal-report.ts), or null. */
export function parseFatalReport(data: unknown): FatalReport | null {
  const { type, kind, message } = (data ?? {}) as { type?: unknown; kind?: unknown; message?: unknown };
  if (type !== 'fatal' || typeof message !== 'string' || message.trim() === '') return null;
  const known = kind === 'uncaughtException' || kind === 'unhandledRejection' ? kind : 'uncaughtException';
  const text = message.length > MAX_REPORT_CHARS ? `${message.slice(0, MAX_REPORT_CHARS)}…` : message;
  return { kind: known, message: text };
}

export function uncaughtErrorText(report: FatalReport): string {
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
    ? 'The trainer ran out of memory. Restart the trainer and resume the run with a smaller Batch size or model, or close other programs that use much memory.'
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
