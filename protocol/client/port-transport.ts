// A transport over a MessagePort (the desktop app: main hands the renderer a port to the trainer).
import { Inbox, incoming, type LabTransport } from './transport';

/** A MessagePort (DOM, Electron's, or node:worker_threads'): only what the client uses. */
export interface MessagePortLike {
  postMessage(message: unknown): void;
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onmessage?: ((event: any) => void) | null;
  addEventListener?(type: string, listener: (event: any) => void): void;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  start?(): void;
  close?(): void;
}

/**
 * A transport over a MessagePort. Messages are structured-cloned objects;
 * frames arrive as (transferred) ArrayBuffers.
 */
export function portTransport(port: MessagePortLike): LabTransport {
  const inbox = new Inbox();
  const onMessage = (event: { data: unknown }) => inbox.deliver(incoming(event.data));
  if (port.addEventListener) {
    port.addEventListener('message', onMessage);
    // Where ports report it (Electron, Node, recent Chromium), the other end going away closes us.
    port.addEventListener('close', () => inbox.close('the trainer closed the port'));
    port.start?.(); // addEventListener, unlike onmessage, does not start a DOM port
  } else {
    port.onmessage = onMessage;
  }
  return {
    send: (message) => port.postMessage(message),
    onMessage: (handler) => inbox.onMessage(handler),
    onClose: (handler) => inbox.onClose(handler),
    close() {
      port.close?.();
      inbox.close('closed by the client');
    },
  };
}
