// The one transport-neutral view of a viewer that the trainer's core talks to. Three transports implement it:
// - a WebSocket in serve mode (ws-connection.ts: wsConnection),
// - a MessagePort: Electron's MessagePortMain in the app, node:worker_threads' MessagePort in tests (portConnection),
// - the IPC channel of child_process.fork (parentProcessConnection).
// The core never waits on a connection: every send only queues, and a connection that is closed drops what it is
// given. Incoming messages are untrusted: they are delivered parsed but unvalidated, and the core validates them.

export interface Connection {
  readonly id: string; // unique per connection, e.g. 'ws-3' or 'port-1'
  readonly label: string; // for logs: 'ws 127.0.0.1:51234'
  /** Queues a JSON message; never blocks, never throws on a closed connection (it is dropped). */
  sendJson(message: unknown): void;
  /**
   * Queues one binary frame (an ArrayBuffer); same rules. The frame is given away: over a port it is transferred
   * (detached in the sender), over a socket it is written out later from the same memory. Never reuse or mutate it.
   */
  sendBinary(frame: ArrayBuffer): void;
  /** Bytes handed to the transport but not yet written out (0 if the transport cannot tell). */
  readonly bufferedBytes: number;
  readonly closed: boolean;
  close(code?: number, reason?: string): void;
  /** Parsed JSON; text that is not JSON is delivered as {__invalid: 'reason'} so the core can reply with an error. */
  onMessage(listener: (message: unknown) => void): void;
  onClose(listener: (reason: string) => void): void;
}

/** What a transport delivers when a message cannot be a protocol message. */
export interface InvalidMessage {
  __invalid: string;
}

export function isInvalidMessage(message: unknown): message is InvalidMessage {
  return typeof message === 'object' && message !== null && typeof (message as { __invalid?: unknown }).__invalid === 'string';
}

export const BINARY_NOT_ACCEPTED: InvalidMessage = Object.freeze({ __invalid: 'binary messages are not accepted' });

/** Parses one text message; never throws. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return { __invalid: `not JSON: ${error instanceof Error ? error.message : String(error)}` } satisfies InvalidMessage;
  }
}

function isBinary(value: unknown): boolean {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value) || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);
}

// Messages that arrive before the core registers its first listener are kept (a few) rather than lost: a client
// may send 'subscribe' right after connecting, while the core is still setting up. Bounded so an unattended
// connection cannot grow memory.
const MAX_EARLY_MESSAGES = 64;

/** Listener bookkeeping and the closed state shared by every transport. Not part of the core's API. */
export abstract class ConnectionBase implements Connection {
  abstract readonly bufferedBytes: number;
  private readonly messageListeners: Array<(message: unknown) => void> = [];
  private readonly closeListeners: Array<(reason: string) => void> = [];
  private early: unknown[] | null = [];
  private closeReason: string | null = null;

  protected constructor(
    readonly id: string,
    readonly label: string,
  ) {}

  get closed(): boolean {
    return this.closeReason !== null;
  }

  abstract sendJson(message: unknown): void;
  abstract sendBinary(frame: ArrayBuffer): void;
  abstract close(code?: number, reason?: string): void;

  onMessage(listener: (message: unknown) => void): void {
    this.messageListeners.push(listener);
    const early = this.early;
    if (early !== null) {
      this.early = null;
      // Later, not inside the caller's registration: its setup is not finished yet.
      if (early.length > 0) queueMicrotask(() => early.forEach((message) => this.deliver(message)));
    }
  }

  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
    const reason = this.closeReason;
    if (reason !== null) queueMicrotask(() => listener(reason));
  }

  /** Hands an incoming message to the listeners. A listener that throws does not stop the others or the transport. */
  protected deliver(message: unknown): void {
    if (this.closed) return;
    if (this.early !== null) {
      if (this.early.length < MAX_EARLY_MESSAGES) this.early.push(message);
      return;
    }
    for (const listener of this.messageListeners) {
      try {
        listener(message);
      } catch (error) {
        reportListenerError(this.label, error);
      }
    }
  }

  /** Marks the connection closed (once) and tells the listeners. Returns false if it already was. */
  protected markClosed(reason: string): boolean {
    if (this.closeReason !== null) return false;
    this.closeReason = reason;
    this.early = null;
    for (const listener of this.closeListeners) {
      try {
        listener(reason);
      } catch (error) {
        reportListenerError(this.label, error);
      }
    }
    return true;
  }
}

function reportListenerError(label: string, error: unknown): void {
  console.error(`[${label}] a connection listener threw:`, error);
}

// ---------------------------------------------------------------------------------------------------------------
// MessagePort-like transports

/**
 * The parts of a MessagePort the adapter uses. Fits Electron's MessagePortMain (an EventEmitter whose 'message'
 * listener receives {data, ports}), node:worker_threads' MessagePort (has both `on`, receiving the value, and
 * `addEventListener`, receiving a MessageEvent) and the DOM MessagePort (`addEventListener` / `onmessage`).
 */
// `any` in the listener types: each port family declares its own event type, and all of them must fit.
export interface PortLike {
  postMessage(value: unknown, transfer?: readonly unknown[]): void;
  on?(event: string, listener: (...args: any[]) => void): unknown;
  addEventListener?(event: string, listener: (event: any) => void): void;
  onmessage?: ((event: any) => void) | null;
  start?(): void;
  close(): void;
}

