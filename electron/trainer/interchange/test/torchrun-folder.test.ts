// The torchrun folder: train.py trains the exported model with DDP on two CPU processes (gloo)
// and in one process without torchrun, writing checkpoints torch.load(weights_only=True) reads,
// with torchParams' names and a lab_config that parses; its split and schedule are the lab's.
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BuiltModel } from '../../../../models/lightcnn';
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
import { runPython, SKIP_TORCH } from './torch-python';

const IDENTITIES = 40;
/** The shared ORL faces (never copied into the repository), when this machine has them. */
const ORL = resolve(import.meta.dirname, '../../../../../shared/datasets/orl_faces');

let dir = '';
let config: TrainConfig;
let built: BuiltModel;

/** Small synthetic faces as binary PGM: 40 identities of 5, each its own pattern plus noise. */
function writeSyntheticFaces(root: string): void {
  const width = 40;
  const height = 48;
  let state = 12345;
  const noise = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 16) % 32;
  };
  for (let id = 0; id < IDENTITIES; id++) {
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
  beforeAll(() => {
    faces = existsSync(join(ORL, 's1')) ? ORL : join(dir, 'faces');
    if (faces !== ORL) writeSyntheticFaces(faces);
  });

  test('torchrun on 2 CPU processes: 3 steps, a checkpoint lab import can read', async () => {
    const out = join(dir, 'checkpoints');
    // -r 1 -t 1 (stdout to a log file and to the console, prefixed by rank): Debian's torch 1.13 on
    // Python 3.11 cannot start with the default 0 (its Std.from_str finds no flag for 0 there).
    const launch = ['-m', 'torch.distributed.run', '--nproc_per_node=2', '--standalone', '-r', '1', '-t', '1', '--log_dir', join(dir, 'logs')];
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
    expect(labConfig['torchrun']).toMatchObject({ worldSize: 2, batchPerProcess: 8, steps: 3 });

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
});
