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

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { hostname as osHostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { BINARY_NOT_ACCEPTED, ConnectionBase, parseJsonText, type Connection } from './connection';

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
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Incoming messages are small commands; a bigger one is refused by ws (close 1009) before it is buffered whole. */
export const MAX_INCOMING_MESSAGE_BYTES = 1024 * 1024;
export const CLOSE_TOO_SLOW = 4008;
export const TOO_SLOW_REASON = 'client too slow: it stopped reading';
/** Prefix of the asset cookie's name; the port follows, since browsers share cookies across a host's ports. */
export const TOKEN_COOKIE = 'lab_assets';
export const CLOSE_WRONG_TOKEN = 4401;
const DEFAULT_PING_INTERVAL_MS = 30_000;
// After closing a too-slow socket, its close frame waits behind the unread data; ws would hold all of it for 30 s.
const TOO_SLOW_TERMINATE_AFTER_MS = 5_000;
const SHUTDOWN_GRACE_MS = 1_000;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** True for names and addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function isWildcard(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
}

/** 'host:port' as it appears in a Host header and, after 'http://', in an Origin (IPv6 in brackets). */
function hostPort(name: string, port: number): string {
  const bare = name.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return `${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}`;
}

/** Every 'host:port' the server may legitimately be addressed as. */
function allowedHostPorts(bound: string, port: number, extra: readonly string[]): Set<string> {
  const names = new Set<string>([bound, ...extra]);
  if (isLoopback(bound)) ['localhost', '127.0.0.1', '::1'].forEach((n) => names.add(n));
  if (isWildcard(bound)) {
    // Bound to every interface: the page may be opened by any of this machine's addresses or its own name. Names an
    // attacker controls (DNS rebinding) are still refused.
    ['localhost', '127.0.0.1', '::1', osHostname()].forEach((n) => names.add(n));
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) names.add(a.address.replace(/%.*$/, ''));
  }
  const result = new Set<string>();
  for (const name of names) {
    result.add(hostPort(name, port));
    if (port === 80) result.add(hostPort(name, port).replace(/:80$/, ''));
  }
  return result;
}

/** Constant-time token comparison (the length is not secret: it is the same for every token we make). */
function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}

