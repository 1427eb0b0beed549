// A progress bar on the terminal for long imports and downloads; silent when
// stderr is not a terminal (CI logs, pipes), where it would only add noise.
// While the total is unknown (an archive read as a stream, a server that does
// not say the size) it is a plain counter: a bar needs a total to be a bar.
import cliProgress from 'cli-progress';
import { terminalSafe } from './terminal-text';

export interface ProgressBar {
  update(done: number, total: number | null, label?: string): void;
  stop(): void;
}

interface Payload {
  label: string;
  /** Whether `total` is the real total yet. */
  known: boolean;
}

export function progressBar(title: string, unit: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update: () => {}, stop: () => {} };
  // Only the text is escaped: the bar draws with escape codes of its own.
  const withTotal = `${terminalSafe(title)} [{bar}] {percentage}% | {value}/{total} ${terminalSafe(unit)} | {label}`;
  const counting = `${terminalSafe(title)} {value} ${terminalSafe(unit)} | {label}`;
  const bar = new cliProgress.SingleBar(
    {
      format: (options, params, payload: Payload) =>
        cliProgress.Format.Formatter({ ...options, format: payload.known ? withTotal : counting }, params, payload),
      stream,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = '') {
      const payload: Payload = { label: terminalSafe(label), known: total !== null };
      if (!started) {
        bar.start(total ?? 0, done, payload);
        started = true;
        return;
      }
      if (total !== null) bar.setTotal(total);
      bar.update(done, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
