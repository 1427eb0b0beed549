// The client against real transports: a tiny fake trainer on a real WebSocket
// (the `ws` package) and on a real MessageChannel. The fake validates what it
// receives with the protocol's own parser, as the trainer does.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { LabClient } from '../lab-client';
import { LabError } from '../lab-error';
import { connectFromLocation, labSocketUrl } from '../connect';
import { portTransport } from '../port-transport';
import { webSocketTransport, type WebSocketConstructor } from '../websocket-transport';
import {
  PROTOCOL_VERSION,
  encodeFrame,
  parseClientMessage,
  type ClientMessage,
  type DecodedFrame,
  type FrameHeader,
  type HistogramsMessage,
  type ServerMessage,
} from '../../index';

const TOKEN = 'secret-token-123';
const Ws = WebSocket as unknown as WebSocketConstructor;

function frameBuffer(step: number, channel = 'frame:conv1.act'): ArrayBuffer {
  const header: FrameHeader = {
    channel,
    kind: 'activation',
    layer: 'conv1.act',
    step,
    probes: [0, 10],
    channels: 3,
    height: 2,
    width: 2,
    trueHeight: 4,
    trueWidth: 4,
    filterOffset: 0,
    capturedAt: Date.now(),
  };
  const stats = new Float32Array(2 * 3 * 4).map((_, i) => i / 4);
  const maps = new Uint8Array(2 * 3 * 2 * 2).map((_, i) => i);
  return encodeFrame(header, stats, maps);
}

const progress = (step: number): ServerMessage => ({
  type: 'progress',
  channel: 'progress',
  items: [{ step, epoch: 0, loss: step === 2 ? null : 1 / step, accuracy: 0.5, lr: 0.01, gradNorm: 1, imagesPerSecond: 200, stepMs: 40, at: 1764150000000 + step }],
});

const layerStats = (step: number): ServerMessage => ({ type: 'layerStats', channel: 'layerStats', step, epoch: 0, window: 50, layers: [] });

/**
 * What the fake trainer does with one valid command: reply (return a result or
 * throw {message, code}), push extra messages first, or do something drastic.
 */
type Send = (message: ServerMessage | ArrayBuffer) => void;

function fakeCommand(message: Extract<ClientMessage, { type: 'command' }>, send: Send, hangUp: () => void): void {
  const { id, command } = message;
  const reply = (result: unknown) => send({ type: 'reply', id, ok: true, result });
  switch (command.name) {
    case 'status':
      return reply({ state: null, runId: null, step: null, totalSteps: null });
    case 'getRun':
      return send({ type: 'reply', id, ok: false, error: { message: `There is no run "${command.runId}"`, code: 'not-found' } });
    case 'subscribe':
      return reply({ layers: command.layers, preActivation: command.preActivation, fullMap: command.fullMap });
    case 'start':
      // One message on each streamed channel, then the reply.
      send(progress(1));
      send(layerStats(1));
      send(frameBuffer(1));
      return reply({ runId: 'run-1' });
    case 'probeNow':
      send(new TextEncoder().encode('not a frame at all').buffer as ArrayBuffer);
      return reply(null);
    case 'pause':
      return hangUp(); // never answers: pending requests must be rejected on close
    default:
      return reply({ echoed: command.name });
  }
}

/** The trainer's edge: parse, refuse with a reply when there is an id, else a bare error. */
function fakeTrainerReceive(raw: unknown, received: ClientMessage[], send: Send, hangUp: () => void): void {
  const parsed = parseClientMessage(raw);
  if (!parsed.ok) {
    if (parsed.id !== undefined) send({ type: 'reply', id: parsed.id, ok: false, error: { message: parsed.error, code: 'invalid' } });
    else send({ type: 'error', message: parsed.error });
    return;
  }
  received.push(parsed.message);
  if (parsed.message.type === 'command') fakeCommand(parsed.message, send, hangUp);
}

interface FakeServer {
  port: number;
  url: string;
  received: ClientMessage[];
  sockets: WebSocket[];
  close(): Promise<void>;
}

