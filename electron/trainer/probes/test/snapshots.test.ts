// Activation-map snapshots: the file format, their recording in real training sessions
// (every epoch end and the stop, every activation layer, bounded size), and that they never
// change or break training.
import * as tf from '@tensorflow/tfjs';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import { decodeFrame, encodeFrame, type FrameHeader } from '#protocol/frames';
import type { TrainConfigInput } from '../../training/config';
import { TrainingSession, type TrainEvent } from '../../training/session';
import { decodeSnapshot, encodeSnapshot, listSnapshots, MAX_SNAPSHOT_PROBES, readSnapshot, SNAPSHOT_MAX_SIDE, snapshotFileName, SnapshotError } from '../snapshots';

// 48 faces, 38 for training: 4 steps of 8 per epoch.
const SMALL: TrainConfigInput = { data: 'synthetic:6x8', model: 'tiny', inputSize: 32, batch: 8, epochs: 2, optimizer: 'adam', lr: 0.001, seed: 7, activation: 'relu' };

type Of<T extends TrainEvent['type']> = Extract<TrainEvent, { type: T }>;

function frame(layer: string, channels: number, side: number, probes: number[]): ArrayBuffer {
  const header: FrameHeader = { channel: `frame:${layer}`, kind: 'activation', layer, step: 3, probes, channels, height: side, width: side, trueHeight: side, trueWidth: side, filterOffset: 0, capturedAt: 1 };
  const maps = probes.length * channels;
  return encodeFrame(header, Float32Array.from({ length: maps * 4 }, (_, i) => i), Uint8Array.from({ length: maps * side * side }, (_, i) => i & 255));
}

const concat = (chunks: Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));

describe('the snapshot file', () => {
  test('round trip: header and frames come back byte for byte, each frame on its own', () => {
    const frames = [frame('conv1.act', 3, 5, [4, 9]), frame('embedding', 7, 1, [4, 9])]; // 5x5 maps: lengths not multiples of 4
    const bytes = concat(encodeSnapshot({ step: 12, epoch: 1, probes: [4, 9], probeLabels: ['ann', 'bob'], capturedAt: 5 }, frames));
    expect(bytes.length % 4).toBe(0);
    const { header, frames: back } = decodeSnapshot(bytes);
    expect(header).toEqual({ step: 12, epoch: 1, probes: [4, 9], probeLabels: ['ann', 'bob'], layers: ['conv1.act', 'embedding'], frames: 2, capturedAt: 5 });
    expect(back.map((f) => Buffer.from(f))).toEqual(frames.map((f) => Buffer.from(f)));
    expect(decodeFrame(back[0]!).map(1, 2)).toEqual(decodeFrame(frames[0]!).map(1, 2));
  });

  test('a damaged file is refused with what is wrong', () => {
    const bytes = concat(encodeSnapshot({ step: 1, epoch: 0, probes: [0], probeLabels: ['a'], capturedAt: 0 }, [frame('conv1.act', 2, 4, [0])]));
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 10), 'x.fclf')).toThrow(/x\.fclf is truncated \(frame 1 of 1 is cut off\)/);
    expect(() => decodeSnapshot(bytes.subarray(0, 8), 'x.fclf')).toThrow(/truncated/);
    expect(() => decodeSnapshot(Buffer.concat([bytes, Buffer.alloc(4)]), 'x.fclf')).toThrow(/4 unexpected bytes after its last frame/);
    const wrong = Buffer.from(bytes);
    wrong.write('PNG!', 0);
    expect(() => decodeSnapshot(wrong, 'x.fclf')).toThrow(SnapshotError);
    expect(() => decodeSnapshot(wrong, 'x.fclf')).toThrow(/not an activation snapshot/);
    const newer = Buffer.from(bytes);
    newer.writeUInt16LE(9, 4);
    expect(() => decodeSnapshot(newer, 'x.fclf')).toThrow(/format 9; this version of the lab reads format 1/);
  });
});

