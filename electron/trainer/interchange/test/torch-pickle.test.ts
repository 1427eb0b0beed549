// The pickle reader without PyTorch: names outside the table refuse the file before anything is
// built from it; a tensor claiming more values than its storage holds is refused before it is
// allocated; the writer's files read back exactly.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTorchCheckpoint } from '../torch-checkpoint';
import { parsePickle } from '../torch-pickle';
import { stateDictPickle, writeStateDict } from '../torch-writer';

let dir: string;

/** A torch zip archive holding `pickle` as data.pkl and `storage` as data/0. */
async function zipOf(pickle: Buffer, storage?: Buffer, compress = false): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(pickle, 'archive/data.pkl', { compress });
  if (storage) zip.addBuffer(storage, 'archive/data/0', { compress: false });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A state_dict of `count` tensors of `size` values, every one a view of storage "0" (protocol 2, as torch writes). */
function sharedStoragePickle(count: number, size: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80, 0x02]), Buffer.from('ccollections\nOrderedDict\n'), Buffer.from([0x29, 0x52, 0x28])];
  const text = (t: string) => {
    const b = Buffer.from(t);
    const head = Buffer.from([0x58, 0, 0, 0, 0]);
    head.writeUInt32LE(b.length, 1);
    return Buffer.concat([head, b]);
  };
  const int = (n: number) => {
    const b = Buffer.from([0x4a, 0, 0, 0, 0]);
    b.writeInt32LE(n, 1);
    return b;
  };
  for (let i = 0; i < count; i++) {
    parts.push(text(`w${i}`), Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n'), Buffer.from([0x28, 0x28]), text('storage'), Buffer.from('ctorch\nFloatStorage\n'), text('0'), text('cpu'), int(size));
    parts.push(Buffer.from([0x74, 0x51]), int(0), Buffer.from([0x28]), int(size), Buffer.from([0x74, 0x28]), int(1), Buffer.from([0x74, 0x89]));
    parts.push(Buffer.from('ccollections\nOrderedDict\n'), Buffer.from([0x29, 0x52, 0x74, 0x52]));
  }
  parts.push(Buffer.from([0x75, 0x2e]));
  return Buffer.concat(parts);
}
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fcl-pickle-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** pickle.dumps(os.system('ls'), protocol 2) as Python writes it: GLOBAL posix system, ('ls',), REDUCE. */
const SYSTEM_CALL = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cposix\nsystem\n', 'latin1'), Buffer.from([0x58, 2, 0, 0, 0]), Buffer.from('ls'), Buffer.from([0x85, 0x52, 0x2e])]);

