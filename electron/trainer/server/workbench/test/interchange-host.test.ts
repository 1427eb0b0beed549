// importCheckpoint and exportRunFor through a real LabHost over a MessagePort, as the Runs view
// sends them: a checkpoint written here (the lab's own network as a PyTorch state_dict) is
// imported from a typed path (serve mode) and from a grant (a desktop window), then exported
// for PyTorch, ONNX and torchrun into folders; what the interchange refuses reaches the viewer
// with its reason, path and remedy.
import * as tf from '@tensorflow/tfjs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../../../../../datasets/test/fixtures';
import { buildModel } from '../../../../../models/lightcnn';
import { LabClient } from '#protocol/client/lab-client';
import { portTransport } from '#protocol/client/port-transport';
import { runRecordSchema } from '#protocol/run-record';
import { exportRun, stateDictOf } from '../../../interchange/export-run';
import { importCheckpoint } from '../../../interchange/import-checkpoint';
import { InterchangeError } from '../../../interchange/interchange-error';
import { writeStateDict } from '../../../interchange/torch-writer';
import { portConnection } from '../../connection';
import { LabHost } from '../../lab-host';
import { appRemedy } from '../interchange';

const SIZE = 32;
let ports = 0;

async function connect(host: LabHost, pathInput: 'dialog' | 'typed') {
  const { port1, port2 } = new MessageChannel();
  host.addConnection(portConnection(port1 as never, `interchange-test-${++ports}`), { pathInput });
  const client = new LabClient(portTransport(port2 as never));
  await client.welcomed();
  return client;
}

const hex32 = (c: string): string => c.repeat(32);

let work = '';
let checkpoint = '';

beforeAll(async () => {
  await tf.setBackend('cpu');
  work = await tempDir('fcl-interchange-host-');
  checkpoint = join(work, 'tiny.pth');
  // The lab's tiny network with a 3-identity classifier, saved as PyTorch saves a state_dict.
  const built = buildModel({ architecture: 'tiny', inputSize: SIZE, numClasses: 3, seed: 5 });
  try {
    await writeStateDict(checkpoint, await stateDictOf(built));
  } finally {
    built.model.dispose();
  }
});