async function startFakeServer(): Promise<FakeServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const received: ClientMessage[] = [];
  const sockets: WebSocket[] = [];
  wss.on('connection', (socket, request) => {
    sockets.push(socket);
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/ws' || url.searchParams.get('token') !== TOKEN) {
      socket.close(4401, 'bad token: open the URL the trainer printed');
      return;
    }
    const send: Send = (message) => socket.send(message instanceof ArrayBuffer ? message : JSON.stringify(message));
    send({ type: 'welcome', protocol: PROTOCOL_VERSION, lab: '0.1.0', pid: process.pid });
    socket.on('message', (data, isBinary) => {
      if (isBinary) send({ type: 'error', message: 'binary messages are not commands' });
      else fakeTrainerReceive(data.toString(), received, send, () => socket.terminate());
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws?token=${TOKEN}`,
    received,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        wss.close(() => resolve());
      }),
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const acks = (received: ClientMessage[]) => received.filter((m) => m.type === 'ack').map((m) => (m as { channel: string }).channel);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connected(): Promise<{ server: FakeServer; client: LabClient }> {
  const server = await startFakeServer();
  cleanups.push(() => server.close());
  const client = new LabClient(await webSocketTransport(server.url, Ws));
  cleanups.push(() => client.close());
  return { server, client };
}

describe('LabClient over a WebSocket', () => {
  it('gets the welcome and answers to requests, with incrementing ids', async () => {
    const { server, client } = await connected();
    const welcome = await client.welcomed();
    expect(welcome).toMatchObject({ type: 'welcome', protocol: PROTOCOL_VERSION, pid: process.pid });
    expect(await client.status()).toEqual({ state: null, runId: null, step: null, totalSteps: null });
    expect(await client.subscribe(['conv1.act'], { preActivation: ['conv1.act'] })).toEqual({
      layers: ['conv1.act'],
      preActivation: ['conv1.act'],
      fullMap: null,
    });
    expect(await client.listRuns()).toEqual({ echoed: 'listRuns' });
    const ids = server.received.map((m) => (m.type === 'command' ? m.id : -1));
    expect(ids).toEqual([1, 2, 3]);
  });

  it("rejects with the trainer's error code on an ok:false reply", async () => {
    const { client } = await connected();
    const error = await client.getRun('missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabError);
    expect(error).toMatchObject({ code: 'not-found', message: 'There is no run "missing"' });
    // Refused at the trainer's edge: the reply names the field.
    const invalid = await client.setProbeRate(1).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: 'invalid', message: expect.stringMatching(/^command\.intervalMs: /) });
  });

  it('dispatches streamed messages, decodes frames, and acks each channel after its listeners ran', async () => {
    const { server, client } = await connected();
    const seen: string[] = [];
    const frames: DecodedFrame[] = [];
    client.on('progress', (m) => seen.push(`progress ${m.items[0]?.step} acks=${acks(server.received).length}`));
    client.on('layerStats', (m) => seen.push(`layerStats ${m.step}`));
    client.on('frame', (frame) => {
      frames.push(frame);
      seen.push(`frame ${frame.header.step}`);
    });
    expect(await client.start({ model: 'lightcnn9' })).toEqual({ runId: 'run-1' });
    expect(seen).toEqual(['progress 1 acks=0', 'layerStats 1', 'frame 1']);
    await until(() => acks(server.received).length === 3, 'three acks');
    expect(acks(server.received)).toEqual(['progress', 'layerStats', 'frame:conv1.act']);
    const frame = frames[0]!;
    expect(frame.header).toMatchObject({ layer: 'conv1.act', probes: [0, 10], channels: 3, trueHeight: 4 });
    expect([...frame.map(1, 2)]).toEqual([20, 21, 22, 23]);
    expect(frame.statsOf(1, 2)).toEqual({ min: 5, max: 5.25, mean: 5.5, maxAbs: 5.75 });
  });

  it('hands on histograms messages and acks their channel as it does layer stats', async () => {
    const { server, client } = await connected();
    const seen: HistogramsMessage[] = [];
    client.on('histograms', (m) => seen.push(m));
    await client.welcomed();
    const histogram = { min: -1, max: 1, counts: [1, 2, 3], counted: 6, total: 6, stride: 1 };
    const message: ServerMessage = { type: 'histograms', channel: 'histograms', items: [{ step: 7, epoch: 0, layers: [{ layer: 'conv1.act', weights: histogram, activations: null }], filters: null }] };
    server.sockets[0]!.send(JSON.stringify(message));
    await until(() => acks(server.received).length === 1, 'the ack');
    expect(acks(server.received)).toEqual(['histograms']);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.items[0]).toMatchObject({ step: 7, layers: [{ layer: 'conv1.act', weights: { counts: [1, 2, 3] }, activations: null }] });
  });

  it('reports unreadable messages to error listeners instead of throwing', async () => {
    const { server, client } = await connected();
    const errors: string[] = [];
    client.on('error', (message) => errors.push(message));
    await client.welcomed();
    server.sockets[0]!.send('{oops');
    server.sockets[0]!.send(JSON.stringify({ type: 'error', message: 'could not understand you' }));
    await client.probeNow(); // the fake sends a binary message that is not a frame first
    await until(() => errors.length === 3, 'three errors');
    expect(errors[0]).toMatch(/^unreadable message from the trainer: /);
    expect(errors[1]).toBe('could not understand you');
    expect(errors[2]).toMatch(/^Unreadable activation frame: not an activation frame/);
  });

  it('stops calling a listener once unsubscribed', async () => {
    const { server, client } = await connected();
    let calls = 0;
    const off = client.on('progress', () => calls++);
    await client.start({});
    off();
    await client.start({});
    expect(calls).toBe(1);
    await until(() => acks(server.received).length === 6, 'six acks'); // acked even with nobody listening
  });

  it('rejects pending requests and tells listeners when the connection drops', async () => {
    const { client } = await connected();
    const reasons: string[] = [];
    client.on('close', (reason) => reasons.push(reason));
    const error = await client.pause().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabError);
    expect(error).toMatchObject({ code: 'closed', message: expect.stringMatching(/closed before it answered pause/) });
    expect(reasons).toHaveLength(1);
    await expect(client.status()).rejects.toMatchObject({ code: 'closed' });
  });

  it('surfaces the reason when the trainer refuses the token', async () => {
    const server = await startFakeServer();
    cleanups.push(() => server.close());
    const error = await webSocketTransport(`ws://127.0.0.1:${server.port}/ws?token=wrong`, Ws).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabError);
    expect(error).toMatchObject({ code: 'unauthorized' });
    expect((error as Error).message).toMatch(/bad token: open the URL the trainer printed \(code 4401\)/);
    expect((error as Error).message).not.toContain('wrong'); // the token is not echoed into logs
  });

  it('says why when nothing listens', async () => {
    const server = await startFakeServer();
    const port = server.port;
    await server.close();
    const error = await webSocketTransport(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, Ws).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'connect-failed', message: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('gives up on a server that accepts but never speaks', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => silent.once('listening', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    silent.on('connection', (socket) => cleanups.push(() => socket.terminate()));
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/ws?token=${TOKEN}`;
    await expect(webSocketTransport(url, Ws, { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'connect-failed',
      message: expect.stringMatching(/did not answer within 100 ms/),
    });
  });

  it('connects from a served page address', async () => {
    const server = await startFakeServer();
    cleanups.push(() => server.close());
    const client = await connectFromLocation({ protocol: 'http:', host: `127.0.0.1:${server.port}`, search: `?token=${TOKEN}` }, Ws);
    cleanups.push(() => client.close());
    expect((await client.welcomed()).protocol).toBe(PROTOCOL_VERSION);
  });
});

describe('labSocketUrl', () => {
  it('derives the socket address from the page address', () => {
    expect(labSocketUrl({ protocol: 'http:', host: '127.0.0.1:7860', search: '?token=a%2Bb&x=1' })).toBe('ws://127.0.0.1:7860/ws?token=a%2Bb');
    expect(labSocketUrl({ protocol: 'https:', host: 'lab.example', search: '?token=t' })).toBe('wss://lab.example/ws?token=t');
    expect(() => labSocketUrl({ protocol: 'http:', host: 'h', search: '' })).toThrow(/no \?token=/);
  });
});

describe('LabClient over a MessagePort', () => {
  function fakePortTrainer(port: MessagePort): ClientMessage[] {
    const received: ClientMessage[] = [];
    const send: Send = (message) => (message instanceof ArrayBuffer ? port.postMessage(message, [message]) : port.postMessage(message));
    port.on('message', (raw) => fakeTrainerReceive(raw, received, send, () => port.close()));
    return received;
  }

  it('requests, streams transferred frames and acks them', async () => {
    const { port1, port2 } = new MessageChannel();
    const received = fakePortTrainer(port2);
    const transport = portTransport(port1);
    // Sent before the client exists: kept until it listens.
    port2.postMessage({ type: 'welcome', protocol: PROTOCOL_VERSION, lab: '0.1.0', pid: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const client = new LabClient(transport);
    cleanups.push(() => client.close());
    expect((await client.welcomed()).pid).toBe(1);

    const frames: DecodedFrame[] = [];
    client.on('frame', (frame) => frames.push(frame));
    expect(await client.start({})).toEqual({ runId: 'run-1' });
    expect(frames.map((f) => f.header.channel)).toEqual(['frame:conv1.act']);
    // A frame posted as a Node Buffer (a view, not an ArrayBuffer) decodes too.
    port2.postMessage(Buffer.from(frameBuffer(2, 'full')));
    await until(() => frames.length === 2, 'the second frame');
    expect(frames[1]!.header).toMatchObject({ channel: 'full', step: 2 });
    await until(() => acks(received).length === 4, 'four acks');
    expect(acks(received)).toEqual(['progress', 'layerStats', 'frame:conv1.act', 'full']);
    await expect(client.getRun('r')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('rejects pending requests when the trainer closes the port', async () => {
    const { port1, port2 } = new MessageChannel();
    fakePortTrainer(port2);
    const client = new LabClient(portTransport(port1));
    cleanups.push(() => client.close());
    const closed = new Promise<string>((resolve) => client.on('close', resolve));
    await expect(client.pause()).rejects.toMatchObject({ code: 'closed' });
    expect(await closed).toBe('the trainer closed the port');
  });
});