export interface PortConnectionOptions {
  /** For logs; default 'port <id>'. */
  label?: string;
  /**
   * How `on('message')` listeners receive messages, when the port has no addEventListener: 'event' for Electron's
   * MessagePortMain ({data, ports}), 'value' for EventEmitter ports that pass the value itself. Default 'event'.
   */
  onMessageShape?: 'event' | 'value';
}

let portCounter = 0;

/**
 * Wraps a MessagePort-like object. JSON messages are posted as they are (structured clone), binary frames are
 * transferred: the ArrayBuffer is detached in the caller, so it must not be reused. Electron's MessagePortMain only
 * accepts ports in its transfer list; there the frame is copied instead (detected on the first frame).
 * Incoming binary values are refused with {__invalid}; other values are delivered as they are (already parsed).
 */
export function portConnection(port: PortLike, id: string = `port-${++portCounter}`, options: PortConnectionOptions = {}): Connection {
  return new PortConnection(port, id, options);
}

class PortConnection extends ConnectionBase {
  readonly bufferedBytes = 0; // a port cannot tell
  private transferWorks = true;

  constructor(
    private readonly port: PortLike,
    id: string,
    options: PortConnectionOptions,
  ) {
    super(id, options.label ?? `port ${id}`);
    const incoming = (value: unknown): void => this.deliver(isBinary(value) ? BINARY_NOT_ACCEPTED : value);
    const closed = (): void => {
      this.markClosed('the port was closed');
    };

    // worker_threads' MessagePort has both `on` and `addEventListener`: addEventListener is preferred, its shape
    // (a MessageEvent with .data) is unambiguous. An `on`-only port is Electron's MessagePortMain unless told.
    if (typeof port.addEventListener === 'function') {
      port.addEventListener('message', (event: { data: unknown }) => incoming(event.data));
      port.addEventListener('close', closed);
    } else if (typeof port.on === 'function') {
      const shape = options.onMessageShape ?? 'event';
      port.on('message', (payload: unknown) => incoming(shape === 'event' ? (payload as { data?: unknown } | null)?.data : payload));
      port.on('close', closed);
    } else if ('onmessage' in port) {
      port.onmessage = (event: { data: unknown }) => incoming(event.data);
    } else {
      throw new TypeError('portConnection: the port has no addEventListener, on or onmessage');
    }
    // Ports queue messages until started (DOM and Electron ports; worker_threads ports start on their own).
    port.start?.();
  }

  sendJson(message: unknown): void {
    if (this.closed) return;
    this.port.postMessage(message);
  }

  sendBinary(frame: ArrayBuffer): void {
    if (this.closed) return;
    if (this.transferWorks) {
      try {
        this.port.postMessage(frame, [frame]);
        return;
      } catch (error) {
        // Electron's MessagePortMain: "Invalid value for transfer". Fall back to copying, once and for all.
        if (frame.byteLength === 0 || !(error instanceof TypeError)) throw error;
        this.transferWorks = false;
      }
    }
    this.port.postMessage(frame);
  }

  close(): void {
    if (!this.markClosed('closed by the trainer')) return;
    try {
      this.port.close();
    } catch {
      // already closed on the other side
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// child_process.fork IPC

/**
 * The IPC channel to the parent process, for a trainer started with child_process.fork. Binary frames are sent as
 * ArrayBuffers, which survive the channel only with `serialization: 'advanced'` in the parent's fork options (the
 * default 'json' serialization turns them into {}); JSON messages work either way. bufferedBytes counts what
 * process.send accepted and has not yet written out (JSON messages by their serialized length). The connection
 * closes on 'disconnect' (the parent died or called disconnect()); close() disconnects from the parent.
 * Throws if the process has no IPC channel.
 */
export function parentProcessConnection(id = 'parent'): Connection {
  if (typeof process.send !== 'function') throw new Error('parentProcessConnection: this process was not started with an IPC channel (child_process.fork)');
  return new ParentProcessConnection(id);
}

class ParentProcessConnection extends ConnectionBase {
  private pending = 0;

  constructor(id: string) {
    super(id, `ipc parent pid ${process.ppid}`);
    process.on('message', (message: unknown) => this.deliver(isBinary(message) ? BINARY_NOT_ACCEPTED : message));
    process.once('disconnect', () => this.markClosed('the parent process disconnected'));
  }

  get bufferedBytes(): number {
    return this.pending;
  }

  sendJson(message: unknown): void {
    this.send(message, JSON.stringify(message)?.length ?? 0);
  }

  sendBinary(frame: ArrayBuffer): void {
    this.send(frame, frame.byteLength);
  }

  private send(message: unknown, bytes: number): void {
    if (this.closed || !process.connected || !process.send) return;
    this.pending += bytes;
    // With a callback, a channel closed meanwhile reports to it instead of throwing or emitting 'error'.
    process.send(message, undefined, {}, () => {
      this.pending -= bytes;
    });
  }

  close(): void {
    if (!this.markClosed('closed by the trainer')) return;
    if (process.connected) process.disconnect();
  }
}
