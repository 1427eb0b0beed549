// A progress bar on the terminal for long imports and downloads; silent when
// stderr is not a terminal (CI logs, pipes), where it would only add noise.
import cliProgress from 'cli-progress';

export interface ProgressBar {
  update(done: number, total: number | null, label?: string): void;
  stop(): void;
}

export function progressBar(title: string, unit: string): ProgressBar {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {percentage}% | {value}/{total} ${unit} | {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = '') {
      if (!started) {
        bar.start(total ?? 0, done, { label });
        started = true;
      }
      if (total !== null) bar.setTotal(total);
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
