// `lab serve` as a user runs it: a child process with a WebSocket server; the renderer's
// own client connects, trains, watches one layer, pauses, resumes, stops and finds the run.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { ORL, sharedDataset, tempDir } from '../../../../datasets/test/fixtures';
import { LabClient } from '#protocol/client/lab-client';
import { webSocketTransport } from '#protocol/client/websocket-transport';
import { rendererDir } from '../../cli/serve-command';
import type { DecodedFrame } from '#protocol/frames';
import type { HistogramsMessage, LayerStatsMessage, ProgressMessage, TrainerEvent } from '#protocol/messages';

const root = resolve(import.meta.dirname, '../../../..');

let child: ChildProcess;
let url = '';
let stderr = '';

beforeAll(async () => {
  const dataDir = await tempDir();
  child = spawn(process.execPath, ['--import', 'tsx', 'electron/trainer/cli/main.ts', '--data-dir', dataDir, 'serve', '--port', '0', '--backend', 'cpu'], {
    cwd: root,
    env: { ...process.env, INIT_CWD: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /Open: (\S+)/.exec(out);
      if (match) done(match[1]!);
    });
    child.once('exit', (code) => fail(new Error(`lab serve exited with ${code}: ${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
});

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function socketUrl(token = new URL(url).searchParams.get('token')!): string {
  const page = new URL(url);
  return `ws://${page.host}/ws?token=${encodeURIComponent(token)}`;
}

async function connect(): Promise<LabClient> {
  const client = new LabClient(await webSocketTransport(socketUrl(), WebSocket));
  await client.welcomed();
  return client;
}

function waitFor<T>(what: string, check: () => T | undefined, ms = 60_000): Promise<T> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const value = check();
      if (value !== undefined) {
        clearInterval(timer);
        done(value);
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        fail(new Error(`timed out waiting for ${what}; trainer stderr: ${stderr}`));
      }
    }, 20);
  });
}

