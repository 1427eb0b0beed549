import { fork } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { portConnection, type Connection } from '../connection';
import { CLOSE_TOO_SLOW, TOO_SLOW_REASON, isLoopback, startServeServer, type ServeServer, type ServeServerOptions } from '../ws-server';

const here = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;

let root: string;
let staticDir: string;
const servers: ServeServer[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lab-serve-test-'));
  staticDir = path.join(root, 'renderer');
  await mkdir(path.join(staticDir, 'assets'), { recursive: true });
  await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>lab</title><script type="module" src="./assets/x.js"></script>');
  await writeFile(path.join(staticDir, 'assets', 'x.js'), 'console.log("lab");\n');
  await writeFile(path.join(staticDir, 'assets', 'y.css'), 'body{}\n');
  await writeFile(path.join(root, 'secret.txt'), 'SECRET\n'); // next to staticDir: must never be served
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Starts a server on a free port; connections arrive through next(). */
async function start(options: Partial<ServeServerOptions> = {}) {
  const arrived: Connection[] = [];
  const waiting: Array<(c: Connection) => void> = [];
  const server = await startServeServer({
    port: 0,
    staticDir,
    onConnection: (c) => {
      const w = waiting.shift();
      if (w) w(c);
      else arrived.push(c);
    },
    ...options,
  });
  servers.push(server);
  const next = (): Promise<Connection> => {
    const c = arrived.shift();
    return c ? Promise.resolve(c) : new Promise((resolve) => waiting.push(resolve));
  };
  return { server, next };
}

/** A GET with the path sent exactly as given (fetch would normalize '..' away before sending). */
function rawGet(port: number, rawPath: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: rawPath, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a client and resolves when open. */
async function connect(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await once(ws, 'open');
  return ws;
}

/** The HTTP status a refused upgrade answered with. */
function refusedStatus(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => {}); // follows the terminate above
  });
}

/** Upgrades, then expects the server to close at once: resolves with the close code and reason. */
function closedAtOnce(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<{ code: number; reason: string; messages: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    let messages = 0;
    ws.on('message', () => messages++);
    ws.on('unexpected-response', (_req, res) => reject(new Error(`refused with HTTP ${res.statusCode}`)));
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), messages }));
    ws.on('error', () => {});
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

function nextServerMessage(c: Connection): Promise<unknown> {
  return new Promise((resolve) => c.onMessage(resolve));
}

describe('isLoopback', () => {
  it('knows loopback names from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '10.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });
});

describe('HTTP', () => {
  it('serves the page with the token, with a strict CSP, and sets the cookie', async () => {
    const { server } = await start();
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${encodeURIComponent(server.token)}`);
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${server.port}/ws?token=${encodeURIComponent(server.token)}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);

    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('<title>lab</title>');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port}`);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const cookie = res.headers.get('set-cookie') ?? '';
    // Not the token itself: a value derived from it, named for the port.
    expect(cookie).toMatch(new RegExp(`^lab_assets_${server.port}=[A-Za-z0-9_-]{43};`));
    expect(cookie).not.toContain(server.token);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
  });

  it('refuses the page without the token or with a wrong one', async () => {
    const { server } = await start();
    const base = `http://127.0.0.1:${server.port}`;
    for (const url of [`${base}/`, `${base}/?token=nope`, `${base}/?token=${server.token}x`, `${base}/assets/x.js`]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(403);
      expect(await res.text(), url).toContain('open the exact URL printed in the terminal by npm start or lab serve');
    }
    const wrongCookie = await fetch(`${base}/assets/x.js`, { headers: { cookie: `lab_assets_${server.port}=wrong` } });
    expect(wrongCookie.status).toBe(403);
    // The asset cookie opens static files only: never the page, never the socket.
    const page = await fetch(server.url);
    const assetCookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect((await fetch(`${base}/`, { headers: { cookie: assetCookie } })).status).toBe(403);
    const value = assetCookie.split('=')[1]!;
    expect((await closedAtOnce(`ws://127.0.0.1:${server.port}/ws?token=${value}`)).code).toBe(4401);
  });

  it('lets the cookie load the page’s assets, with their content types', async () => {
    const { server } = await start();
    const page = await fetch(server.url);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const js = await fetch(`http://127.0.0.1:${server.port}/assets/x.js`, { headers: { cookie } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-security-policy')).toBeNull();
    expect(await js.text()).toBe('console.log("lab");\n');
    const css = await fetch(`http://127.0.0.1:${server.port}/assets/y.css`, { headers: { cookie } });
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const missing = await fetch(`http://127.0.0.1:${server.port}/assets/nope.js`, { headers: { cookie } });
    expect(missing.status).toBe(404);
  });

  it('refuses path traversal and directory listings', async () => {
    const { server } = await start();
    const page = await fetch(server.url);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/../package.json', '/%2e%2e/package.json', '/assets', '/assets/', '/%00']) {
      const res = await rawGet(server.port, p, { cookie });
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain('SECRET');
    }
    // The query token works the same way.
    const res = await rawGet(server.port, `/../secret.txt?token=${encodeURIComponent(server.token)}`);
    expect(res.status).toBe(404);
  });

  it('refuses a foreign Host header (DNS rebinding), accepts localhost', async () => {
    const { server } = await start();
    const token = encodeURIComponent(server.token);
    const evil = await rawGet(server.port, `/?token=${token}`, { host: `evil.example:${server.port}` });
    expect(evil.status).toBe(403);
    const local = await rawGet(server.port, `/?token=${token}`, { host: `localhost:${server.port}` });
    expect(local.status).toBe(200);
    expect(String(local.headers['content-security-policy'])).toContain(`ws://localhost:${server.port}`);
  });

  it('says the renderer is not built when there is none, still behind the token', async () => {
    const { server } = await start({ staticDir: null });
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('npm run build');
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(403);
    const empty = await start({ staticDir: path.join(root, 'does-not-exist') });
    expect(await (await fetch(empty.server.url)).text()).toContain('npm run build');
  });

  it('explains a port in use', async () => {
    const { server } = await start();
    await expect(startServeServer({ port: server.port, staticDir, onConnection: () => {} })).rejects.toThrow(
      `port ${server.port} is in use; pass --port N or --port 0 for any free port`,
    );
  });
});

