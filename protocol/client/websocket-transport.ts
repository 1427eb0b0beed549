// A transport over a WebSocket (serve mode, in an ordinary browser; the `ws` package in
// Node): it resolves once the trainer spoke, and says in words why a connection failed.
import { LabError } from './lab-error';
import { Inbox, incoming, type LabTransport } from './transport';

/**
 * What the client needs of a WebSocket; both the browser's and the `ws`
 * package's fit. Event parameters are `any` because the two disagree on the
 * event classes while agreeing on the fields read here (data, code, reason, message).
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

/** Hides the serve-mode token when a URL goes into an error message. */
function redact(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, '$1…');
}

function closeText(code: number | undefined, reason: string | undefined, error: string): string {
  if (reason) return `${reason} (code ${code})`;
  if (code === 4401) return 'the trainer refused the token (code 4401)';
  if (code === 4403) return 'the trainer refused this origin (code 4403)';
  if (error) return error;
  // A browser reports a refused upgrade or a dead server only as 1006, without a reason.
  if (code === 1006) return 'the connection failed (code 1006): is the trainer running, and is the address right?';
  return code === undefined ? 'connection closed' : `connection closed (code ${code})`;
}

function closeCode(code: number | undefined): string {
  if (code === 4401) return 'unauthorized';
  if (code === 4403) return 'forbidden';
  return 'connect-failed';
}

/**
 * Opens a WebSocket to the trainer. Resolves once the connection is open and
 * the trainer spoke (its `welcome`, kept for the client): a trainer refusing a
 * token or an origin accepts the socket and then closes it (4401, 4403), so
 * `open` alone proves nothing. Rejects with a LabError carrying the close
 * reason, or when nothing answers within timeoutMs.
 */
export function webSocketTransport(
  url: string,
  WebSocketImpl?: WebSocketConstructor,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<LabTransport> {
  const Impl = WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Impl) return Promise.reject(new LabError('No WebSocket here: pass an implementation (e.g. the ws package)', 'connect-failed'));
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new Impl(url);
    } catch (error) {
      reject(new LabError(`Cannot connect to ${redact(url)}: ${(error as Error).message}`, 'connect-failed'));
      return;
    }
    socket.binaryType = 'arraybuffer';
    const inbox = new Inbox();
    let settled = false;
    let errorText = '';
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.close(1000, 'timed out');
      reject(new LabError(`The trainer at ${redact(url)} did not answer within ${timeoutMs} ms`, 'connect-failed'));
    }, timeoutMs);
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const transport: LabTransport = {
      send(message) {
        if (socket.readyState !== OPEN) throw new LabError('The connection to the trainer is closed', 'closed');
        socket.send(JSON.stringify(message));
      },
      onMessage: (handler) => inbox.onMessage(handler),
      onClose: (handler) => inbox.onClose(handler),
      close() {
        socket.close(1000, 'client closed');
        inbox.close('closed by the client');
      },
    };
    // Browsers say nothing useful in an error event; ws says what failed (ECONNREFUSED...).
    // A close event always follows, and that is where the outcome is decided.
    socket.onerror = (event: { message?: string; error?: { message?: string } } | undefined) => {
      errorText = event?.error?.message ?? event?.message ?? '';
    };
    socket.onclose = (event: { code?: number; reason?: string } | undefined) => {
      const text = closeText(event?.code, event?.reason, errorText);
      inbox.close(text);
      settle(() => reject(new LabError(`Could not connect to the trainer at ${redact(url)}: ${text}`, closeCode(event?.code))));
    };
    socket.onmessage = (event: { data: unknown }) => {
      inbox.deliver(incoming(event.data));
      settle(() => resolve(transport));
    };
  });
}
