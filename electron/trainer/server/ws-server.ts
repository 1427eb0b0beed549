// Serve mode's transport: one HTTP server that serves the built renderer and upgrades `/ws` to a WebSocket, each
// socket becoming a Connection for the trainer's core.
//
// Security model (like Jupyter's): the server listens on loopback by default, but loopback is not a boundary on a
// shared machine or against web pages the user visits, so:
// - a random token, printed in the URL by `lab serve`, is required for the page and for the WebSocket;
// - the Host header must name the bound host (DNS rebinding: a hostile page whose name resolves to 127.0.0.1 would
//   otherwise be same-origin with us and could read our responses);
// - a WebSocket's Origin, when present, must be our own page's: browsers do not apply the same-origin policy to
//   WebSockets, Origin is how a server tells a hostile page's socket from its own;
// - the page gets a strict CSP, so a bug that injects markup cannot load or send anything elsewhere.
// Opening it wider (`--host 0.0.0.0`) is the caller's explicit choice; isLoopback() lets the CLI warn.
//
// Each job has its module: request-checks.ts (Host and Origin), serve-auth.ts (the token and the asset cookie),
// static-files.ts (the renderer's files and the page's headers), ws-connection.ts (a socket as a Connection) and
// pings.ts (liveness); startServeServer composes them.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Connection } from './connection';
import { startPings } from './pings';
import { allowedHostPorts, hostAllowed, hostPort, isWildcard, originAllowed, splitTarget } from './request-checks';
import { CLOSE_WRONG_TOKEN, FORBIDDEN_PAGE_TEXT, WRONG_TOKEN_REASON, pageAccess, serveToken, socketAccess } from './serve-auth';
import { sendText, serveStatic, setCommonHeaders } from './static-files';
import { DEFAULT_MAX_BUFFERED_BYTES, WsConnection, nextWsId } from './ws-connection';

// The names this module has always exported, from where they now live.
export { isLoopback } from './request-checks';
export { CLOSE_WRONG_TOKEN, TOKEN_COOKIE } from './serve-auth';
export { CLOSE_TOO_SLOW, DEFAULT_MAX_BUFFERED_BYTES, TOO_SLOW_REASON, wsConnection } from './ws-connection';

export interface ServeServerOptions {
  /** Interface to bind; default '127.0.0.1'. Anything but loopback exposes the lab to the network (token-guarded). */
  host?: string;
  /** Default 7860; 0 picks a free port. */
  port?: number;
  /** Default: 24 random bytes, base64url. */
  token?: string;
  /** The built renderer folder (out/renderer); null when there is none. */
  staticDir?: string | null;
  /** A socket holding more than this, unsent, is closed as too slow (4008). Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Extra names the server may be reached by (Host header / Origin), e.g. a machine's DNS name with --host 0.0.0.0. */
  allowedHosts?: string[];
  /** Liveness pings; sockets that did not answer the previous ping are terminated. Default 30 s. */
  pingIntervalMs?: number;
  onConnection: (connection: Connection) => void;
}

export interface ServeServer {
  /** The page's URL, with ?token=: what `lab serve` prints. */
  url: string;
  /** The WebSocket's URL, with ?token=. */
  wsUrl: string;
  host: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 7860;
/** Incoming messages are small commands; a bigger one is refused by ws (close 1009) before it is buffered whole. */
export const MAX_INCOMING_MESSAGE_BYTES = 1024 * 1024;
const DEFAULT_PING_INTERVAL_MS = 30_000;
const SHUTDOWN_GRACE_MS = 1_000;

/** Starts serve mode's HTTP + WebSocket server. Rejects with a readable Error if the port is in use. */
export async function startServeServer(options: ServeServerOptions): Promise<ServeServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? DEFAULT_PORT;
  const token = serveToken(options.token);
  const staticDir = options.staticDir ? path.resolve(options.staticDir) : null;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;