describe('WebSocket upgrade', () => {
  it('is closed at once with 4401 and a reason without the token or with a wrong one; refused elsewhere than /ws (404), from a foreign Host (403)', async () => {
    const { server } = await start();
    const base = `ws://127.0.0.1:${server.port}`;
    for (const url of [`${base}/ws`, `${base}/ws?token=wrong`, `${base}/ws?token=${encodeURIComponent(server.token)}x`]) {
      const closed = await closedAtOnce(url, { origin: `http://127.0.0.1:${server.port}` });
      expect(closed, url).toEqual({ code: 4401, reason: 'wrong or missing token: open the exact URL printed in the terminal by npm start or lab serve', messages: 0 });
    }
    expect(await refusedStatus(`${base}/?token=${encodeURIComponent(server.token)}`)).toBe(404);
    expect(await refusedStatus(server.wsUrl, { headers: { host: `evil.example:${server.port}` } })).toBe(403);
  });

  it('is refused from a foreign Origin (403) even with the token', async () => {
    const { server } = await start();
    for (const origin of ['http://evil.example', `http://evil.example:${server.port}`, `https://127.0.0.1:${server.port}`, `http://127.0.0.1:${server.port + 1}`, 'null']) {
      expect(await refusedStatus(server.wsUrl, { origin }), origin).toBe(403);
    }
  });

  it('is accepted with the token, with our own Origin or none', async () => {
    const { server, next } = await start();
    for (const options of [{}, { origin: `http://127.0.0.1:${server.port}` }, { origin: `http://localhost:${server.port}` }]) {
      const client = await connect(server.wsUrl, options);
      const c = await next();
      expect(c.id).toMatch(/^ws-\d+$/);
      expect(c.label).toMatch(/^ws 127\.0\.0\.1:\d+$/);
      const reason = new Promise<string>((resolve) => c.onClose(resolve));
      client.close();
      expect(await reason).toBe('closed by the client (code 1005)');
      expect(c.closed).toBe(true);
    }
  });
});