describe('lab serve', () => {
  test('refuses a wrong token and a foreign Origin', async () => {
    const refused = (wsUrl: string, headers: Record<string, string> = {}) =>
      new Promise<number>((done) => {
        const ws = new WebSocket(wsUrl, { headers });
        ws.on('unexpected-response', (_req, res) => done(res.statusCode ?? 0));
        ws.on('open', () => {
          done(101);
          ws.close();
        });
        ws.on('error', () => {});
      });
    const wrongToken = await new Promise<number>((done) => {
      const ws = new WebSocket(socketUrl('not-the-token'));
      ws.on('close', (code) => done(code));
      ws.on('error', () => {});
    });
    expect(wrongToken).toBe(4401);
    expect(await refused(socketUrl(), { Origin: 'http://evil.example' })).toBe(403);
    const page = new URL(url);
    expect(await refused(socketUrl(), { Origin: `http://${page.host}` })).toBe(101);
    expect((await fetch(new URL('/', url))).status).toBe(403); // the page also needs the token
  });

  test('answers a malformed command with an error naming the field', async () => {
    const client = await connect();
    await expect(client.request({ name: 'setProbeRate', intervalMs: 5 } as never)).rejects.toThrow(/intervalMs/);
    client.close();
  });

  const data = sharedDataset(ORL) ? ORL : 'synthetic:10x6';
  test(`trains on ${sharedDataset(ORL) ? 'ORL' : 'the synthetic faces'}: progress, layer stats and frames for the watched layer only; pause, resume, stop, the run on disk`, async () => {
    const client = await connect();
    const progress: ProgressMessage['items'] = [];
    const stats: LayerStatsMessage[] = [];
    const frames: DecodedFrame[] = [];
    const events: TrainerEvent[] = [];
    client.on('progress', (m) => progress.push(...m.items));
    client.on('layerStats', (m) => stats.push(m));
    client.on('frame', (f) => frames.push(f));
    client.on('event', (e) => events.push(e));
    const histograms: HistogramsMessage[] = [];
    client.on('histograms', (m) => histograms.push(m));

    await client.setProbeRate(50);
    const { runId } = await client.start({ data, model: 'tiny', inputSize: 16, batch: 8, epochs: 3, optimizer: 'adam', lr: 0.001, activation: 'relu', seed: 2 });
    await client.subscribe(['group1.b.act']);
    await waitFor('progress, layer stats, histograms and a frame', () => (progress.length >= 3 && stats.length > 0 && histograms.length > 0 && frames.length > 0 ? true : undefined));

    const layers = (events.find((e) => e.type === 'layers') as Extract<TrainerEvent, { type: 'layers' }>).layers;
    expect(layers.map((l) => l.layer)).toContain('conv1.act');
    expect(new Set(frames.map((f) => f.header.layer))).toEqual(new Set(['group1.b.act']));
    expect(stats.at(-1)!.layers.map((l) => l.layer)).toEqual(layers.map((l) => l.layer));
    expect(stats.at(-1)!.layers[0]).toMatchObject({ rule: 'zero', activation: 'relu' });
    // Histograms: step 1 comes first, with every layer and the first convolution's filters.
    const first = histograms[0]!.items[0]!;
    expect(first).toMatchObject({ step: 1, filters: { layer: 'conv1', height: 5, width: 5, inChannels: 1 } });
    expect(first.layers.map((l) => l.layer)).toEqual(layers.map((l) => l.layer));

    await client.pause();
    await waitFor('paused', () => (events.some((e) => e.type === 'state' && e.state === 'paused') ? true : undefined));
    const pausedAt = progress.length;
    // Pausing captures the maps of the weights it paused at (the last capture may be older).
    const pausedStep = progress.at(-1)!.step;
    await waitFor('the paused step\'s maps', () => (frames.some((f) => f.header.layer === 'group1.b.act' && f.header.step === pausedStep) ? true : undefined));
    // Paused, a viewer still gets maps on demand (for a newly watched layer too).
    const before = frames.length;
    await client.subscribe(['conv1.act']);
    await waitFor('a frame while paused', () => (frames.slice(before).some((f) => f.header.layer === 'conv1.act') ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(progress.length).toBe(pausedAt);

    await client.resume();
    await waitFor('more steps', () => (progress.length > pausedAt + 2 ? true : undefined));
    const status = await client.stop();
    expect(status.state).toBe('stopped');

    const runs = (await client.listRuns()) as Array<{ id: string; record?: { state: string } }>;
    expect(runs.find((r) => r.id === runId)?.record?.state).toBe('stopped');
    const run = (await client.getRun(runId)) as { metrics: Array<{ kind?: string }> };
    expect(run.metrics.some((r) => r.kind === 'layers')).toBe(true);
    expect(run.metrics.some((r) => r.kind === 'histograms')).toBe(true);
    client.close();
  }, 180_000);

  test('a viewer that never reads does not grow the trainer: it gets one message per channel, then nothing', async () => {
    const watcher = await connect();
    const sockets: WebSocket[] = [];
    const Recording = class extends WebSocket {
      constructor(address: string) {
        super(address);
        sockets.push(this);
      }
    };
    const slow = new LabClient(await webSocketTransport(socketUrl(), Recording));
    await watcher.setProbeRate(50);
    await watcher.start({ data: 'synthetic:10x6', model: 'tiny', inputSize: 32, batch: 8, epochs: 50, optimizer: 'adam', lr: 0.001, activation: 'relu', seed: 3 });
    const all = ['conv1.act', 'group1.a.act', 'group1.b.act', 'embedding'];
    await slow.subscribe(all, { preActivation: all });
    // From now on the slow viewer's socket is never read: the trainer must not queue for it.
    (sockets[0] as unknown as { _socket: { pause(): void } })._socket.pause();
    let frames = 0;
    let slowFrames = 0;
    watcher.on('frame', () => frames++);
    slow.on('frame', () => slowFrames++);
    await watcher.subscribe(['conv1.act']);
    await waitFor('frames to the healthy viewer', () => (frames >= 3 ? true : undefined));
    const first = await watcher.status();
    // Twelve captures show nothing queues (a queue would hold 8 frames a capture for the slow
    // viewer, against the 16 at most checked below). More would, on a loaded machine (captures
    // slow down, and their interval stretches with them), outlast the server's liveness ping,
    // which cuts a socket that stopped reading on its second unanswered ping (30-60 s).
    await waitFor('many more frames', () => (frames >= 12 ? true : undefined), 120_000);
    const last = await watcher.status();
    // Memory is reported for the record; it is too noisy (tensors on the cpu backend are
    // ArrayBuffers awaiting GC) to be the guard. The guard is the frame count below.
    console.log(`trainer memory over ${frames} captures with a stalled viewer: rss ${mb(first.memory!.rss)} -> ${mb(last.memory!.rss)} MiB, array buffers ${mb(first.memory!.arrayBuffers)} -> ${mb(last.memory!.arrayBuffers)} MiB`);
    expect(last.viewers).toBe(2);
    await watcher.stop();
    // Reading again, the slow viewer finds at most two frames per channel: the one sent before
    // it stopped reading and the latest that replaced everything it missed (8 channels).
    (sockets[0] as unknown as { _socket: { resume(): void } })._socket.resume();
    await new Promise((r) => setTimeout(r, 1000));
    expect(slowFrames).toBeGreaterThan(0);
    expect(slowFrames).toBeLessThanOrEqual(2 * 2 * all.length);
    expect(frames).toBeGreaterThanOrEqual(12);
    slow.close();
    watcher.close();
  }, 240_000);
});


test('serves the built renderer, never the source page (which loads TypeScript)', () => {
  const dir = rendererDir();
  if (dir === null) return; // not built: the server says so on its page
  expect(dir).toBe(resolve(root, 'out/renderer'));
});