describe('reading pickles as data', () => {
  it('refuses a call to os.system by name, and a class it does not know', () => {
    expect(() => parsePickle(SYSTEM_CALL)).toThrow(/asks for posix\.system when it is loaded: torch\.load would import and call it.*nothing in it was run/);
    const custom = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cmytraining\nTrainer\n', 'latin1'), Buffer.from([0x29, 0x81, 0x2e])]);
    expect(() => parsePickle(custom)).toThrow(/asks for mytraining\.Trainer when it is loaded/);
    // The way out never tells the user to open the file in plain PyTorch.
    expect(() => parsePickle(custom)).toThrow(/Do not open it with plain torch\.load unless you trust its source: torch\.load\(path, weights_only=True\) refuses it the same way/);
  });

  it('reads back what the writer wrote: names, shapes, values, in order', async () => {
    const file = join(dir, 'two.pt');
    await writeStateDict(file, [
      { name: 'features.0.filter.weight', shape: [2, 1, 1, 2], values: Float32Array.of(1, -2, 3.5, 4) },
      { name: 'fc2.bias', shape: [3], values: Float32Array.of(0.25, 0, -1e-8) },
    ]);
    const read = await readTorchCheckpoint(file);
    expect(read.format).toBe('zip');
    expect([...read.tensors.keys()]).toEqual(['features.0.filter.weight', 'fc2.bias']);
    expect(read.tensors.get('features.0.filter.weight')).toMatchObject({ dtype: 'float32', shape: [2, 1, 1, 2] });
    expect(Array.from(read.tensors.get('fc2.bias')?.values ?? [])).toEqual([0.25, 0, Math.fround(-1e-8)]);
  });

  it('refuses a tensor that claims more values than its storage holds, before allocating it', async () => {
    // A state_dict whose pickle says (10^8,) for a storage of 4 values.
    const pickle = stateDictPickle([{ name: 'w', shape: [4], values: Float32Array.of(1, 2, 3, 4) }]);
    const sizeAt = pickle.indexOf(Buffer.from([0x28, 0x4a, 4, 0, 0, 0, 0x74]));
    expect(sizeAt).toBeGreaterThan(0);
    pickle.writeInt32LE(100_000_000, sizeAt + 2);
    const zip = new yazl.ZipFile();
    zip.addBuffer(pickle, 'archive/data.pkl', { compress: false });
    zip.addBuffer(Buffer.from(Float32Array.of(1, 2, 3, 4).buffer), 'archive/data/0', { compress: false });
    zip.end();
    const file = join(dir, 'claims.pt');
    await pipeline(zip.outputStream, createWriteStream(file));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(/a tensor of shape 100000000 claims more values than its storage holds \(4\)/);
  });

  it('refuses a zip whose data does not match its checksum (a flipped bit)', async () => {
    const file = join(dir, 'flipped.pt');
    await writeStateDict(file, [{ name: 'w', shape: [4], values: Float32Array.of(1, 2, 3, 4) }]);
    const bytes = await readFile(file);
    const at = bytes.indexOf(Buffer.from(Float32Array.of(1, 2, 3, 4).buffer));
    bytes[at + 5] = (bytes[at + 5] as number) ^ 0x10;
    await writeFile(file, bytes);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(/zip archive is damaged \(archive\/data\/0 does not match its checksum\)/);
  });

  it('refuses crafted files quickly and without growing memory (negative lengths, huge integers, a storage named a thousand times, a compressed entry)', async () => {
    const cases: [string, Buffer, RegExp][] = [
      // BINBYTES of length -5 (Python reads it unsigned; pickleparser signed, and would step back onto the opcode forever).
      ['binbytes', await zipOf(Buffer.from([0x80, 0x03, 0x42, 0xfb, 0xff, 0xff, 0xff, 0x2e])), /ends early: the file is cut short/],
      ['negative', await zipOf(Buffer.from([0x80, 0x02, 0x8b, 0xfb, 0xff, 0xff, 0xff, 0x2e])), /malformed at byte 2 \(a negative or impossible length \(-5\)\)/],
      // LONG4 of 256 kB: quadratic in pickleparser.
      ['long', await zipOf(Buffer.concat([Buffer.from([0x80, 0x02, 0x8b, 0, 0, 4, 0]), Buffer.alloc(262_144, 1), Buffer.from([0x2e])])), /an integer of 262144 bytes/],
      // 1000 distinct tensors viewing one 10^5-value storage: 400 kB of data, 400 MB if each were copied.
      ['thousand', await zipOf(sharedStoragePickle(1000, 100_000), Buffer.alloc(400_000)), /tensors claim more values \(\d+\) than its storages hold/],
      ['compressed', await zipOf(Buffer.alloc(1_000_000), undefined, true), /data\.pkl is compressed, which torch\.save never does/],
    ];
    for (const [name, bytes, message] of cases) {
      const file = join(dir, `${name}.pt`);
      await writeFile(file, bytes);
      const before = process.memoryUsage().arrayBuffers;
      await expect(readTorchCheckpoint(file), name).rejects.toThrow(message);
      expect(process.memoryUsage().arrayBuffers - before, name).toBeLessThan(50e6);
    }
  });

  it('says an empty file is empty', async () => {
    const file = join(dir, 'empty.pt');
    await writeFile(file, '');
    await expect(readTorchCheckpoint(file)).rejects.toThrow(/the file is empty/);
  });
});