describe('wsConnection', () => {
  it('round-trips JSON and sends binary frames', async () => {
    const { server, next } = await start();
    const client = await connect(server.wsUrl);
    const c = await next();

    const received = nextServerMessage(c);
    client.send(JSON.stringify({ type: 'subscribe', layers: ['conv1'] }));
    expect(await received).toEqual({ type: 'subscribe', layers: ['conv1'] });

    let reply = nextMessage(client);
    c.sendJson({ type: 'progress', step: 3 });
    const text = await reply;
    expect(text.isBinary).toBe(false);
    expect(JSON.parse(text.data.toString('utf8'))).toEqual({ type: 'progress', step: 3 });

    reply = nextMessage(client);
    c.sendBinary(new Uint8Array([1, 2, 3, 250]).buffer);
    const binary = await reply;
    expect(binary.isBinary).toBe(true);
    expect([...binary.data]).toEqual([1, 2, 3, 250]);
    client.close();
  });

  it('delivers invalid JSON and binary messages as __invalid', async () => {
    const { server, next } = await start();
    const client = await connect(server.wsUrl);
    const c = await next();
    const messages: unknown[] = [];
    c.onMessage((m) => messages.push(m));
    client.send('{not json');
    client.send(Buffer.from([1, 2, 3]), { binary: true });
    client.send('"a string is JSON"');
    await expect.poll(() => messages.length).toBe(3);
    expect((messages[0] as { __invalid: string }).__invalid).toMatch(/^not JSON/);
    expect(messages[1]).toEqual({ __invalid: 'binary messages are not accepted' });
    expect(messages[2]).toBe('a string is JSON');
    client.close();
  });

  it('keeps messages that arrive before the core listens', async () => {
    const { server, next } = await start();
    const client = await connect(server.wsUrl);
    client.send('{"type":"early"}');
    const c = await next();
    await new Promise((r) => setTimeout(r, 50));
    expect(await nextServerMessage(c)).toEqual({ type: 'early' });
    client.close();
  });

  it('closes a client that never reads (4008) instead of buffering without bound', async () => {
    const maxBufferedBytes = 4 * MiB;
    const { server, next } = await start({ maxBufferedBytes });
    const client = await connect(server.wsUrl);
    const c = await next();
    const closeReason = new Promise<string>((resolve) => c.onClose(resolve));
    const clientClosed = new Promise<number>((resolve) => client.once('close', (code: number) => resolve(code)));

    // The client stops reading: what the server sends piles up in the kernel, then in the server's memory.
    const clientSocket = (client as unknown as { _socket: Socket })._socket;
    clientSocket.pause();

    let maxBuffered = 0;
    let sent = 0;
    // Up to 400 MiB offered: far beyond any kernel buffer, so without the guard the server's memory would grow.
    while (!c.closed && sent < 400) {
      c.sendBinary(new ArrayBuffer(MiB));
      sent++;
      maxBuffered = Math.max(maxBuffered, c.bufferedBytes);
      await new Promise((r) => setImmediate(r)); // let the socket write what the kernel takes
    }
    expect(c.closed).toBe(true);
    expect(await closeReason).toBe(TOO_SLOW_REASON);
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes);

    // Sends after the close are dropped, not buffered, and do not throw.
    const bufferedAtClose = c.bufferedBytes;
    for (let i = 0; i < 20; i++) c.sendBinary(new ArrayBuffer(MiB));
    c.sendJson({ type: 'late' });
    expect(c.bufferedBytes).toBeLessThanOrEqual(bufferedAtClose);

    // When the client reads again it finds the close frame behind the data.
    clientSocket.resume();
    expect(await clientClosed).toBe(CLOSE_TOO_SLOW);
  });

  it('terminates a client that stops answering pings', async () => {
    const { server, next } = await start({ pingIntervalMs: 100 });
    const client = await connect(server.wsUrl);
    client.on('error', () => {});
    const c = await next();
    (client as unknown as { _socket: Socket })._socket.pause(); // a paused client cannot read the ping, so no pong
    const reason = await new Promise<string>((resolve) => c.onClose(resolve));
    expect(reason).toMatch(/ping/);
    client.terminate();
  });
});

describe('close()', () => {
  it('closes every socket and the server', async () => {
    const { server, next } = await start();
    const client = await connect(server.wsUrl);
    const c = await next();
    const clientClosed = new Promise<number>((resolve) => client.once('close', (code: number) => resolve(code)));
    const reason = new Promise<string>((resolve) => c.onClose(resolve));
    // A keep-alive HTTP connection must not hold close() open.
    expect((await fetch(server.url)).status).toBe(200);
    await server.close();
    expect(await clientClosed).toBe(1001);
    expect(await reason).toContain('shutting down');
    await expect(fetch(server.url)).rejects.toThrow();
    await server.close(); // twice is fine
  });
});

