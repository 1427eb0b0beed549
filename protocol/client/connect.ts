// Connecting the client to the trainer: in a page served by `lab serve`, over a WebSocket
// whose address and token come from the page's own; in the desktop app, over the
// MessagePort the preload hands over.
import { LabClient } from './lab-client';
import { LabError } from './lab-error';
import { portTransport, type MessagePortLike } from './port-transport';
import { webSocketTransport, type WebSocketConstructor } from './websocket-transport';

/**
 * The trainer serves the page at http://127.0.0.1:PORT/?token=T and accepts the
 * WebSocket at /ws with the same token: derive the one from the other.
 */
export function labSocketUrl(location: { protocol: string; host: string; search: string }): string {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) throw new LabError('The page address has no ?token=: open the exact URL the trainer printed', 'unauthorized');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}

/** Connects a browser page served by `lab serve` to its trainer. */
export async function connectFromLocation(
  location: { protocol: string; host: string; search: string },
  WebSocketImpl?: WebSocketConstructor,
): Promise<LabClient> {
  return new LabClient(await webSocketTransport(labSocketUrl(location), WebSocketImpl));
}

/** The window message the desktop app's preload uses to hand over the trainer's port (electron/preload/api.ts). */
const LAB_PORT_MESSAGE = 'lab:port';

interface PortWindow {
  addEventListener(type: 'message', listener: (event: { source: unknown; data: unknown; ports: readonly MessagePortLike[] }) => void): void;
  removeEventListener(type: 'message', listener: (event: { source: unknown; data: unknown; ports: readonly MessagePortLike[] }) => void): void;
}

/**
 * In the desktop app: asks main for a MessagePort to the trainer (`window.lab.connectTrainer`)
 * and speaks the protocol over it. The port arrives as a window message from the preload.
 */
export function connectInElectron(win: PortWindow & { lab?: { connectTrainer(): void } }, timeoutMs = 10_000): Promise<LabClient> {
  return new Promise((resolve, reject) => {
    if (!win.lab) {
      reject(new LabError('not in the desktop app: there is no window.lab; in a browser use connectFromLocation', 'no-bridge'));
      return;
    }
    const timer = setTimeout(() => {
      win.removeEventListener('message', onMessage);
      reject(new LabError(`the trainer did not answer within ${timeoutMs / 1000} s`, 'timeout'));
    }, timeoutMs);
    const onMessage = (event: { source: unknown; data: unknown; ports: readonly MessagePortLike[] }) => {
      const port = event.ports[0];
      if (event.source !== win || (event.data as { type?: unknown } | null)?.type !== LAB_PORT_MESSAGE || !port) return;
      clearTimeout(timer);
      win.removeEventListener('message', onMessage);
      resolve(new LabClient(portTransport(port)));
    };
    win.addEventListener('message', onMessage);
    win.lab.connectTrainer();
  });
}
