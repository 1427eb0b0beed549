import * as tf from '@tensorflow/tfjs';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, RunError, saveCheckpoint, type CheckpointData, type NamedArray } from '../checkpoint';
import { createRun, listRuns, openRun, resolveRun, runRecordSchema, type RunHandle, type RunInit } from '../run-store';

let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  scratch = await mkdtemp(join(tmpdir(), 'fcl-runs-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
async function freshDir(): Promise<string> {
  const dir = join(scratch, `d${counter++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

const init = (overrides: Partial<RunInit> = {}): RunInit => ({
  config: { model: 'lightcnn9', activation: 'relu', lr: 0.01, batch: 64 },
  dataset: { name: 'orl_faces', source: '/data/orl_faces', hash: 'abc123', identities: 40, images: 400, synthetic: false },
  backend: 'cpu',
  versions: { lab: '0.1.0' },
  ...overrides,
});

/** A few tensors with awkward values: every float bit pattern must come back. */
function sampleTensors(seed = 1): Array<{ name: string; tensor: tf.Tensor }> {
  const floats = new Float32Array(3 * 4 * 5);
  for (let i = 0; i < floats.length; i++) floats[i] = Math.sin(seed * 1000 + i) * 10 ** ((i % 9) - 4);
  floats.set([Number.NaN, Infinity, -Infinity, -0, 1.4e-45, 3.4028234663852886e38], 0);
  const ints = new Int32Array([0, 1, -1, 2147483647, -2147483648, 42, seed]);
  return [
    { name: 'conv1/kernel', tensor: tf.tensor(floats, [3, 4, 5], 'float32') },
    { name: 'rng/state', tensor: tf.tensor(ints, [7], 'int32') },
    { name: 'scalar', tensor: tf.scalar(seed + 0.5) },
    { name: 'empty', tensor: tf.tensor([], [0, 3], 'float32') },
    { name: 'odd', tensor: tf.tensor(new Float32Array([1, 2, 3]), [3]) }, // 12 bytes: the next one needs padding
    { name: 'after-odd', tensor: tf.tensor(new Int32Array([7, 8]), [1, 2], 'int32') },
  ];
}

function bytesOf(t: tf.Tensor | NamedArray): Uint8Array {
  const values = 'values' in t ? t.values : (t.dataSync() as Float32Array | Int32Array);
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

function disposeAll(named: Array<{ tensor: tf.Tensor }>): void {
  for (const { tensor } of named) tensor.dispose();
}

async function flipByte(path: string, position: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, position);
    one[0] = (one[0] as number) ^ 0x01;
    await handle.write(one, 0, 1, position);
  } finally {
    await handle.close();
  }
}

async function headerLength(path: string): Promise<number> {
  return (await readFile(path)).readUInt32LE(12);
}

async function expectRunError(promise: Promise<unknown>, pattern: RegExp): Promise<RunError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunError);
  expect((error as RunError).message).toMatch(pattern);
  return error as RunError;
}

describe('checkpoint file', () => {
  it('round-trips float32 and int32 tensors bit for bit, with shapes, step, epoch and meta', async () => {
    const dir = await freshDir();
    const path = join(dir, 'a.ckpt');
    const start = tf.memory().numTensors;
    const tensors = sampleTensors();
    const meta = { rng: { seed: 7, counter: 123456789 }, optimizerUpdates: 12, note: 'ünïcode ✓', nested: [1, 2, { x: null }] };
    const { bytes } = await saveCheckpoint(path, { step: 123, epoch: 2, meta, tensors });
    expect((await stat(path)).size).toBe(bytes);
    expect(tf.memory().numTensors).toBe(start + tensors.length); // saving made no tensors

    const loaded = await loadCheckpoint(path);
    expect(loaded.step).toBe(123);
    expect(loaded.epoch).toBe(2);
    expect(loaded.meta).toEqual(meta);
    expect([...loaded.arrays.keys()]).toEqual(tensors.map((t) => t.name));
    for (const { name, tensor } of tensors) {
      const back = loaded.arrays.get(name) as NamedArray;
      expect(back.dtype).toBe(tensor.dtype);
      expect(back.shape).toEqual(tensor.shape);
      expect(bytesOf(back)).toEqual(bytesOf(tensor));
    }
    expect(tf.memory().numTensors).toBe(start + tensors.length); // loading made no tensors
    disposeAll(tensors);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('saves arrays already in memory exactly as the tensors they hold', async () => {
    const dir = await freshDir();
    const tensors = sampleTensors();
    const arrays: NamedArray[] = tensors.map(({ name, tensor }) => ({ name, dtype: tensor.dtype as 'float32' | 'int32', shape: [...tensor.shape], values: tensor.dataSync() as Float32Array | Int32Array }));
    await saveCheckpoint(join(dir, 't.ckpt'), { step: 3, epoch: 0, meta: {}, tensors });
    await saveCheckpoint(join(dir, 'a.ckpt'), { step: 3, epoch: 0, meta: {}, tensors: arrays });
    disposeAll(tensors);
    expect(await readFile(join(dir, 'a.ckpt'))).toEqual(await readFile(join(dir, 't.ckpt')));
    const wrong = { name: 'w', dtype: 'float32' as const, shape: [2, 2], values: new Float32Array(3) };
    await expect(saveCheckpoint(join(dir, 'x.ckpt'), { step: 1, epoch: 0, meta: {}, tensors: [wrong] })).rejects.toThrow(/"w": Float32Array\[3\] for float32\[4\]/);
  });

  it('lays the file out as documented: magic, version, header, 8-aligned data, SHA-256 of the rest', async () => {
    const dir = await freshDir();
    const path = join(dir, 'layout.ckpt');
    const tensors = sampleTensors();
    await saveCheckpoint(path, { step: 1, epoch: 0, meta: {}, tensors });
    disposeAll(tensors);
    const file = await readFile(path);
    expect(file.subarray(0, 8).toString('latin1')).toBe('FCLCHKPT');
    expect(file.readUInt32LE(8)).toBe(1);
    const h = file.readUInt32LE(12);
    expect((16 + h) % 8).toBe(0);
    const header = JSON.parse(file.subarray(16, 16 + h).toString('utf8'));
    expect(header.byteOrder).toBe('little');
    for (const t of header.tensors) expect(t.offset % 8).toBe(0);
    expect(file.length).toBe(16 + h + header.dataLength + 32);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(file.subarray(0, file.length - 32)).digest()).toEqual(file.subarray(file.length - 32));
  });

  describe('damage is detected and named', () => {
    let good: Buffer;
    let dir: string;
    beforeAll(async () => {
      dir = await freshDir();
      const tensors = sampleTensors();
      await saveCheckpoint(join(dir, 'good.ckpt'), { step: 5, epoch: 1, meta: { a: 1 }, tensors });
      disposeAll(tensors);
      good = await readFile(join(dir, 'good.ckpt'));
    });

    async function damagedCopy(name: string, change: (path: string) => Promise<void>): Promise<string> {
      const path = join(dir, name);
      await writeFile(path, good);
      await change(path);
      return path;
    }

    it('truncated file', async () => {
      const start = tf.memory().numTensors;
      for (const keep of [good.length - 1, good.length - 40, 100, 20, 9, 3, 0]) {
        const path = await damagedCopy(`trunc-${keep}.ckpt`, (p) => truncate(p, keep));
        const error = await expectRunError(loadCheckpoint(path), /The checkpoint is damaged \((truncated|checksum mismatch)/);
        expect(error.message).toContain(path);
        expect(error.kind).toBe('damaged');
      }
      const path = join(dir, 'trunc-40.ckpt');
      await writeFile(path, good.subarray(0, good.length - 40));
      await expectRunError(loadCheckpoint(path), /truncated: \d+ of \d+ bytes/);
      expect(tf.memory().numTensors).toBe(start); // nothing half-made is left behind
    });

    it('one flipped byte in the data', async () => {
      const h = good.readUInt32LE(12);
      for (const offset of [16 + h, 16 + h + 5, good.length - 33]) {
        const path = await damagedCopy(`data-${offset}.ckpt`, (p) => flipByte(p, offset));
        const error = await expectRunError(loadCheckpoint(path), /checksum mismatch/);
        expect(error.message).toBe(`The checkpoint is damaged (checksum mismatch): ${path}. Resume from the previous checkpoint, or start a new run`);
      }
    });

    it('one flipped byte in the header, its length field, the version or the checksum itself', async () => {
      const h = await headerLength(join(dir, 'good.ckpt'));
      const header = good.subarray(16, 16 + h).toString('utf8');
      const positions = [
        8, // version
        12, // header length
        13,
        16, // the "{"
        16 + header.indexOf('"step"') + 2, // a key
        16 + header.indexOf('conv1/kernel') + 1, // a tensor's name: still valid JSON
        16 + header.indexOf('"shape":[3,4,5]') + 9, // a dimension: 3 -> 2
        16 + h - 1, // padding
        good.length - 1, // the checksum
      ];
      for (const position of positions) {
        const path = await damagedCopy(`header-${position}.ckpt`, (p) => flipByte(p, position));
        const error = await expectRunError(loadCheckpoint(path), /The checkpoint is damaged \(checksum mismatch\)/);
        expect(error.path).toBe(path);
      }
    });

    it('wrong magic (not a checkpoint at all)', async () => {
      const flipped = await damagedCopy('magic.ckpt', (p) => flipByte(p, 0));
      await expectRunError(loadCheckpoint(flipped), /not a Face CNN Lab checkpoint \(wrong magic number\).*magic\.ckpt/);
      const png = join(dir, 'image.ckpt');
      await writeFile(png, Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(200)]));
      await expectRunError(loadCheckpoint(png), /not a Face CNN Lab checkpoint/);
    });

    it('a missing file', async () => {
      const error = await expectRunError(loadCheckpoint(join(dir, 'nope.ckpt')), /does not exist.*nope\.ckpt/);
      expect(error.kind).toBe('missing');
    });

    it('a newer format version with a valid checksum is named as such, not as damage', async () => {
      const { createHash } = await import('node:crypto');
      const copy = Buffer.from(good);
      copy.writeUInt32LE(2, 8);
      createHash('sha256').update(copy.subarray(0, copy.length - 32)).digest().copy(copy, copy.length - 32);
      const path = join(dir, 'v2.ckpt');
      await writeFile(path, copy);
      const error = await expectRunError(loadCheckpoint(path), /newer version of the lab \(format 2/);
      expect(error.kind).toBe('newer-format');
    });
  });

  it('refuses what it cannot store faithfully', async () => {
    const dir = await freshDir();
    const b = tf.tensor([true, false], [2], 'bool');
    const x = tf.scalar(1);
    await expect(saveCheckpoint(join(dir, 'x.ckpt'), { step: 1, epoch: 0, meta: {}, tensors: [{ name: 'b', tensor: b }] })).rejects.toThrow(/only float32 and int32/);
    await expect(saveCheckpoint(join(dir, 'x.ckpt'), { step: 1, epoch: 0, meta: {}, tensors: [{ name: 'x', tensor: x }, { name: 'x', tensor: x }] })).rejects.toThrow(/two checkpoint tensors are named "x"/);
    await expect(saveCheckpoint(join(dir, 'x.ckpt'), { step: -1, epoch: 0, meta: {}, tensors: [] })).rejects.toThrow(/step/);
    b.dispose();
    x.dispose();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('run store', () => {
  it('creates a run folder with a valid run.json, empty metrics and a checkpoints folder', async () => {
    const dataDir = await freshDir();
    const run = await createRun(dataDir, init({ now: new Date('2026-11-26T08:50:12.345Z') }));
    expect(run.id).toMatch(/^2026-11-26T08-50-12_lightcnn9_relu_[0-9a-f]{4}$/);
    expect(run.dir).toBe(join(dataDir, 'runs', run.id));
    const onDisk = runRecordSchema.parse(JSON.parse(await readFile(join(run.dir, 'run.json'), 'utf8')));
    expect(onDisk).toEqual(run.record);
    expect(onDisk).toMatchObject({
      id: run.id,
      createdAt: '2026-11-26T08:50:12.345Z',
      state: 'running',
      backend: 'cpu',
      pid: process.pid,
      config: { model: 'lightcnn9', activation: 'relu' },
      dataset: { name: 'orl_faces', hash: 'abc123', identities: 40, images: 400, synthetic: false },
      versions: { lab: '0.1.0', node: process.versions.node, tfjs: tf.version.tfjs },
    });
    expect(await readFile(join(run.dir, 'metrics.jsonl'), 'utf8')).toBe('');
    expect((await stat(join(run.dir, 'checkpoints'))).isDirectory()).toBe(true);

    // Labels are made safe for a folder name.
    const other = await createRun(dataDir, init({ label: 'LightCNN-29 / mfm:3/2 ..', now: new Date('2026-11-26T08:50:12Z') }));
    expect(other.id).toMatch(/^2026-11-26T08-50-12_lightcnn-29-mfm-3-2_[0-9a-f]{4}$/);
    const third = await createRun(dataDir, init({ config: { model: 'tiny', activation: 'mfm:2/1' } }));
    expect(third.id).toMatch(/_tiny_mfm-2-1_[0-9a-f]{4}$/);
  });

  it('updates run.json atomically and validates it; opens it again as written', async () => {
    const dataDir = await freshDir();
    const run = await createRun(dataDir, init());
    await run.updateRun({ state: 'failed', failure: { step: 812, message: 'loss became NaN at step 812 with lr 0.3' }, summary: { bestAccuracy: 0.93 } });
    const again = await openRun(dataDir, run.id);
    expect(again.record).toMatchObject({ state: 'failed', failure: { step: 812 }, summary: { bestAccuracy: 0.93 } });
    expect(again.record.pid).toBeUndefined();
    // Resuming clears the failure and records this process again.
    await again.updateRun({ state: 'running', failure: undefined });
    expect((await openRun(dataDir, run.id)).record).toMatchObject({ state: 'running', pid: process.pid });
    expect((await openRun(dataDir, run.id)).record.failure).toBeUndefined();
    // An invalid patch is refused and leaves the file as it was.
    const before = await readFile(again.runFile, 'utf8');
    await expect(again.updateRun({ state: 'exploded' as never })).rejects.toThrow();
    expect(await readFile(again.runFile, 'utf8')).toBe(before);
    expect((await readdir(again.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('lists runs newest first, a damaged run.json listed as damaged with the reason, an orphaned "running" run as interrupted', async () => {
    const dataDir = await freshDir();
    const a = await createRun(dataDir, init({ now: new Date('2026-01-01T00:00:00Z'), state: 'finished' }));
    const c = await createRun(dataDir, init({ now: new Date('2026-03-01T00:00:00Z') }));
    const b = await createRun(dataDir, init({ now: new Date('2026-02-01T00:00:00Z'), state: 'paused' }));
    // A trainer that was killed: state "running", its process gone.
    const child = spawnSync(process.execPath, ['-e', '0']);
    const deadPid = child.pid as number;
    const killed = await createRun(dataDir, init({ now: new Date('2026-02-15T00:00:00Z') }));
    await writeFile(killed.runFile, JSON.stringify({ ...killed.record, pid: deadPid }));

    const runs = join(dataDir, 'runs');
    await mkdir(join(runs, '2026-04-01T00-00-00_broken_0000'));
    await writeFile(join(runs, '2026-04-01T00-00-00_broken_0000', 'run.json'), '{"id": "2026-04-01T00-00-00_broken_0000", "state": ');
    await mkdir(join(runs, '2025-12-01T00-00-00_wrong_0000'));
    await writeFile(join(runs, '2025-12-01T00-00-00_wrong_0000', 'run.json'), JSON.stringify({ ...a.record, id: 'x', state: 'exploded' }));
    await mkdir(join(runs, '2025-11-01T00-00-00_empty_0000'));
    await writeFile(join(runs, 'not-a-folder.txt'), 'x');

    const list = await listRuns(dataDir);
    expect(list.map((r) => r.id)).toEqual([
      '2026-04-01T00-00-00_broken_0000',
      c.id,
      killed.id,
      b.id,
      a.id,
      '2025-12-01T00-00-00_wrong_0000',
      '2025-11-01T00-00-00_empty_0000',
    ]);
    const byId = new Map(list.map((r) => [r.id, r]));
    expect(byId.get('2026-04-01T00-00-00_broken_0000')).toMatchObject({ ok: false, reason: expect.stringMatching(/run\.json is not valid JSON/) });
    expect(byId.get('2025-12-01T00-00-00_wrong_0000')).toMatchObject({ ok: false, reason: expect.stringMatching(/state/) });
    expect(byId.get('2025-11-01T00-00-00_empty_0000')).toMatchObject({ ok: false, reason: 'run.json is missing' });
    expect(byId.get(killed.id)).toMatchObject({ ok: true, interrupted: true });
    expect(byId.get(c.id)).toMatchObject({ ok: true, interrupted: false, record: { state: 'running' } }); // this process
    expect(byId.get(b.id)).toMatchObject({ ok: true, interrupted: false, record: { state: 'paused' } });

    await expectRunError(openRun(dataDir, '2026-04-01T00-00-00_broken_0000'), /run\.json is not valid JSON.*broken_0000/);
    expect(await listRuns(await freshDir())).toEqual([]);
  });

  it('resolves a run by id, unique prefix, part of its name, "latest" or path; names the candidates when ambiguous', async () => {
    const dataDir = await freshDir();
    const x = await createRun(dataDir, init({ label: 'lightcnn9_relu', now: new Date('2026-05-01T10:00:00Z') }));
    const y = await createRun(dataDir, init({ label: 'lightcnn9_prelu', now: new Date('2026-05-01T11:00:00Z') }));
    const z = await createRun(dataDir, init({ label: 'tiny_mfm', now: new Date('2026-06-02T09:00:00Z') }));
    expect((await resolveRun(dataDir, x.id)).id).toBe(x.id);
    expect((await resolveRun(dataDir, '2026-06')).id).toBe(z.id);
    expect((await resolveRun(dataDir, '2026-05-01T11')).id).toBe(y.id);
    expect((await resolveRun(dataDir, 'prelu')).id).toBe(y.id);
    expect((await resolveRun(dataDir, 'latest')).id).toBe(z.id);
    expect((await resolveRun(dataDir, x.dir)).id).toBe(x.id);
    const ambiguous = await expectRunError(resolveRun(dataDir, '2026-05'), /"2026-05" matches 2 runs: /);
    expect(ambiguous.message).toContain(x.id);
    expect(ambiguous.message).toContain(y.id);
    expect(ambiguous.kind).toBe('ambiguous');
    await expectRunError(resolveRun(dataDir, 'lightcnn9'), /matches 2 runs/);
    const missing = await expectRunError(resolveRun(dataDir, '2027'), /No run matches "2027"/);
    expect(missing.kind).toBe('not-found');
    await expectRunError(resolveRun(dataDir, join(dataDir, 'nowhere')), /no run folder here/);
    await expectRunError(openRun(dataDir, '../etc'), /not a run id/);
  });

  describe('metrics', () => {
    const row = (step: number) => ({ step, epoch: Math.floor(step / 4), loss: 5 - step / 10, accuracy: step / 100, lr: 0.01, imagesPerSecond: 100 + step, stepMs: 12.5 });

    it('appends rows and reads them back; a torn final line is ignored and reported, then cut before the next append', async () => {
      const run = await createRun(await freshDir(), init());
      await run.appendMetrics([row(1), row(2)]);
      await run.appendMetrics([row(3)]);
      await run.flushMetrics();
      expect((await run.readMetrics()).rows).toEqual([row(1), row(2), row(3)]);

      // The process is killed in the middle of writing row 4.
      const full = `${JSON.stringify(row(4))}\n`;
      await appendFile(run.metricsFile, full.slice(0, 25));
      const reopened = await openRun(join(run.dir, '..', '..'), run.id);
      const read = await reopened.readMetrics();
      expect(read.rows).toEqual([row(1), row(2), row(3)]);
      expect(read.tornFinalLine).toBe(true);
      expect(read.warnings).toEqual([expect.stringMatching(/ends with an incomplete line \(25 bytes, line 4\).*ignored/)]);

      // The resumed trainer appends: the torn piece is cut, not glued to the new row.
      await reopened.appendMetrics([row(4), row(5)]);
      const after = await reopened.readMetrics();
      expect(after).toEqual({ rows: [row(1), row(2), row(3), row(4), row(5)], warnings: [], tornFinalLine: false });
    });

    it('skips and reports a damaged line in the middle; NaN losses are stored as null', async () => {
      const run = await createRun(await freshDir(), init());
      await run.appendMetrics([row(1)]);
      await appendFile(run.metricsFile, 'garbage\n{"no":"step"}\n');
      await run.appendMetrics([{ ...row(2), loss: Number.NaN }]);
      const read = await run.readMetrics();
      expect(read.rows).toEqual([row(1), { ...row(2), loss: null }]);
      expect(read.warnings).toEqual([expect.stringMatching(/line 2 .*not valid JSON/), expect.stringMatching(/line 3 .*needs a step/)]);
      expect(read.tornFinalLine).toBe(false);
    });

    it('truncateMetricsAfter drops the rows newer than the checkpoint so the curve continues where it left', async () => {
      const run = await createRun(await freshDir(), init());
      await run.appendMetrics(Array.from({ length: 10 }, (_, i) => row(i + 1)));
      await appendFile(run.metricsFile, '{"step": 11, "epo'); // killed mid-line as well
      const result = await run.truncateMetricsAfter(6);
      expect(result).toMatchObject({ kept: 6, dropped: 4 });
      expect(result.warnings).toEqual([expect.stringMatching(/incomplete line/)]);
      await run.appendMetrics([row(7), row(8)]);
      const read = await run.readMetrics();
      expect(read.rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(read.warnings).toEqual([]);
    });
  });

  describe('checkpoints in a run', () => {
    async function save(run: RunHandle, step: number, keep?: number) {
      const tensors = sampleTensors(step);
      try {
        return await run.saveCheckpoint({ step, epoch: Math.floor(step / 10), meta: { step }, tensors }, keep === undefined ? {} : { keep });
      } finally {
        disposeAll(tensors);
      }
    }
    const files = async (run: RunHandle) => (await readdir(run.checkpointsDir)).sort();

    it('writes step-N.ckpt, records it in run.json, keeps the newest K and never the just-written one', async () => {
      const run = await createRun(await freshDir(), init());
      const first = await save(run, 10, 2);
      expect(first).toMatchObject({ file: 'checkpoints/step-000010.ckpt', step: 10, removed: [] });
      expect((await openRun(join(run.dir, '..', '..'), run.id)).record.lastCheckpoint).toEqual({ file: 'checkpoints/step-000010.ckpt', step: 10 });
      await save(run, 20, 2);
      const third = await save(run, 30, 2);
      expect(third.removed).toEqual(['checkpoints/step-000010.ckpt']);
      await save(run, 40, 2);
      expect(await files(run)).toEqual(['step-000030.ckpt', 'step-000040.ckpt']);

      // keep=1: the previous one goes only once the new one is complete.
      await save(run, 50, 1);
      expect(await files(run)).toEqual(['step-000050.ckpt']);
      const latest = await run.loadLatestCheckpoint();
      expect(latest?.step).toBe(50);

      // Default K = 3.
      for (const step of [60, 70, 80, 90]) await save(run, step);
      expect(await files(run)).toEqual(['step-000070.ckpt', 'step-000080.ckpt', 'step-000090.ckpt']);
    });

    it('a failed save deletes nothing; after a resume from an earlier step, the abandoned later checkpoints go', async () => {
      const run = await createRun(await freshDir(), init());
      await save(run, 30, 2);
      await save(run, 40, 2);
      const disposed = tf.scalar(1);
      disposed.dispose();
      await expect(run.saveCheckpoint({ step: 50, epoch: 5, meta: {}, tensors: [{ name: 'w', tensor: disposed }] }, { keep: 1 })).rejects.toThrow(/disposed/);
      expect(await files(run)).toEqual(['step-000030.ckpt', 'step-000040.ckpt']);
      expect(run.record.lastCheckpoint?.step).toBe(40);

      // Resumed from 30 (say 40 was damaged), the trainer saves 35: 40 belongs to an abandoned timeline.
      const saved = await save(run, 35, 2);
      expect(saved.removed).toEqual(['checkpoints/step-000040.ckpt']);
      expect(await files(run)).toEqual(['step-000030.ckpt', 'step-000035.ckpt']);
    });

    it('loadLatestCheckpoint falls back from a damaged newest checkpoint with a warning', async () => {
      const run = await createRun(await freshDir(), init());
      expect(await run.loadLatestCheckpoint()).toBeUndefined();
      await save(run, 1);
      await save(run, 2);
      await save(run, 3);
      const start = tf.memory().numTensors;
      await flipByte(join(run.checkpointsDir, 'step-000003.ckpt'), 200);

      const latest = await run.loadLatestCheckpoint();
      expect(latest?.step).toBe(2);
      expect(latest?.file).toBe('checkpoints/step-000002.ckpt');
      expect(latest?.meta).toEqual({ step: 2 });
      expect(latest?.warnings).toEqual([
        'checkpoints/step-000003.ckpt (step 3) cannot be used: the checkpoint is damaged (checksum mismatch); resuming from checkpoints/step-000002.ckpt (step 2) instead',
      ]);
      const expected = sampleTensors(2);
      for (const { name, tensor } of expected) expect(bytesOf(latest?.arrays.get(name) as NamedArray)).toEqual(bytesOf(tensor));
      disposeAll(expected);
      expect(tf.memory().numTensors).toBe(start);

      await truncate(join(run.checkpointsDir, 'step-000002.ckpt'), 50);
      await writeFile(join(run.checkpointsDir, 'step-000001.ckpt'), 'not a checkpoint');
      const error = await expectRunError(run.loadLatestCheckpoint(), /None of the 3 checkpoint\(s\) of this run can be read/);
      expect(error.kind).toBe('damaged');
    });

    it('removes temp files left by a killed writer only when asked', async () => {
      const run = await createRun(await freshDir(), init());
      await writeFile(join(run.checkpointsDir, '.step-000009.ckpt.abcdef.tmp'), 'half');
      await save(run, 10);
      expect(await files(run)).toContain('.step-000009.ckpt.abcdef.tmp');
      expect(await run.removeStaleTempFiles()).toHaveLength(1);
      expect(await files(run)).toEqual(['step-000010.ckpt']);
    });

    it('keeps tf.memory().numTensors flat across many saves and loads', async () => {
      const run = await createRun(await freshDir(), init());
      const start = tf.memory().numTensors;
      for (let step = 1; step <= 15; step++) {
        await save(run, step);
        const latest = await run.loadLatestCheckpoint();
        }
      expect(tf.memory().numTensors).toBe(start);
    });
  });
});

// A full disk, for real: a 1 MiB tmpfs mounted for this test (we are root in the
// sandbox and in CI). The disk is filled with a plain file until the kernel says
// ENOSPC; then a checkpoint is saved. No mocks.
describe('full disk while saving a checkpoint', () => {
  let mountPoint = '';
  let mounted = false;
  let whyNot = '';

  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'fcl-fulldisk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint], { stdio: 'pipe' });
      mounted = true;
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      whyNot = `cannot mount a small tmpfs here (${stderr || (error as Error).message}); needs root and CAP_SYS_ADMIN`;
    }
  });

  afterAll(async () => {
    if (mounted) {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
      }
    }
    await rm(mountPoint, { recursive: true, force: true });
  });

  afterEach(async () => {
    if (mounted) await rm(join(mountPoint, 'filler'), { force: true });
  });

  async function fillDisk(): Promise<number> {
    const handle = await open(join(mountPoint, 'filler'), 'a');
    const block = Buffer.alloc(4096, 0xab);
    let total = 0;
    try {
      for (;;) {
        const { bytesWritten } = await handle.write(block, 0, block.length);
        total += bytesWritten;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      await handle.close();
    }
    return total;
  }

  it('gives a clear error, keeps the previous checkpoint intact and loadable, leaves no temp file', async (ctx) => {
    if (!mounted) ctx.skip(`full-disk test skipped: ${whyNot}`);
    const start = tf.memory().numTensors;
    const run = await createRun(mountPoint, init());
    const weights = (step: number) => [
      { name: 'w', tensor: tf.fill([64, 1024], step, 'float32') }, // 256 KiB
      { name: 'step', tensor: tf.tensor([step], [1], 'int32') },
    ];
    const first = weights(1);
    await run.saveCheckpoint({ step: 1, epoch: 0, meta: { ok: true }, tensors: first });
    disposeAll(first);
    await run.appendMetrics([{ step: 1, epoch: 0, loss: 1 }]);
    const before = await readFile(join(run.checkpointsDir, 'step-000001.ckpt'));

    const filled = await fillDisk();
    expect(filled).toBeGreaterThan(0);

    const second = weights(2);
    const error = await expectRunError(run.saveCheckpoint({ step: 2, epoch: 0, meta: {}, tensors: second }, { keep: 1 }), /disk is full/i);
    disposeAll(second);
    expect(error.kind).toBe('disk-full');
    expect(error.message).toMatch(/The disk is full: the checkpoint of step 2 was not saved .* the previous checkpoint is intact: .*step-000002\.ckpt\. Free some space/);

    // Nothing lost, nothing half-written, run.json still points at step 1.
    expect((await readdir(run.checkpointsDir)).sort()).toEqual(['step-000001.ckpt']);
    expect((await readdir(run.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await readFile(join(run.checkpointsDir, 'step-000001.ckpt'))).toEqual(before);
    const reopened = await openRun(mountPoint, run.id);
    expect(reopened.record.lastCheckpoint).toEqual({ file: 'checkpoints/step-000001.ckpt', step: 1 });
    const latest = await reopened.loadLatestCheckpoint();
    expect(latest?.step).toBe(1);
    expect(latest?.warnings).toEqual([]);
    expect(Array.from((latest?.arrays.get('w') as NamedArray).values.subarray(0, 3))).toEqual([1, 1, 1]);

    // Metrics on a full disk: a clear error too, and the torn row it may leave is cut before the next append.
    const many = Array.from({ length: 2000 }, (_, i) => ({ step: 2 + i, epoch: 0, loss: 0.5, note: 'x'.repeat(100) }));
    const metricsError = await expectRunError(run.appendMetrics(many), /disk is full/i);
    expect(metricsError.kind).toBe('disk-full');

    // Space comes back: the run goes on.
    await rm(join(mountPoint, 'filler'));
    const rowsAfterFailure = (await reopened.readMetrics()).rows.length;
    await run.truncateMetricsAfter(1);
    await run.appendMetrics([{ step: 2, epoch: 0, loss: 0.9 }]);
    const metrics = await run.readMetrics();
    expect(metrics.rows.map((r) => r.step)).toEqual([1, 2]);
    expect(metrics.warnings).toEqual([]);
    expect(rowsAfterFailure).toBeGreaterThanOrEqual(1);
    const third = weights(2);
    await run.saveCheckpoint({ step: 2, epoch: 0, meta: {}, tensors: third }, { keep: 1 });
    disposeAll(third);
    expect((await readdir(run.checkpointsDir)).sort()).toEqual(['step-000002.ckpt']);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('a full disk while the metrics are appended leaves no row glued to a torn one', async (ctx) => {
    if (!mounted) ctx.skip(`full-disk test skipped: ${whyNot}`);
    const run = await createRun(mountPoint, init());
    await run.appendMetrics([{ step: 1, epoch: 0 }]);
    await fillDisk();
    const many = Array.from({ length: 2000 }, (_, i) => ({ step: 2 + i, epoch: 0, note: 'y'.repeat(100) }));
    await expectRunError(run.appendMetrics(many), /disk is full/i);
    await rm(join(mountPoint, 'filler'));
    await run.appendMetrics([{ step: 5000, epoch: 1 }]);
    const { rows, warnings } = await run.readMetrics();
    expect(warnings).toEqual([]);
    expect(rows.at(-1)).toEqual({ step: 5000, epoch: 1 });
    expect(rows.map((r) => r.step)).toEqual([...rows.map((r) => r.step)].sort((a, b) => a - b));
  });
});
