// Issue 14, 5.3: no file is read whole past the per-file limit, and an archive
// cannot make an import take unbounded memory (decompression bombs).
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { describe, expect, test } from 'vitest';
import { DEFAULT_MAX_ENTRY_BYTES, readArchive, tooLarge, UNPACKED_LIMIT_REASON } from '../archive';
import { DatasetError } from '../errors';
import { importDataset } from '../import';
import { ByteGate } from '../pool';
import { makeIdentityFolders, tempDir } from './fixtures';
import { makeZip, type ZipSpec } from './zip-writer';

async function importError(path: string, options: Parameters<typeof importDataset>[1]): Promise<DatasetError> {
  try {
    await importDataset(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error('expected the import to stop');
}

/** A file of `bytes` zero bytes that takes no disk space (a hole), written by truncate. */
async function sparseFile(path: string, bytes: number): Promise<void> {
  await (await open(path, 'w')).close();
  await truncate(path, bytes);
}

describe('folders: the per-file limit, from stat, before reading', () => {
  test('a 3 GB .jpg and a 300 MB .mp4 are skipped with the archive limit and reason, without being read', async () => {
    const root = await tempDir();
    const dataDir = await tempDir('fcl-data-');
    await makeIdentityFolders(root, 2, 3);
    const huge = 3 * 1024 ** 3; // over Node's 2 GiB buffer limit: reading it fails with another reason
    const video = DEFAULT_MAX_ENTRY_BYTES + 44 * 1024 ** 2;
    await sparseFile(join(root, 'person1', 'huge.jpg'), huge);
    await sparseFile(join(root, 'person2', 'clip.mp4'), video);
    const dataset = await importDataset(root, { dataDir, inputSize: 32 });
    expect(dataset.images).toHaveLength(6);
    const reasons = new Map(dataset.report.skipped.map((s) => [s.path, s.reason]));
    // The very wording an archive entry over the limit gets.
    expect(reasons.get('person1/huge.jpg')).toBe(tooLarge(huge, DEFAULT_MAX_ENTRY_BYTES));
    expect(reasons.get('person2/clip.mp4')).toBe(tooLarge(video, DEFAULT_MAX_ENTRY_BYTES));
    expect(reasons.get('person1/huge.jpg')).toMatch(/^larger than the 268\.4 MB limit for one file \(3\.2 GB\); not read$/);
  });

  test('the limit is an option, and applies to archive entries alike', async () => {
    const root = await tempDir();
    const dataDir = await tempDir('fcl-data-');
    await makeIdentityFolders(root, 2, 3, ['pgm']);
    await writeFile(join(root, 'person1', 'big.pgm'), Buffer.alloc(5000, 7));
    const dataset = await importDataset(root, { dataDir, inputSize: 32, maxFileBytes: 4000 });
    expect(dataset.report.skipped).toContainEqual({ path: 'person1/big.pgm', reason: tooLarge(5000, 4000) });
    const archive = join(await tempDir(), 'faces.tar');
    await tar.create({ file: archive, cwd: root, portable: true }, ['person1', 'person2']);
    const fromArchive = await importDataset(archive, { dataDir, inputSize: 32, maxFileBytes: 4000 });
    expect(fromArchive.report.skipped).toContainEqual({ path: 'person1/big.pgm', reason: tooLarge(5000, 4000) });
  });
});

/** Identity folders plus `zeros` entries of `entryBytes` zero bytes named like JPEGs: a small, highly compressible archive. */
async function bombFolder(zeros: number, entryBytes: number): Promise<string> {
  const root = await tempDir();
  await makeIdentityFolders(root, 2, 3);
  for (let i = 0; i < zeros; i++) await writeFile(join(root, 'person1', `zeros${i}.jpg`), Buffer.alloc(entryBytes));
  return root;
}

describe('archives: what they may unpack to, in all', () => {
  test('a tar.gz that unpacks past the bound is refused with the reason before any decode', async () => {
    const root = await bombFolder(6, 1024 * 1024);
    const archive = join(await tempDir(), 'bomb.tar.gz');
    await tar.create({ gzip: true, file: archive, cwd: root, portable: true }, ['person1', 'person2']);
    const dataDir = await tempDir('fcl-data-');
    let decoded = 0;
    const error = await importError(archive, {
      dataDir,
      inputSize: 32,
      maxUnpackedBytes: 4 * 1024 * 1024,
      onProgress: (p) => {
        if (p.phase === 'decoding') decoded = p.done;
      },
    });
    expect(error.reason).toMatch(new RegExp(`^${UNPACKED_LIMIT_REASON}: its files hold more than 4\\.2 MB once unpacked, over the 4\\.2 MB limit for one archive \\(a decompression bomb\\?\\); it was not imported$`));
    expect(error.path).toBe(archive);
    expect(decoded).toBe(0);
    // Under the bound it imports, the zeros skipped as not images.
    const ok = await importDataset(archive, { dataDir, inputSize: 32, maxUnpackedBytes: 8 * 1024 * 1024 });
    expect(ok.images).toHaveLength(6);
  });

  test('a zip is refused from its central directory alone', async () => {
    const entries: ZipSpec[] = Array.from({ length: 6 }, (_, i) => ({ name: `p${i % 2}/zeros${i}.jpg`, data: Buffer.alloc(1024 * 1024) }));
    const archive = join(await tempDir(), 'bomb.zip');
    await writeFile(archive, makeZip(entries));
    const error = await importError(archive, { dataDir: await tempDir('fcl-data-'), inputSize: 32, maxUnpackedBytes: 4 * 1024 * 1024 });
    expect(error.reason).toMatch(new RegExp(`^${UNPACKED_LIMIT_REASON}: its files hold 6\\.3 MB once unpacked, over the 4\\.2 MB limit`));
  });

  test('by default an archive may unpack to 100 times its size, at least 1 GiB: a few-kB zip claiming 1.25 GB is refused unread', async () => {
    // Entries under the per-file limit whose central directory claims 250 MB each, as overlapping
    // entries of a zip bomb do: refused before a byte of them is inflated.
    const zip = makeZip(Array.from({ length: 5 }, (_, i) => ({ name: `p${i}.jpg`, data: Buffer.alloc(1000) })));
    for (let at = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); at >= 0; at = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 4)) {
      zip.writeUInt32LE(250_000_000, at + 24);
    }
    const archive = join(await tempDir(), 'claims.zip');
    await writeFile(archive, zip);
    const entries = readArchive(archive);
    await expect(async () => {
      for await (const _ of entries) throw new Error('an entry was read');
    }).rejects.toThrow(/^the archive unpacks to too much data: its files hold 1\.3 GB once unpacked, over the 1\.1 GB limit/);
  });
});

