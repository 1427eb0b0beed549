// How the trainer stops: a first signal (or main's `shutdown` message, or a lost parent) stops
// the run at the end of its step with a checkpoint, then exits.

export interface ShutdownOptions {
  /** Stops the host (the run checkpoints); may take as long as a step. */
  close(): Promise<unknown>;
  exit(code: number): void;
  log(line: string): void;
}

export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Listens for SIGTERM and SIGINT; returns the function that starts a graceful shutdown. */
export function installShutdown(options: ShutdownOptions, signals: SignalSource = process): (reason: string) => void {
  let shuttingDown = false;
  const shutDown = (_reason: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    void options.close().finally(() => options.exit(0));
  };
  signals.on('SIGTERM', (signal) => shutDown(signal));
  signals.on('SIGINT', (signal) => shutDown(signal));
  return shutDown;
}
