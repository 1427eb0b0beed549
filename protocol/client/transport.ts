// What the client needs of a connection to the trainer, and what every transport shares:
// the inbox that keeps early messages, and the turning of raw data into messages or frames.
import type { ClientMessageInput, ServerMessage } from '../messages';

export interface LabTransport {
  send(message: ClientMessageInput): void;
  /** JSON messages arrive parsed; binary frames as ArrayBuffers. */
  onMessage(handler: (data: ServerMessage | ArrayBuffer) => void): void;
  onClose(handler: (reason: string) => void): void;
  close(): void;
}

/**
 * Messages that arrive before the client attached its handlers are kept, not
 * lost: a trainer sends `welcome` the moment a connection opens.
 */
export class Inbox {
  private readonly messageHandlers: Array<(data: ServerMessage | ArrayBuffer) => void> = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private queue: Array<ServerMessage | ArrayBuffer> = [];
  private closedReason: string | null = null;

  deliver(data: ServerMessage | ArrayBuffer): void {
    if (this.closedReason !== null) return;
    if (this.messageHandlers.length === 0) this.queue.push(data);
    else for (const handler of this.messageHandlers) handler(data);
  }

  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const handler of this.closeHandlers) handler(reason);
  }

  onMessage(handler: (data: ServerMessage | ArrayBuffer) => void): void {
    this.messageHandlers.push(handler);
    const queued = this.queue;
    this.queue = [];
    for (const data of queued) handler(data);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
    if (this.closedReason !== null) handler(this.closedReason);
  }
}

export function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return ArrayBuffer.isView(data) || Object.prototype.toString.call(data) === '[object ArrayBuffer]';
}

/** Frames are handed on as whole ArrayBuffers; copy a view (a Node Buffer, say) into one. */
function toArrayBuffer(data: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (!ArrayBuffer.isView(data)) return data;
  const copy = new Uint8Array(data.byteLength);
  copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return copy.buffer;
}

/** Turns whatever arrived into something the client can dispatch; never throws. */
export function incoming(data: unknown): ServerMessage | ArrayBuffer {
  if (isBinary(data)) return toArrayBuffer(data);
  let value = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data);
    } catch (error) {
      return { type: 'error', message: `unreadable message from the trainer: ${(error as Error).message}` };
    }
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    return { type: 'error', message: `unreadable message from the trainer: ${String(data).slice(0, 80)}` };
  }
  return value as ServerMessage;
}
