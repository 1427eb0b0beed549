// Liveness pings: every interval each socket is pinged, and one that did not answer the previous ping is gone (or
// stopped reading: a ping needs reading to be answered).

/** What the pinger needs of a socket (a ws WebSocket is one). */
export interface PingedSocket {
  ping(): void;
  on(event: 'pong', listener: () => void): unknown;
}

export interface Pings<S extends PingedSocket> {
  /** A socket to hear pongs from; it starts alive. An untracked socket is pinged too, but only once before it is silent. */
  track(socket: S): void;
  stop(): void;
}

/**
 * Pings `clients()` every intervalMs; `onSilent`, which should end it, gets each socket that did not answer the previous
 * ping (at every tick while `clients()` still lists it). The timer does not keep the process alive.
 */
export function startPings<S extends PingedSocket>(clients: () => Iterable<S>, intervalMs: number, onSilent: (socket: S) => void): Pings<S> {
  const alive = new WeakMap<S, boolean>();
  const timer = setInterval(() => {
    for (const socket of clients()) {
      if (alive.get(socket) === false) {
        onSilent(socket);
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return {
    track(socket) {
      alive.set(socket, true);
      socket.on('pong', () => alive.set(socket, true));
    },
    stop: () => clearInterval(timer),
  };
}
