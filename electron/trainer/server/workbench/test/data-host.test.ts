// The data commands over the protocol, through a real LabHost and MessagePort, as a desktop
// window (paths only through grants) and as a serve-mode browser (typed paths) use them.
import { MessageChannel } from 'node:worker_threads';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { ORL, sharedDataset, tempDir } from '../../../../../datasets/test/fixtures';
import { LabClient } from '#protocol/client/lab-client';
import { portTransport } from '#protocol/client/port-transport';
import type { TrainerEvent } from '#protocol/messages';
import { portConnection } from '../../connection';
import { LabHost } from '../../lab-host';

let ports = 0;

/** A viewer on a MessagePort to the host; 'dialog' is what a desktop window is. */
async function connect(host: LabHost, pathInput: 'dialog' | 'typed') {
  const { port1, port2 } = new MessageChannel();
  host.addConnection(portConnection(port1 as never, `data-test-${++ports}`), { pathInput });
  const client = new LabClient(portTransport(port2 as never));
  const events: TrainerEvent[] = [];
  client.on('event', (event) => events.push(event));
  await client.welcomed();
  return { client, events };
}

const hex32 = (c: string): string => c.repeat(32);

describe.skipIf(!sharedDataset(ORL))('data commands through LabHost', () => {
  test('serve mode: importDataset with progress events and the reply; labInfo; datasetFaces', async () => {
    const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
    const { client, events } = await connect(host, 'typed');
    // Another viewer: request ids are per connection, so another's progress must not reach it.
    const other = await connect(host, 'typed');
    const info = await client.request({ name: 'labInfo' });
    expect(info).toMatchObject({ pathInput: 'typed', backend: { name: 'cpu', canTrain: true } });

    const summary = await client.request({ name: 'importDataset', source: { kind: 'path', path: { kind: 'typed', path: ORL } }, inputSize: 32 });
    expect(summary).toMatchObject({ data: ORL, identities: 40, images: 400, storedSize: 36 });
    const progress = events.filter((e) => e.type === 'importProgress');
    expect(progress.length).toBeGreaterThan(2);
    expect(new Set(progress.map((e) => e.requestId)).size).toBe(1); // all of them for the one request
    expect(progress.at(-1)).toMatchObject({ phase: 'done', done: 400, total: 400 });
    expect(other.events.filter((e) => e.type === 'importProgress')).toEqual([]);
    other.client.close();

    const faces = await client.request({ name: 'datasetFaces', data: summary.data, identityLimit: 2, perIdentity: 3, size: 32 });
    expect(faces.identities.map((i) => i.name)).toEqual(['s1', 's2']);
    const png = Buffer.from(faces.identities[1]!.faces[2]!.png.split(',')[1]!, 'base64');
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 32, height: 32, channels: 1 });
    client.close();
  });

  test('a desktop window: typed paths refused, a granted folder imported, a start on an un-imported path refused and on the imported one accepted', async () => {
    const failures: string[] = [];
    const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0, log: (line) => failures.push(line) });
    const { client, events } = await connect(host, 'dialog');

    await expect(client.request({ name: 'importDataset', source: { kind: 'path', path: { kind: 'typed', path: ORL } }, inputSize: 32 })).rejects.toMatchObject({
      code: 'bad-path',
      message: expect.stringMatching(/chosen in a dialog, not typed: use the Choose button/),
    });
    await expect(client.request({ name: 'importDataset', source: { kind: 'path', path: { kind: 'grant', grant: hex32('b') } } })).rejects.toMatchObject({
      code: 'bad-path',
      message: expect.stringMatching(/has expired.*choose the file or folder again/),
    });
    // A grant for saving is not one for reading.
    expect(host.grants.add({ grant: hex32('c'), path: join(ORL, 'out.zip'), purpose: 'write' })).toBeNull();
    await expect(client.request({ name: 'importDataset', source: { kind: 'path', path: { kind: 'grant', grant: hex32('c') } } })).rejects.toMatchObject({ code: 'bad-path' });

    // Before any import, training on a path is refused (the check in lab-host.ts).
    const config = { model: 'tiny', inputSize: 32, batch: 8, epochs: 1, maxSteps: 1, optimizer: 'adam', lr: 0.001, seed: 3 };
    await expect(client.start({ ...config, data: ORL })).rejects.toMatchObject({ code: 'bad-path', message: expect.stringMatching(/Choose the dataset in the Data view first/) });
    await expect(client.request({ name: 'datasetFaces', data: ORL })).rejects.toMatchObject({ code: 'bad-path' });

    expect(host.grants.add({ grant: hex32('a'), path: ORL, purpose: 'read' })).toBeNull();
    const summary = await client.request({ name: 'importDataset', source: { kind: 'path', path: { kind: 'grant', grant: hex32('a') } }, inputSize: 32 });
    expect(summary).toMatchObject({ data: ORL, identities: 40 });
    expect(events.some((e) => e.type === 'importProgress' && e.phase === 'done')).toBe(true);
    expect((await client.request({ name: 'datasetFaces', data: summary.data, identityLimit: 1, perIdentity: 1 })).identities).toHaveLength(1);

    // Another path is still refused; the imported one trains.
    await expect(client.start({ ...config, data: join(ORL, 's1') })).rejects.toMatchObject({ code: 'bad-path' });
    const started = await client.start({ ...config, data: summary.data });
    expect(started).toMatchObject({ runId: expect.any(String) });
    await host.idle();
    expect(failures).toEqual([]);
    expect(events.some((e) => e.type === 'started' && e.runId === started.runId)).toBe(true);
    client.close();
  }, 120_000);
});