  let port = requestedPort; // the real one once listening
  let allowedHosts = new Set<string>(); // likewise
  const connections = new Map<WebSocket, WsConnection>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INCOMING_MESSAGE_BYTES, perMessageDeflate: false });
  const pings = startPings(() => wss.clients, options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, (ws) => {
    const connection = connections.get(ws);
    if (connection) connection.terminate('no answer to ping: the client is gone or stopped reading');
    else ws.terminate();
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setCommonHeaders(res);
    if (!hostAllowed(req.headers.host, allowedHosts)) return sendText(res, 403, 'Forbidden: unexpected Host header.\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'Method not allowed.\n');
    }
    const { rawPath, query } = splitTarget(req.url ?? '/');
    const access = pageAccess(token, port, { rawPath, query, cookieHeader: req.headers.cookie });
    if (!access.ok) return sendText(res, 403, FORBIDDEN_PAGE_TEXT);
    if (access.setCookie !== null) res.setHeader('Set-Cookie', access.setCookie);
    await serveStatic(req, res, staticDir, rawPath, (req.headers.host ?? hostPort(host, port)).toLowerCase());
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const { rawPath, query } = splitTarget(req.url ?? '/');
    if (rawPath !== '/ws') return refuseUpgrade(socket, 404, 'Not Found', 'WebSocket only at /ws');
    if (!hostAllowed(req.headers.host, allowedHosts)) return refuseUpgrade(socket, 403, 'Forbidden', 'unexpected Host header');
    // Browsers always send Origin on a WebSocket handshake and a page cannot forge it, so a foreign Origin is another
    // site's page trying to use the user's token-less browser (or a leaked token). A missing Origin is a non-browser
    // client (a script, the tests, the trainer's own CLI): it cannot be a hostile page, and the token guards it.
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, allowedHosts)) return refuseUpgrade(socket, 403, 'Forbidden', 'Origin not allowed');
    if (!socketAccess(token, query)) {
      // A wrong token from an allowed origin (the lab's own page with a stale URL): accept the handshake only to close
      // it at once with a reason, since a browser shows a refused handshake as a bare 1006. Nothing is read or sent.
      wss.handleUpgrade(req, socket, head, (ws) => ws.close(CLOSE_WRONG_TOKEN, WRONG_TOKEN_REASON));
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req.socket as Socket));
  }

  function accept(ws: WebSocket, remote: Socket): void {
    const connection = new WsConnection(ws, nextWsId(), `ws ${remote.remoteAddress}:${remote.remotePort}`, maxBufferedBytes);
    connections.set(ws, connection);
    pings.track(ws);
    ws.on('close', () => connections.delete(ws));
    try {
      options.onConnection(connection);
    } catch (error) {
      console.error('[lab serve] onConnection threw:', error);
      connection.close(1011, 'internal error');
    }
  }

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      console.error('[lab serve] request failed:', error);
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.on('upgrade', handleUpgrade);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(requestedPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    pings.stop();
    wss.close();
    throw listenError(error, host, requestedPort);
  }
  server.on('error', (error) => console.error('[lab serve] server error:', error));

  port = (server.address() as AddressInfo).port;
  allowedHosts = allowedHostPorts(host, port, options.allowedHosts ?? []);
  // With a wildcard bind, print a loopback URL: it works on this machine; others use this machine's address.
  const urlHost = isWildcard(host) ? (host.includes(':') ? '[::1]' : '127.0.0.1') : host;
  const base = `${hostPort(urlHost, port)}`;
  const tokenQuery = `token=${encodeURIComponent(token)}`;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${base}/?${tokenQuery}`,
    wsUrl: `ws://${base}/ws?${tokenQuery}`,
    host,
    port,
    token,
    close(): Promise<void> {
      closing ??= (async () => {
        pings.stop();
        for (const connection of connections.values()) connection.shutdown();
        // Give the close handshakes a moment, then cut whatever is left.
        const deadline = Date.now() + SHUTDOWN_GRACE_MS;
        while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections(); // keep-alive HTTP sockets would hold close() open
        await closed;
      })();
      return closing;
    },
  };
}

function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return new Error(`port ${port} is in use; pass --port N or --port 0 for any free port`);
  if (code === 'EACCES') return new Error(`not allowed to listen on port ${port}; pass --port N above 1023 or --port 0 for any free port`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new Error(`cannot listen on ${host}: it is not an address of this machine`);
  return error instanceof Error ? error : new Error(String(error));
}

function refuseUpgrade(socket: Duplex, status: number, statusText: string, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Don't wait on a peer that never reads the refusal.
  setTimeout(() => socket.destroy(), 1_000).unref();
}