describe('importCheckpoint and exportRunFor through LabHost', () => {
  test('serve mode: a typed checkpoint becomes a run, which exports for PyTorch, ONNX and torchrun', async () => {
    const dataDir = await tempDir();
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const client = await connect(host, 'typed');

    const imported = await client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: checkpoint }, displayName: 'tiny from PyTorch' });
    expect(imported).toMatchObject({
      runId: expect.any(String),
      format: 'zip',
      config: { model: 'tiny', inputSize: SIZE, width: 1, activation: 'mfm:2/1' },
      classifier: { present: true, classes: 3 },
      parameters: expect.any(Number),
      notes: [],
    });
    expect(imported.parameters).toBeGreaterThan(0);
    expect(imported.decisions.join('\n')).toMatch(/architecture: .*from the tensors' names/);
    expect(imported.decisions.join('\n')).toMatch(/width: 1 \(conv1's channels\)/);
    expect(imported.decisions.join('\n')).toMatch(/input size: 32 px/);
    // In the app's words: no command-line flag.
    expect(imported.decisions.join('\n')).not.toMatch(/--[a-z]/);
    expect(imported.decisions.join('\n')).toMatch(/give the activation otherwise/);

    // The run is on disk, marked imported, under the name given; listRuns shows it.
    const record = runRecordSchema.parse(JSON.parse(await readFile(join(dataDir, 'runs', imported.runId, 'run.json'), 'utf8')));
    expect(record).toMatchObject({ displayName: 'tiny from PyTorch', origin: { kind: 'imported', file: checkpoint, classifier: true } });
    const runs = (await client.listRuns()) as { id: string }[];
    expect(runs.map((r) => r.id)).toContain(imported.runId);

    const expected = { pytorch: ['model.pt', 'model.py', 'config.json', 'README.md'], onnx: ['model.onnx', 'config.json', 'README.md'], torchrun: ['model.py', 'train.py', 'config.json', 'README.md'] };
    for (const format of ['pytorch', 'onnx', 'torchrun'] as const) {
      const out = join(work, `serve-${format}`);
      const written = await client.request({ name: 'exportRunFor', runId: imported.runId, format, destination: { kind: 'typed', path: out } });
      expect(written).toEqual({ runId: imported.runId, format, dir: out, files: expect.arrayContaining(expected[format]), step: 0 });
      expect((await readdir(out)).sort()).toEqual([...written.files].sort());
      const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(config).toMatchObject({ model: 'tiny', inputSize: SIZE });
      // torchrun's config is the experiment's; the others name the run and step the weights are of.
      if (format !== 'torchrun') expect(config).toMatchObject({ labRun: imported.runId, labStep: 0 });
    }
    // The files are the ones `lab export` writes.
    const cli = join(work, 'cli-pytorch');
    await exportRun(imported.runId, { dataDir, format: 'pytorch', out: cli });
    expect(await readFile(join(work, 'serve-pytorch', 'model.py'), 'utf8')).toBe(await readFile(join(cli, 'model.py'), 'utf8'));
    expect(Buffer.compare(await readFile(join(work, 'serve-pytorch', 'model.pt')), await readFile(join(cli, 'model.pt')))).toBe(0);

    // The exported state_dict imports back to the same network.
    const back = await client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: join(work, 'serve-pytorch', 'model.pt') } });
    expect(back.config).toEqual(imported.config);
    expect(back.parameters).toBe(imported.parameters);
    client.close();
  }, 60_000);

  test('a folder that holds files is refused unless forced; the runs folder never takes them', async () => {
    const dataDir = await tempDir();
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const client = await connect(host, 'typed');
    const { runId } = await client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: checkpoint } });

    const busy = join(work, 'busy-folder');
    await mkdir(busy, { recursive: true });
    await writeFile(join(busy, 'notes.txt'), 'mine');
    await expect(client.request({ name: 'exportRunFor', runId, format: 'onnx', destination: { kind: 'typed', path: busy } })).rejects.toMatchObject({
      code: 'exists',
      message: expect.stringMatching(/busy-folder is not empty: choose an empty folder .*Replace files of the same names/),
    });
    const forced = await client.request({ name: 'exportRunFor', runId, format: 'onnx', destination: { kind: 'typed', path: busy }, force: true });
    expect(forced.files).toContain('model.onnx');
    expect(await readFile(join(busy, 'notes.txt'), 'utf8')).toBe('mine');

    await expect(client.request({ name: 'exportRunFor', runId, format: 'pytorch', destination: { kind: 'typed', path: join(dataDir, 'runs', runId, 'out') } })).rejects.toMatchObject({
      code: 'bad-path',
      message: expect.stringMatching(/inside the lab's runs folder/),
    });
    await expect(client.request({ name: 'exportRunFor', runId, format: 'pytorch', destination: { kind: 'typed', path: 'relative/out' } })).rejects.toMatchObject({ code: 'bad-path' });
    await expect(client.request({ name: 'exportRunFor', runId: 'no-such-run', format: 'pytorch', destination: { kind: 'typed', path: join(work, 'x') } })).rejects.toMatchObject({
      message: expect.stringMatching(/There is no run "no-such-run"/),
    });
    // A format the lab does not write is refused by the protocol's schema.
    await expect(client.request({ name: 'exportRunFor', runId, format: 'tflite' as never, destination: { kind: 'typed', path: join(work, 'y') } })).rejects.toMatchObject({ code: 'invalid' });
    client.close();
  }, 60_000);

  test("a file that is not a checkpoint: the InterchangeError's message reaches the viewer; a wrong override names the app's fields", async () => {
    const dataDir = await tempDir();
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const client = await connect(host, 'typed');
    const notes = join(work, 'notes.pth');
    await writeFile(notes, 'these are my notes, not a checkpoint\n');
    const refused = await importCheckpoint(notes, { dataDir: await tempDir() }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InterchangeError);
    await expect(client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: notes } })).rejects.toMatchObject({
      code: 'bad-checkpoint',
      message: (refused as InterchangeError).message,
    });

    // The tiny network's tensors are not LightCNN-9's: the remedy names the advanced settings, not --model.
    const wrong = await client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: checkpoint }, model: 'lightcnn9', inputSize: SIZE }).catch((error: unknown) => error as Error & { code: string });
    expect(wrong).toMatchObject({ code: 'bad-checkpoint', message: expect.stringContaining(checkpoint) });
    expect((wrong as Error).message).not.toMatch(/--[a-z]/);
    expect((wrong as Error).message).toMatch(/the model.*\(the import's advanced settings\)/);
    // A bad override is refused by the schema before any file is read.
    await expect(client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: checkpoint }, activation: 'wiggle' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/not a known activation/) });
    await expect(client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: checkpoint }, model: 'resnet50' as never })).rejects.toMatchObject({ code: 'invalid' });
    expect(await readdir(join(dataDir, 'runs')).catch(() => [])).toEqual([]);
    client.close();
  }, 60_000);

  test('a desktop window: typed paths refused; a read grant imports, a write grant (a folder) exports, not the other way round', async () => {
    const dataDir = await tempDir();
    const host = new LabHost({ dataDir, backend: 'cpu', prefetch: 0 });
    const client = await connect(host, 'dialog');
    await expect(client.request({ name: 'importCheckpoint', source: { kind: 'typed', path: checkpoint } })).rejects.toMatchObject({ code: 'bad-path', message: expect.stringMatching(/chosen in a dialog/) });
    expect(host.grants.add({ grant: hex32('a'), path: checkpoint, purpose: 'read' })).toBeNull();
    const out = join(work, 'granted-torchrun');
    expect(host.grants.add({ grant: hex32('b'), path: out, purpose: 'write' })).toBeNull();
    await expect(client.request({ name: 'importCheckpoint', source: { kind: 'grant', grant: hex32('b') } })).rejects.toMatchObject({ code: 'bad-path' });

    const { runId } = await client.request({ name: 'importCheckpoint', source: { kind: 'grant', grant: hex32('a') } });
    await expect(client.request({ name: 'exportRunFor', runId, format: 'torchrun', destination: { kind: 'grant', grant: hex32('a') } })).rejects.toMatchObject({ code: 'bad-path' });
    const written = await client.request({ name: 'exportRunFor', runId, format: 'torchrun', destination: { kind: 'grant', grant: hex32('b') } });
    expect(written.dir).toBe(out);
    expect(await readFile(join(out, 'train.py'), 'utf8')).toMatch(/torch/);
    client.close();
  }, 60_000);
});

describe('appRemedy', () => {
  test("the command line's flags become the app's words; other remedies are kept", () => {
    expect(appRemedy('Check that this is a PyTorch checkpoint written by torch.save')).toBe('Check that this is a PyTorch checkpoint written by torch.save');
    expect(appRemedy('Give --model, --width and --input-size')).toBe("Give the model, the width and the input size (the import's advanced settings)");
    expect(appRemedy('Choose another folder with --out, or pass --force to replace the files of the same names')).toBe('Choose another folder, or tick "Replace files of the same names"');
    expect(appRemedy('Check the space and permissions of the folder, or choose another with --out')).toBe('Check the space and permissions of the folder, or choose another');
  });
});
