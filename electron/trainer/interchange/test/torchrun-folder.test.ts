// The torchrun folder: train.py trains the exported model with DDP on two CPU processes (gloo)
// and in one process without torchrun, writing checkpoints torch.load(weights_only=True) reads,
// with torchParams' names and a lab_config that parses; its split and schedule are the lab's.
// --init starts from the run's weights (strictly; only a classifier of other classes starts
// afresh), non-finite held-out numbers are written as null, and processes that list different
// datasets all stop, naming the ranks.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildModel, type BuiltModel } from '../../../../models/lightcnn';
import { torchParams } from '../../../../models/torch-layout';
import { classificationSplit } from '../../../../datasets/splits';
import { parseTrainConfig, type TrainConfig } from '../../training/config';
import { buildFromConfig } from '../../training/model-build';
import { learningRate } from '../../training/schedule';
import { torchrunFiles, TORCHRUN_FORMAT } from '../torchrun-folder';
import { stateDictOf } from '../export-run';
import { importCheckpoint } from '../import-checkpoint';
import { loadRunModel } from '../run-weights';
import { readTorchCheckpoint } from '../torch-checkpoint';
import { writeStateDict } from '../torch-writer';
import { runPython, SKIP_TORCH } from './torch-python';

const IDENTITIES = 40;
/** The shared ORL faces (never copied into the repository), when this machine has them. */
const ORL = resolve(import.meta.dirname, '../../../../../shared/datasets/orl_faces');

let dir = '';
let config: TrainConfig;
let built: BuiltModel;

/** Small synthetic faces as binary PGM: 40 identities (or `identities`) of 5, each its own pattern plus noise. */
function writeSyntheticFaces(root: string, identities = IDENTITIES): void {
  const width = 40;
  const height = 48;
  let state = 12345;
  const noise = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 16) % 32;
  };
  for (let id = 0; id < identities; id++) {
    const folder = join(root, `s${id + 1}`);
    mkdirSync(folder, { recursive: true });
    for (let n = 1; n <= 5; n++) {
      const pixels = Buffer.alloc(width * height);
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) pixels[y * width + x] = Math.min(255, Math.round(110 + 80 * Math.sin((x * (id + 3)) / 17 + (y * (id % 5 + 1)) / 11)) + noise());
      writeFileSync(join(folder, `${n}.pgm`), Buffer.concat([Buffer.from(`P5\n${width} ${height}\n255\n`), pixels]));
    }
  }
  writeFileSync(join(root, 'README'), 'not a face: train.py skips files beside the identity folders\n');
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  config = parseTrainConfig({ data: 'orl', model: 'tiny', inputSize: 32, epochs: 2, batch: 16, layers: { 'group1.a': 'prelu', fc: 'maxout:2' }, clipNorm: 1, warmupSteps: 2 });
  built = buildFromConfig(config, IDENTITIES);
  dir = mkdtempSync(join(tmpdir(), 'torchrun-'));
  for (const [name, text] of Object.entries(torchrunFiles(built, config))) writeFileSync(join(dir, name), text);
});

