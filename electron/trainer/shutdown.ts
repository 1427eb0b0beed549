// How the trainer stops: a first signal (or main's `shutdown` message, or a lost parent) stops
// the run at the end of its step with a checkpoint, then exits. A signal that comes while it
// is already stopping ends it at once: main's kill after its grace period, or a second Ctrl+C,
// must not be swallowed by a close() that never finishes (a stuck step), or the trainer would
// outlive the app and keep its single-instance lock.
import { constants } from 'node:os';

export interface ShutdownOptions {
  /** Stops the host (the run checkpoints); may take as long as a step. */
  close(): Promise<unknown>;
  exit(code: number): void;
  log(line: string): void;
}

export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Listens for SIGTERM and SIGINT; returns the function that starts a graceful shutdown. */
export function installShutdown(options: ShutdownOptions, signals: SignalSource = process): (reason: string) => void {
  let shuttingDown = false;
  const shutDown = (reason: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    options.log(`trainer: stopping (${reason}); the run checkpoints at the end of its step`);
    options.close().then(
      () => options.exit(0),
      (error: unknown) => {
        options.log(`trainer: stopping failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        options.exit(1);
      },
    );
  };
  for (const name of SIGNALS) {
    signals.on(name, (signal) => {
      if (!shuttingDown) return shutDown(signal);
      options.log(`trainer: ${signal} while stopping: exiting now, without waiting for the checkpoint (the run keeps its previous one)`);
      // 128 + the signal's number, as a shell reports a process that died of it.
      options.exit(128 + (constants.signals[signal] ?? 0));
    });
  }
  return shutDown;
}
