// A WebSocket as a Connection for the trainer's core: text messages are JSON commands, binary ones are refused, and a
// client that stops reading is closed before its unsent data can grow the trainer's memory.

import { WebSocket, type RawData } from 'ws';
import { BINARY_NOT_ACCEPTED, ConnectionBase, parseJsonText, type Connection } from './connection';

export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
export const CLOSE_TOO_SLOW = 4008;
export const TOO_SLOW_REASON = 'client too slow: it stopped reading';
// After closing a too-slow socket, its close frame waits behind the unread data; ws would hold all of it for 30 s.
const TOO_SLOW_TERMINATE_AFTER_MS = 5_000;

let wsCounter = 0;

/** A new connection id ('ws-1', 'ws-2', ...), unique in this process. */
export function nextWsId(): string {
  return `ws-${++wsCounter}`;
}

/**
 * Wraps an accepted WebSocket. Text messages are parsed as JSON; binary ones are refused with {__invalid}. A send
 * that would leave more than maxBufferedBytes unsent closes the socket with 4008: the core drops frames for slow
 * viewers already, this is the last guard so that a client that never reads cannot grow the trainer's memory.
 */
export function wsConnection(ws: WebSocket, options: { id?: string; label?: string; maxBufferedBytes?: number } = {}): Connection {
  return new WsConnection(ws, options.id ?? nextWsId(), options.label ?? 'ws', options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
}

export class WsConnection extends ConnectionBase {
  constructor(
    private readonly ws: WebSocket,
    id: string,
    label: string,
    private readonly maxBufferedBytes: number,
  ) {
    super(id, label);
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.deliver(isBinary ? BINARY_NOT_ACCEPTED : parseJsonText(rawToString(data)));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      const text = reason.toString('utf8');
      this.markClosed(code === 1006 ? 'connection lost' : `closed by the client (code ${code}${text ? `: ${text}` : ''})`);
    });
    // Protocol errors (oversized or malformed frames): ws closes the socket itself; without a listener they would throw.
    ws.on('error', () => {});
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  sendJson(message: unknown): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(message) ?? 'null'; // undefined is not JSON
    if (this.tooSlow(Buffer.byteLength(text))) return;
    this.ws.send(text);
  }

  sendBinary(frame: ArrayBuffer): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.tooSlow(frame.byteLength)) return;
    this.ws.send(frame, { binary: true });
  }

  /** Closes the socket if this send would leave too much unsent. One frame alone is always let through. */
  private tooSlow(bytes: number): boolean {
    const buffered = this.ws.bufferedAmount;
    if (buffered === 0 || buffered + bytes <= this.maxBufferedBytes) return false;
    this.close(CLOSE_TOO_SLOW, TOO_SLOW_REASON);
    // The close frame sits behind data the client is not reading: don't hold it all for ws's 30 s close timeout.
    setTimeout(() => this.ws.terminate(), TOO_SLOW_TERMINATE_AFTER_MS).unref();
    return true;
  }

  close(code = 1000, reason = ''): void {
    if (!this.markClosed(reason || `closed by the trainer (code ${code})`)) return;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate(); // an invalid code or a reason over 123 bytes: close anyway
    }
  }

  /** Cuts the socket without a closing handshake (it stopped answering pings). */
  terminate(reason: string): void {
    this.markClosed(reason);
    this.ws.terminate();
  }

  /** For the server's shutdown: the close listeners learn the reason even if the socket dies before the handshake. */
  shutdown(): void {
    this.close(1001, 'the lab server is shutting down');
  }
}

function rawToString(data: RawData): string {
  // binaryType 'nodebuffer': a Buffer, or Buffer[] for a fragmented message.
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.from(data).toString('utf8');
}
