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
    expect(() => parsePickle(SYSTEM_CALL)).toThrow(/asks to call posix\.system when it is loaded: that is code, not weights/);
    const custom = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cmytraining\nTrainer\n', 'latin1'), Buffer.from([0x29, 0x81, 0x2e])]);
    expect(() => parsePickle(custom)).toThrow(/holds a mytraining\.Trainer object, which the lab does not read/);
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

  it('says an empty file is empty', async () => {
    const file = join(dir, 'empty.pt');
    await writeFile(file, '');
    await expect(readTorchCheckpoint(file)).rejects.toThrow(/the file is empty/);
  });
});