describe('snapshots recorded by a training session', () => {
  test('one per epoch end and one at the stop, every activation layer, at most 4 probes and 32 px; no tensor leak', async () => {
    const dataDir = await tempDir();
    const events: TrainEvent[] = [];
    const counts: number[] = [];
    // 3 epochs of 4 steps and a stop at step 10, mid-epoch.
    const session = await TrainingSession.start({ ...SMALL, inputSize: 48, epochs: 3, maxSteps: 10 }, {
      dataDir,
      backend: 'cpu',
      prefetch: 0,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'progress') counts.push(tf.memory().numTensors);
      },
    });
    let layers: readonly string[] = [];
    try {
      layers = session.model.activationLayers;
      await session.setProbeImages([0, 8, 16, 24, 32, 40]); // six probes: the snapshots keep four
      const outcome = await session.train();
      expect(outcome).toMatchObject({ state: 'stopped', step: 10 });
    } finally {
      session.dispose();
    }
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
    // Flat across epoch ends, where snapshots are taken (the first steps warm up).
    expect(new Set(counts.slice(2)).size).toBe(1);
    const runDir = join(dataDir, 'runs', session.run.id);
    const { snapshots, problems } = await listSnapshots(runDir);
    expect(problems).toEqual([]);
    expect(snapshots.map((s) => [s.step, s.epoch])).toEqual([
      [4, 0],
      [8, 1],
      [10, 2],
    ]);
    for (const s of snapshots) {
      expect(s.layers).toEqual(layers);
      expect(s.probes).toBe(MAX_SNAPSHOT_PROBES);
      expect(s.bytes).toBeGreaterThan(1000);
    }
    const snapshot = (await readSnapshot(runDir, 8))!;
    expect(snapshot.header.probes).toEqual([0, 8, 16, 24]);
    expect(new Set(snapshot.header.probeLabels).size).toBe(4);
    const decoded = snapshot.frames.map((f) => decodeFrame(f));
    expect(decoded.map((f) => f.header.layer)).toEqual(layers);
    for (const f of decoded) {
      expect(f.header).toMatchObject({ kind: 'activation', step: 8, probes: [0, 8, 16, 24] });
      expect(Math.max(f.header.height, f.header.width)).toBeLessThanOrEqual(SNAPSHOT_MAX_SIDE);
    }
    expect(decoded[0]!.header).toMatchObject({ trueHeight: 48, height: 24 }); // 48 px block-averaged by 2
    // Maps that are not blank: the activation of a conv differs across the face.
    const map = decoded[0]!.map(0, 0);
    expect(Math.max(...map)).toBeGreaterThan(Math.min(...map) + 50);
    // Two steps apart, the weights moved, and so did the maps.
    const first = decodeSnapshot(await readFile(join(runDir, 'snapshots', snapshotFileName(4))));
    expect(Buffer.from(first.frames[1]!.subarray(200))).not.toEqual(Buffer.from(snapshot.frames[1]!.subarray(200)));
    expect((await readdir(join(runDir, 'snapshots'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  test('training is the same to the bit with snapshots as without (RReLU: randomness in training mode)', async () => {
    const weightsOf = (session: TrainingSession) => session.inProcessCore.built.model.weights.map((w) => Array.from(w.read().dataSync()));
    async function run(snapshots: boolean) {
      const losses: number[] = [];
      const session = await TrainingSession.start(
        { ...SMALL, activation: 'rrelu', dropout: 0.2 },
        { dataDir: await tempDir(), backend: 'cpu', prefetch: 0, probes: { snapshots }, onEvent: (e) => e.type === 'progress' && losses.push(e.loss) },
      );
      try {
        await session.train();
        return { losses, weights: weightsOf(session), runDir: session.run.dir };
      } finally {
        session.dispose();
      }
    }
    const off = await run(false);
    const on = await run(true);
    expect(on.losses).toHaveLength(8);
    expect(on.losses).toEqual(off.losses);
    expect(on.weights).toEqual(off.weights);
    expect((await listSnapshots(on.runDir)).snapshots.map((s) => s.step)).toEqual([4, 8]);
    expect((await listSnapshots(off.runDir)).snapshots).toEqual([]);
  }, 60_000);

  test('a snapshot that cannot be written is a warning; the run goes on to its end', async () => {
    const events: TrainEvent[] = [];
    const session = await TrainingSession.start({ ...SMALL, epochs: 1 }, { dataDir: await tempDir(), backend: 'cpu', prefetch: 0, onEvent: (e) => events.push(e) });
    try {
      await writeFile(join(session.run.dir, 'snapshots'), 'a file where the folder should be');
      const outcome = await session.train();
      expect(outcome).toMatchObject({ state: 'finished', step: 4 });
    } finally {
      session.dispose();
    }
    const warnings = events.filter((e) => e.type === 'warning') as Of<'warning'>[];
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^The activation snapshot of step 4 was not saved \(.+snapshots is a file, not a folder: move it away so that snapshots can be saved there\); training goes on/);
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'finished' });
  }, 60_000);

  test('a resume drops the snapshots after its checkpoint (an abandoned timeline) and records its own', async () => {
    const dataDir = await tempDir();
    const session = await TrainingSession.start({ ...SMALL, epochs: 1 }, { dataDir, backend: 'cpu', prefetch: 0 });
    try {
      await session.train();
    } finally {
      session.dispose();
    }
    const runDir = session.run.dir;
    const dir = join(runDir, 'snapshots');
    // As if a later timeline had recorded step 40 and a writer had been killed mid-write.
    await copyFile(join(dir, snapshotFileName(4)), join(dir, snapshotFileName(40)));
    await writeFile(join(dir, '.step-000041.fclf.0123456789ab.tmp'), 'half');
    const again = await TrainingSession.resume(session.run.id, { dataDir, backend: 'cpu', prefetch: 0, overrides: { epochs: 2 } });
    try {
      await again.train();
    } finally {
      again.dispose();
    }
    expect((await listSnapshots(runDir)).snapshots.map((s) => s.step)).toEqual([4, 8]);
    expect(await readdir(dir)).toEqual([snapshotFileName(4), snapshotFileName(8)]);
  }, 60_000);
});