/** Splits a request target into its raw path and its query, without normalizing '..' away (we refuse it instead). */
function splitTarget(target: string): { rawPath: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  return q < 0 ? { rawPath: target, query: new URLSearchParams() } : { rawPath: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}

let wsCounter = 0;

/**
 * Wraps an accepted WebSocket. Text messages are parsed as JSON; binary ones are refused with {__invalid}. A send
 * that would leave more than maxBufferedBytes unsent closes the socket with 4008: the core drops frames for slow
 * viewers already, this is the last guard so that a client that never reads cannot grow the trainer's memory.
 */
export function wsConnection(ws: WebSocket, options: { id?: string; label?: string; maxBufferedBytes?: number } = {}): Connection {
  return new WsConnection(ws, options.id ?? `ws-${++wsCounter}`, options.label ?? 'ws', options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
}

class WsConnection extends ConnectionBase {
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

/** Starts serve mode's HTTP + WebSocket server. Rejects with a readable Error if the port is in use. */
export async function startServeServer(options: ServeServerOptions): Promise<ServeServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? DEFAULT_PORT;
  const token = options.token ?? randomBytes(24).toString('base64url');
  if (token.length < 8) throw new Error('the serve token must be at least 8 characters');
  const staticDir = options.staticDir ? path.resolve(options.staticDir) : null;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;

  let port = requestedPort; // the real one once listening
  let allowedHosts = new Set<string>();
  const connections = new Map<WebSocket, WsConnection>();
  const alive = new WeakMap<WebSocket, boolean>();

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INCOMING_MESSAGE_BYTES, perMessageDeflate: false });

  const hostAllowed = (req: IncomingMessage): boolean => {
    const h = req.headers.host;
    return typeof h === 'string' && allowedHosts.has(h.toLowerCase());
  };
  const originAllowed = (origin: string): boolean => {
    const m = /^http:\/\/(.+)$/.exec(origin.toLowerCase());
    return m !== null && m[1] !== undefined && allowedHosts.has(m[1]);
  };

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      console.error('[lab serve] request failed:', error);
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!hostAllowed(req)) return sendText(res, 403, 'Forbidden: unexpected Host header.\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'Method not allowed.\n');
    }
    const { rawPath, query } = splitTarget(req.url ?? '/');
    const queryToken = query.get('token');
    const fromQuery = tokenMatches(queryToken, token);
    const isRoot = rawPath === '/' || rawPath === '/index.html';
    // The page itself needs the token in its URL; its own requests (/assets/x.js) carry no query, so a cookie
    // authorizes those. The cookie is not the token: browsers send a host's cookies to every port on it (another
    // local server would receive it), so it holds a value derived from the token that opens static files only.
    const cookieName = `${TOKEN_COOKIE}_${port}`;
    const assetKey = createHmac('sha256', token).update('static files').digest('base64url');
    if (!fromQuery && (isRoot || !tokenMatches(cookieValue(req.headers.cookie, cookieName), assetKey))) {
      return sendText(res, 403, 'Forbidden: open the exact URL printed in the terminal by npm start or lab serve (it carries the access token).\n');
    }
    if (isRoot) res.setHeader('Set-Cookie', `${cookieName}=${assetKey}; HttpOnly; SameSite=Strict; Path=/`);

    const file = await resolveStatic(rawPath === '/' ? '/index.html' : rawPath);
    if (file === null) {
      if (isRoot) return sendHtml(req, res, NOT_BUILT_PAGE);
      return sendText(res, 404, 'Not found.\n');
    }
    const type = CONTENT_TYPES[path.extname(file.path).toLowerCase()] ?? 'application/octet-stream';
    res.statusCode = 200;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', file.stats.size);
    if (type.startsWith('text/html')) setHtmlHeaders(req, res);
    else res.setHeader('Cache-Control', 'no-cache');
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file.path);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  /** The file a request path names inside staticDir, or null: no '..', no directories, no escaping by symlink. */
  async function resolveStatic(rawPath: string): Promise<{ path: string; stats: Stats } | null> {
    if (staticDir === null) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      return null;
    }
    // Checked after decoding, so '%2e%2e' and '..%2f' are caught too; backslashes and NUL are never legitimate.
    if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
    const segments = decoded.split('/').slice(1);
    if (segments.some((s) => s === '..' || s === '.')) return null;
    const candidate = path.resolve(staticDir, ...segments);
    try {
      const [root, real] = await Promise.all([realpath(staticDir), realpath(candidate)]);
      const relative = path.relative(root, real);
      if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return null;
      const stats = await stat(real);
      return stats.isFile() ? { path: real, stats } : null; // no directory listings
    } catch {
      return null;
    }
  }

  function setHtmlHeaders(req: IncomingMessage, res: ServerResponse): void {
    // The page may only talk to this very server (its Host header was checked above).
    const self = (req.headers.host ?? hostPort(host, port)).toLowerCase();
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; connect-src 'self' ws://${self}; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; ` +
        `script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
    );
    res.setHeader('Cache-Control', 'no-store');
  }

  function sendHtml(req: IncomingMessage, res: ServerResponse, html: string): void {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(html));
    setHtmlHeaders(req, res);
    res.end(req.method === 'HEAD' ? undefined : html);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const { rawPath, query } = splitTarget(req.url ?? '/');
    if (rawPath !== '/ws') return refuseUpgrade(socket, 404, 'Not Found', 'WebSocket only at /ws');
    if (!hostAllowed(req)) return refuseUpgrade(socket, 403, 'Forbidden', 'unexpected Host header');
    // Browsers always send Origin on a WebSocket handshake and a page cannot forge it, so a foreign Origin is another
    // site's page trying to use the user's token-less browser (or a leaked token). A missing Origin is a non-browser
    // client (a script, the tests, the trainer's own CLI): it cannot be a hostile page, and the token guards it.
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin)) return refuseUpgrade(socket, 403, 'Forbidden', 'Origin not allowed');
    if (!tokenMatches(query.get('token'), token)) {
      // A wrong token from an allowed origin (the lab's own page with a stale URL): accept the handshake only to close
      // it at once with a reason, since a browser shows a refused handshake as a bare 1006. Nothing is read or sent.
      wss.handleUpgrade(req, socket, head, (ws) => ws.close(CLOSE_WRONG_TOKEN, 'wrong or missing token: open the exact URL printed in the terminal by npm start or lab serve'));
      return;
    }

    wss.handleUpgrade(req, socket, head, (ws) => {
      const remote = req.socket as Socket;
      const connection = new WsConnection(ws, `ws-${++wsCounter}`, `ws ${remote.remoteAddress}:${remote.remotePort}`, maxBufferedBytes);
      connections.set(ws, connection);
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      ws.on('close', () => connections.delete(ws));
      try {
        options.onConnection(connection);
      } catch (error) {
        console.error('[lab serve] onConnection threw:', error);
        connection.close(1011, 'internal error');
      }
    });
  });

  // A socket that did not answer the last ping is gone (or stopped reading: a ping needs reading to be answered).
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        const connection = connections.get(ws);
        if (connection) connection.terminate('no answer to ping: the client is gone or stopped reading');
        else ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, pingIntervalMs);
  pinger.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(requestedPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    clearInterval(pinger);
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
        clearInterval(pinger);
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

function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Face CNN Lab</title></head>
<body><h1>Face CNN Lab</h1>
<p>The renderer is not built. Run <code>npm run build</code> in the project folder, then reload this page.</p>
<p>The trainer is running: WebSocket clients can connect at <code>/ws</code> with the token.</p>
</body></html>
`;