describe('the bytes held at once', () => {
  test('ByteGate: holds at most its limit, lets a larger item through alone, serves waiters in order', async () => {
    const gate = new ByteGate(100);
    const order: string[] = [];
    await gate.acquire(60);
    const b = gate.acquire(50).then(() => order.push('b'));
    const c = gate.acquire(10).then(() => order.push('c')); // would fit, but waits its turn
    await Promise.resolve();
    expect(gate.inUse).toBe(60);
    gate.release(60);
    await Promise.all([b, c]);
    expect(order).toEqual(['b', 'c']);
    expect(gate.inUse).toBe(60);
    const big = gate.acquire(500).then(() => order.push('big'));
    gate.release(50);
    await Promise.resolve();
    expect(order).toEqual(['b', 'c']);
    gate.release(10);
    await big;
    expect(gate.inUse).toBe(500);
  });

  test('an import with a tiny in-flight bound still imports everything (items larger than it go one at a time)', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 3, 4);
    const archive = join(await tempDir(), 'faces.tar.gz');
    await tar.create({ gzip: true, file: archive, cwd: root, portable: true }, ['person1', 'person2', 'person3']);
    for (const source of [root, archive]) {
      const dataset = await importDataset(source, { dataDir: await tempDir('fcl-data-'), inputSize: 32, concurrency: 8, maxBytesInFlight: 1 });
      expect(dataset.images).toHaveLength(12);
    }
  });
});
