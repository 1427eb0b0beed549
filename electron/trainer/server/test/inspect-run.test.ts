// inspectRun through a real LabHost and MessagePort, as the app's Runs view sends it: an imported
// run looked at with the synthetic set streams as training does (started with `inspection`,
// layer stats, histograms, the watched layer's maps, the end state) and is kept in the run; it is
// refused while a run trains, and a desktop window cannot name a typed path.
import { MessageChannel } from 'node:worker_threads';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { LabClient } from '#protocol/client/lab-client';
import { portTransport } from '#protocol/client/port-transport';
import type { DecodedFrame } from '#protocol/frames';
import type { LayerStatsMessage, TrainerEvent } from '#protocol/messages';
import { importedRun } from '../../inspection/test/imported-run';
import { portConnection } from '../connection';
import { LabHost } from '../lab-host';

let ports = 0;
let dataDir = '';
let runId = '';

async function connect(host: LabHost, pathInput: 'dialog' | 'typed') {
  const { port1, port2 } = new MessageChannel();
  host.addConnection(portConnection(port1 as never, `inspect-test-${++ports}`), { pathInput });
  const client = new LabClient(portTransport(port2 as never));
  const events: TrainerEvent[] = [];
  const stats: LayerStatsMessage[] = [];
  const frames: DecodedFrame[] = [];
  client.on('event', (event) => events.push(event));
  client.on('layerStats', (message) => stats.push(message));
  client.on('frame', (frame) => frames.push(frame));
  await client.welcomed();
  return { client, events, stats, frames };
}

const SYNTHETIC = { kind: 'synthetic', identities: 4, imagesPerIdentity: 4 } as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dataDir = await tempDir('fcl-inspect-host-');
  runId = await importedRun(dataDir, { name: 'host' });
}, 60_000);

describe('inspectRun through the lab host', () => {
  test('an imported run is streamed as training is, and its pass is kept in the run', async () => {
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const { client, events, stats, frames } = await connect(host, 'dialog'); // the synthetic set needs no path
    await client.subscribe(['conv1.act']);
    await expect(client.inspectRun(runId, SYNTHETIC)).resolves.toEqual({ runId });
    await host.idle();
    await new Promise((r) => setTimeout(r, 50));
    expect(events.find((e) => e.type === 'started')).toMatchObject({ runId, step: 0, inspection: { images: 16, checkpointStep: 0, source: expect.stringMatching(/^synthetic:4x4/) } });
    expect(events.some((e) => e.type === 'layers')).toBe(true);
    expect(events.find((e) => e.type === 'state' && e.state === 'finished')).toMatchObject({ runId, message: expect.stringMatching(/looked at 16 images/) });
    expect(stats.at(-1)?.layers.map((l) => l.layer)).toEqual(['conv1.act', 'group1.a.act', 'group1.b.act', 'embedding']);
    expect(frames.some((f) => f.header.layer === 'conv1.act')).toBe(true);
    // The ended pass still answers for other maps, as an ended run does.
    const before = frames.length;
    await client.subscribe(['group1.a.act']);
    await new Promise((r) => setTimeout(r, 50));
    expect(frames.slice(before).some((f) => f.header.layer === 'group1.a.act')).toBe(true);
    const detail = await client.getRun(runId);
    expect(detail.record.state).toBe('finished');
    expect(detail.metrics.filter((row) => row['inspection'] !== undefined).map((row) => row['kind'])).toEqual(['layers', 'histograms']);
    client.close();
    await host.close();
  }, 60_000);

  test('refused while a run trains, saying which and what to do', async () => {
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const { client } = await connect(host, 'typed');
    await client.start({ data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 1, maxSteps: 500, optimizer: 'adam', lr: 0.001, seed: 4 });
    const refused = await client.inspectRun(runId, SYNTHETIC).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'busy', message: expect.stringMatching(/^run .* is training: stop it before starting another/) });
    await client.stop();
    client.close();
    await host.close();
  }, 60_000);

  test('a desktop window cannot name a typed path; a typed path in serve mode is opened (and a missing one named)', async () => {
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const desktop = await connect(host, 'dialog');
    const missing = join(dataDir, 'no-such-faces');
    await expect(desktop.client.inspectRun(runId, { kind: 'path', path: { kind: 'typed', path: missing } })).rejects.toThrow(/typed|dialog|choose/i);
    const served = await connect(host, 'typed');
    await expect(served.client.inspectRun(runId, { kind: 'path', path: { kind: 'typed', path: missing } })).rejects.toThrow(/no-such-faces/);
    desktop.client.close();
    served.client.close();
    await host.close();
  }, 60_000);
});