describe('portConnection', () => {
  it('sends JSON and transfers ArrayBuffers over a worker_threads MessageChannel', async () => {
    const { port1, port2 } = new MessageChannel();
    const c = portConnection(port1, 'port-1');
    expect(c.id).toBe('port-1');
    expect(c.bufferedBytes).toBe(0);
    const got: unknown[] = [];
    port2.on('message', (value) => got.push(value));

    c.sendJson({ type: 'progress', step: 1 });
    const frame = new Uint8Array([9, 8, 7]).buffer;
    c.sendBinary(frame);
    expect(frame.byteLength).toBe(0); // transferred: the caller no longer has it
    await expect.poll(() => got.length).toBe(2);
    expect(got[0]).toEqual({ type: 'progress', step: 1 });
    expect(got[1]).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(got[1] as ArrayBuffer)]).toEqual([9, 8, 7]);

    const incoming: unknown[] = [];
    c.onMessage((m) => incoming.push(m));
    port2.postMessage({ type: 'pause' });
    port2.postMessage(new ArrayBuffer(4));
    await expect.poll(() => incoming.length).toBe(2);
    expect(incoming[0]).toEqual({ type: 'pause' });
    expect(incoming[1]).toEqual({ __invalid: 'binary messages are not accepted' });

    const otherSideClosed = once(port2, 'close');
    const reason = new Promise<string>((resolve) => c.onClose(resolve));
    c.close();
    expect(c.closed).toBe(true);
    await otherSideClosed;
    expect(await reason).toBe('closed by the trainer');
    expect(() => c.sendJson({ dropped: true })).not.toThrow();
    expect(() => c.sendBinary(new ArrayBuffer(8))).not.toThrow();
  });

  it('notices the other side closing', async () => {
    const { port1, port2 } = new MessageChannel();
    const c = portConnection(port1, 'port-2');
    const reason = new Promise<string>((resolve) => c.onClose(resolve));
    port2.close();
    expect(await reason).toBe('the port was closed');
    expect(c.closed).toBe(true);
  });

  it('unwraps Electron MessagePortMain events and copies frames where it cannot transfer them', async () => {
    // Shaped like Electron's MessagePortMain: an EventEmitter, {data, ports} events, only ports in transfer lists.
    const posted: unknown[] = [];
    class FakeMessagePortMain extends EventEmitter {
      started = false;
      start(): void {
        this.started = true;
      }
      close(): void {
        this.emit('close');
      }
      postMessage(value: unknown, transfer?: readonly unknown[]): void {
        if (transfer && transfer.some((t) => t instanceof ArrayBuffer)) throw new TypeError('Invalid value for transfer');
        posted.push(value);
      }
    }
    const fake = new FakeMessagePortMain();
    const c = portConnection(fake, 'port-3');
    expect(fake.started).toBe(true);
    const frame = new Uint8Array([1, 2]).buffer;
    c.sendBinary(frame);
    expect(posted).toHaveLength(1);
    expect([...new Uint8Array(posted[0] as ArrayBuffer)]).toEqual([1, 2]);

    const incoming: unknown[] = [];
    c.onMessage((m) => incoming.push(m));
    fake.emit('message', { data: { type: 'stop' }, ports: [] });
    await expect.poll(() => incoming.length).toBe(1);
    expect(incoming[0]).toEqual({ type: 'stop' });
    const reason = new Promise<string>((resolve) => c.onClose(resolve));
    fake.emit('close');
    expect(await reason).toBe('the port was closed');
  });
});

describe('parentProcessConnection', () => {
  it('talks to the parent over fork IPC, binary frames included (serialization: advanced)', async () => {
    const child = path.join(root, 'child.ts');
    const connectionModule = path.join(here, '..', 'connection.ts');
    await writeFile(
      child,
      `import { parentProcessConnection } from ${JSON.stringify(connectionModule)};
const c = parentProcessConnection();
c.onMessage((m: any) => {
  if (m && m.type === 'echo') c.sendJson({ echoed: m.value });
  if (m && m.type === 'frame') c.sendBinary(new Uint8Array([4, 5, 6]).buffer);
  if (m && m.__invalid) c.sendJson({ invalid: m.__invalid });
});
c.onClose(() => process.exit(0));
`,
    );
    const proc = fork(child, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', cwd: path.join(here, '..', '..', '..', '..'), stdio: 'inherit' });
    try {
      const messages: unknown[] = [];
      proc.on('message', (m) => messages.push(m));
      proc.send({ type: 'echo', value: 42 });
      proc.send({ type: 'frame' });
      proc.send(new Uint8Array([1]));
      await expect.poll(() => messages.length, { timeout: 30_000 }).toBe(3);
      expect(messages[0]).toEqual({ echoed: 42 });
      expect(messages[1]).toBeInstanceOf(ArrayBuffer);
      expect([...new Uint8Array(messages[1] as ArrayBuffer)]).toEqual([4, 5, 6]);
      expect(messages[2]).toEqual({ invalid: 'binary messages are not accepted' });
      const exited = once(proc, 'exit');
      proc.disconnect(); // the child's connection closes on 'disconnect' and the child exits
      const [code] = (await exited) as [number];
      expect(code).toBe(0);
    } finally {
      if (proc.exitCode === null) proc.kill();
    }
  });
});