afterAll(() => {
  built?.model.dispose();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('torchrunFiles', () => {
  test('writes model.py, train.py, config.json and README.md', () => {
    const files = torchrunFiles(built, config);
    expect(Object.keys(files).sort()).toEqual(['README.md', 'config.json', 'model.py', 'train.py']);
    const settings = JSON.parse(files['config.json'] ?? '') as Record<string, unknown>;
    expect(settings).toMatchObject({ format: TORCHRUN_FORMAT, model: 'tiny', inputSize: 32, numClasses: IDENTITIES, optimizer: config.optimizer, lr: config.lr, layers: { 'group1.a': 'prelu', fc: 'maxout:2' } });
    const readme = files['README.md'] ?? '';
    expect(readme).toContain('torchrun --nproc_per_node=2 train.py --data faces/');
    expect(readme).toContain('torchrun --nproc_per_node=4 train.py --data faces/ --device cuda');
    expect(readme).toMatch(/--nnodes=2 --node_rank=0 .*--master_addr=/);
    expect(readme).toContain('npm run lab -- import checkpoints/final.pt');
    expect(readme).toContain('torchrun --nproc_per_node=2 train.py --data faces/ --init init.pt');
    expect(readme).toContain('python3 train.py --data faces/ --init init.pt');
    expect(torchrunFiles(built, config, { runId: 'r-7', step: 12, classifier: true })['README.md']).toContain("`init.pt` holds run r-7's weights at step 12");
    expect(files['train.py']).toContain("init_process_group(backend='nccl' if device == 'cuda' else 'gloo')");
  });

  test('refuses a model that the settings do not build', () => {
    const other = buildFromConfig({ ...config, width: 0.5 }, IDENTITIES);
    try {
      expect(() => torchrunFiles(other, config)).toThrow(/width/);
    } finally {
      other.model.dispose();
    }
  });
});

interface Checkpoint {
  keys: string[];
  lab_config: string;
  step: number;
  epoch: number;
  arch: string;
}

/** A port no one listens on now, for torchrun's rendezvous: --standalone always takes 29400,
 *  which another test run on this machine may hold at the same time. */
async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

/** torchrun with 2 processes on this machine. -r 1 -t 1 (stdout to a log file and to the console,
 *  prefixed by rank): Debian's torch 1.13 on Python 3.11 cannot start with the default 0 (its
 *  Std.from_str finds no flag for 0 there). */
async function torchrun2(logs: string): Promise<string[]> {
  return ['-m', 'torch.distributed.run', '--nnodes=1', '--nproc_per_node=2', '--master_addr=127.0.0.1', `--master_port=${await freePort()}`, '-r', '1', '-t', '1', '--log_dir', logs];
}

/** Reads a checkpoint as `lab import` would: weights_only. */
async function readCheckpoint(path: string): Promise<Checkpoint> {
  const script = String.raw`
import json, sys, torch
c = torch.load(sys.argv[1], weights_only=True)
print(json.dumps({'keys': list(c['state_dict'].keys()), 'lab_config': c['lab_config'], 'step': c['step'], 'epoch': c['epoch'], 'arch': c['arch']}))
`;
  return JSON.parse(await runPython(['-c', script, path])) as Checkpoint;
}

describe.skipIf(SKIP_TORCH)('train.py', () => {
  let faces = '';
  /** 3 identities; and the same names with one file of another size. */
  let few = '';
  let fewOther = '';
  beforeAll(() => {
    faces = existsSync(join(ORL, 's1')) ? ORL : join(dir, 'faces');
    if (faces !== ORL) writeSyntheticFaces(faces);
    few = join(dir, 'few');
    fewOther = join(dir, 'few-other');
    writeSyntheticFaces(few, 3);
    writeSyntheticFaces(fewOther, 3);
    appendFileSync(join(fewOther, 's2', '3.pgm'), Buffer.alloc(7));
  });

  test('torchrun on 2 CPU processes: 3 steps, a checkpoint lab import can read', async () => {
    const out = join(dir, 'checkpoints');
    const launch = await torchrun2(join(dir, 'logs'));
    const log = await runPython([...launch, 'train.py', '--data', faces, '--steps', '3', '--out', out], {
      cwd: dir,
      env: { OMP_NUM_THREADS: '1' },
      timeoutMs: 80_000,
    });
    expect(log).toMatch(/40 identities, \d+ images .* 2 process\(es\) x batch 8 on cpu/);
    expect(log).toMatch(/step 3\/3 epoch 0 loss \d/);
    const checkpoint = await readCheckpoint(join(out, 'final.pt'));
    expect(checkpoint.keys).toEqual(torchParams(built).map((p) => p.torch));
    expect(checkpoint).toMatchObject({ step: 3, epoch: 0, arch: 'tiny' });
    const labConfig = JSON.parse(checkpoint.lab_config) as Record<string, unknown>;
    expect(labConfig).toMatchObject({ format: TORCHRUN_FORMAT, model: 'tiny', inputSize: 32, activation: config.activation, layers: config.layers, numClasses: IDENTITIES, batch: 16 });
    expect(labConfig['identities']).toHaveLength(IDENTITIES);
    expect((labConfig['identities'] as string[]).slice(0, 3)).toEqual(['s1', 's2', 's3']);
    expect(labConfig['torchrun']).toMatchObject({ worldSize: 2, batchPerProcess: 8, steps: 3, init: null });
    // The processes compared their listings of --data before reading it.
    expect(log).toMatch(/dataset check: the 2 processes list the same \d+ files of 40 identities \(sha256 [0-9a-f]{12}\)/);

    // Back into the lab: the same network (from lab_config, activations and all), the same weights.
    const imported = await importCheckpoint(join(out, 'final.pt'), { dataDir: join(dir, 'lab') });
    expect(imported.config).toMatchObject({ model: 'tiny', inputSize: 32, activation: config.activation, layers: config.layers, width: config.width });
    expect(imported.decisions).toContain("settings: the lab's own, saved in the file (lab_config)");
    expect(imported.classifier).toEqual({ present: true, classes: IDENTITIES });
    const written = await readTorchCheckpoint(join(out, 'final.pt'));
    const { built: back } = await loadRunModel(join(dir, 'lab'), imported.run.id);
    try {
      for (const entry of await stateDictOf(back)) expect(Array.from(entry.values)).toEqual(Array.from(written.tensors.get(entry.name)?.values ?? []));
    } finally {
      back.model.dispose();
    }
  }, 90_000);

  test('one process without torchrun; an epoch end writes its checkpoint and the held-out accuracy', async () => {
    const out = join(dir, 'single');
    // ORL: 320 training images, batch 16: 20 steps an epoch; synthetic: 160, 10 steps. --batch 64 makes an epoch short.
    const log = await runPython(['train.py', '--data', faces, '--batch', '64', '--epochs', '1', '--out', out], { cwd: dir, env: { OMP_NUM_THREADS: '2' }, timeoutMs: 80_000 });
    expect(log).toMatch(/1 process\(es\) x batch 64/);
    expect(log).toMatch(/epoch 1: held-out loss \d/);
    const final = await readCheckpoint(join(out, 'final.pt'));
    expect(final.epoch).toBe(1);
    const validation = (JSON.parse(final.lab_config) as { validation: { accuracy: number; count: number; step: number } }).validation;
    expect(validation.accuracy).toBeGreaterThanOrEqual(0);
    expect(validation.count).toBeGreaterThan(0);
    expect(validation.step).toBe(final.step);
    expect(existsSync(join(out, `epoch1-step${final.step}.pt`))).toBe(true);
  }, 90_000);

  test("the hold-out split and the learning rate are the lab's", async () => {
    const layouts = [
      [10, 10, 10, 10, 10],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 13],
    ];
    const cases = layouts.flatMap((sizes) =>
      [0.2, 0.25, 0.5].flatMap((holdOut) =>
        [1, 0xfffffffe, 424242].map((seed) => ({ identity: sizes.flatMap((n, id) => Array.from({ length: n }, () => id)), identities: sizes.length, holdOut, seed })),
      ),
    );
    const schedules = [
      { ...config, schedule: 'cosine' as const, warmupSteps: 5, epochs: 3 },
      { ...config, schedule: 'step' as const, warmupSteps: 0, stepEpochs: 2, gamma: 0.5, epochs: 9 },
      { ...config, schedule: 'constant' as const, warmupSteps: 3 },
    ];
    const points = [0, 0.5, 1.25, 2, 2.75, 5.5];
    const script = String.raw`
import json, sys
sys.path.insert(0, '.')
import train
cases, schedules, points = json.loads(sys.argv[1])
print(json.dumps({
  'splits': [train.holdout_split(c['identity'], c['identities'], c['holdOut'], c['seed']) for c in cases],
  'rates': [[train.learning_rate(s, s['epochs'], e, i) for i, e in enumerate(points)] for s in schedules],
}))
`;
    const result = JSON.parse(await runPython(['-c', script, JSON.stringify([cases, schedules, points])], { cwd: dir })) as { splits: Array<[number[], number[]]>; rates: number[][] };
    cases.forEach((c, i) => {
      const lab = classificationSplit({ identities: Array.from({ length: c.identities }, (_, k) => `id${k}`), imageIdentity: c.identity }, { holdOutFraction: c.holdOut, seed: c.seed });
      expect(result.splits[i]).toEqual([[...lab.train], [...lab.test]]);
    });
    schedules.forEach((s, i) => {
      const lab = points.map((epoch, step) => learningRate(s, epoch, step));
      result.rates[i]?.forEach((rate, k) => expect(rate).toBeCloseTo(lab[k] as number, 12));
    });
  }, 60_000);

  describe('--init', () => {
    beforeAll(async () => {
      // What export --format torchrun writes beside train.py: the run's weights, a state_dict.
      await writeStateDict(join(dir, 'init.pt'), await stateDictOf(built));
    });

    test("with the run's identity count: before any step (--steps 0), exactly the lab's weights", async () => {
      const out = join(dir, 'init-same');
      const log = await runPython(['train.py', '--data', faces, '--init', 'init.pt', '--steps', '0', '--out', out], { cwd: dir, timeoutMs: 80_000 });
      expect(log).toContain('--init init.pt: every tensor loaded, the classifier (40 classes) too');
      const final = await readTorchCheckpoint(join(out, 'final.pt'));
      const lab = await stateDictOf(built);
      expect([...final.tensors.keys()]).toEqual(lab.map((e) => e.name));
      for (const entry of lab) expect(Array.from(final.tensors.get(entry.name)?.values ?? []), entry.name).toEqual(Array.from(entry.values));
      const labConfig = JSON.parse(final.info.get('lab_config') ?? '') as { init: unknown; torchrun: { init: unknown; steps: number }; validation: { count: number; step: number } };
      expect(labConfig.torchrun.init).toEqual({ file: join(dir, 'init.pt'), sha256: createHash('sha256').update(readFileSync(join(dir, 'init.pt'))).digest('hex'), classifier: 'loaded' });
      expect(labConfig.init).toBe(config.init); // the initializer's name, which lab import reads, is left alone
      expect(labConfig.torchrun.steps).toBe(0);
      expect(labConfig.validation).toMatchObject({ step: 0 });
      expect(labConfig.validation.count).toBeGreaterThan(0); // the loaded weights, evaluated
    }, 90_000);

    test('with another identity count: the classifier starts afresh, the trunk is init.pt', async () => {
      const out = join(dir, 'init-few');
      const log = await runPython(['train.py', '--data', few, '--init', 'init.pt', '--steps', '0', '--out', out], { cwd: dir, timeoutMs: 80_000 });
      expect(log).toContain("the classifier (fc2) re-initialised for 3 identities (the file's has 40 classes, the data 3 identities)");
      const final = await readTorchCheckpoint(join(out, 'final.pt'));
      for (const entry of await stateDictOf(built)) {
        const got = final.tensors.get(entry.name);
        if (entry.name.startsWith('fc2.')) {
          expect(got?.shape[0], entry.name).toBe(3);
        } else {
          expect(got?.shape, entry.name).toEqual(entry.shape);
          expect(Array.from(got?.values ?? []), entry.name).toEqual(Array.from(entry.values));
        }
      }
      expect(final.tensors.get('fc2.weight')?.shape).toEqual([3, 256]);
      expect((JSON.parse(final.info.get('lab_config') ?? '') as { torchrun: { init: { classifier: string } } }).torchrun.init.classifier).toBe('re-initialised');
    }, 90_000);

    test("another architecture's state_dict stops train.py, naming the keys", async () => {
      const other = buildModel({ architecture: 'lightcnn9', inputSize: 32, numClasses: IDENTITIES, widthMultiplier: 0.25 });
      try {
        await writeStateDict(join(dir, 'lightcnn9.pt'), await stateDictOf(other));
      } finally {
        other.model.dispose();
      }
      const run = runPython(['train.py', '--data', few, '--init', 'lightcnn9.pt', '--steps', '0', '--out', join(dir, 'init-bad')], { cwd: dir, timeoutMs: 80_000 });
      await expect(run).rejects.toThrow(/--init lightcnn9\.pt: not the weights of model\.py \(tiny at 32 px\): .*unexpected features\.4\.\S+.*; shape of features\.0\.filter\.weight \(\[24, 1, 5, 5\] in the file, \[16, 1, 5, 5\] in the model\)/);
      expect(existsSync(join(dir, 'init-bad', 'final.pt'))).toBe(false);
    }, 90_000);
  });

  test('lab_config: a NaN held-out loss is written as null; the dataset comparison names the ranks that differ', async () => {
    const script = String.raw`
import json, math, sys
sys.path.insert(0, '.')
import numpy as np, torch, train, model
out, copy, other = sys.argv[1:4]
net = model.build_model(3)
train.save_checkpoint(out, net, {'model': 'tiny', 'nested': [float('inf'), {'x': np.float32('nan')}]}, 0, 0, (float('nan'), float('-inf'), 3))
summaries = [train.dataset_summary(root, train.list_faces(root)) for root in (copy, other)]
rows = [train.summary_row(s) for s in summaries]
print(json.dumps({
  'lab_config': torch.load(out, weights_only=True)['lab_config'],
  'roundtrip': [train.summary_of_row(r) for r in rows] == summaries,
  'same': train.dataset_mismatch([summaries[0], summaries[0]], 'faces/'),
  'differ': train.dataset_mismatch([summaries[0], summaries[1], summaries[0], summaries[1]], 'faces/'),
  'summaries': summaries,
}))
`;
    const result = JSON.parse(await runPython(['-c', script, join(dir, 'nan.pt'), few, fewOther], { cwd: dir })) as { lab_config: string; roundtrip: boolean; same: string | null; differ: string; summaries: Array<{ identities: number; files: number }> };
    // JSON.parse (lab import) reads it: no NaN or Infinity.
    expect(JSON.parse(result.lab_config)).toEqual({ model: 'tiny', nested: [null, { x: null }], validation: { loss: null, accuracy: null, count: 3, step: 0 } });
    expect(result.roundtrip).toBe(true);
    expect(result.summaries[0]).toMatchObject({ identities: 3, files: 15 });
    expect(result.summaries[1]).toMatchObject({ identities: 3, files: 15 });
    expect(result.same).toBeNull();
    expect(result.differ).toMatch(/^--data faces\/: the processes do not read the same dataset: ranks 0, 2 list 3 identities, 15 files, \d+ bytes \(sha256 [0-9a-f]{12}\); ranks 1, 3 list 3 identities, 15 files/);
  }, 90_000);

  test('torchrun: processes that list different datasets all stop, naming the ranks', async () => {
    // One machine cannot give its processes different copies of --data: a wrapper hands rank 1 another folder.
    writeFileSync(join(dir, 'two-datasets.py'), "import os, sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\nimport train\ntrain.main(['--data', sys.argv[1 + int(os.environ['RANK'])], '--steps', '0', '--out', sys.argv[3]])\n");
    const launch = await torchrun2(join(dir, 'logs-two'));
    const run = runPython([...launch, 'two-datasets.py', few, fewOther, join(dir, 'two-out')], { cwd: dir, timeoutMs: 80_000 });
    await expect(run).rejects.toThrow(/rank 0: --data \S+few: the processes do not read the same dataset: rank 0 lists 3 identities, 15 files, \d+ bytes \(sha256 [0-9a-f]{12}\); rank 1 lists 3 identities, 15 files/);
    await expect(run).rejects.toThrow(/rank 1: --data \S+few-other: the processes do not read the same dataset/);
    expect(existsSync(join(dir, 'two-out', 'final.pt'))).toBe(false);
  }, 90_000);
});
