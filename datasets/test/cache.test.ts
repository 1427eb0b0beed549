// The dataset cache under stress: another import rewriting it while a dataset is
// open, a damaged or nonsensical file, other decoder limits, datasets too big
// for one buffer.
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { cacheKey, CachePixelsError, readCacheIndex, writeCache, type CacheIndex } from '../cache-file';
import { DatasetError } from '../errors';
import { importDataset, type ImportOptions, type ImportProgress } from '../import';
import { openSyntheticDataset } from '../synthetic-dataset';
import { makeIdentityFolders, makeImage, tempDir, writeFiles } from './fixtures';
import { makeZip } from './zip-writer';

const FACE = 36 * 36; // inputSize 32

async function cachePathIn(dataDir: string): Promise<string> {
  const names = (await readdir(join(dataDir, 'cache'))).filter((name) => name.endsWith('.faces'));
  expect(names).toHaveLength(1);
  return join(dataDir, 'cache', names[0] as string);
}

async function rejection(promise: Promise<unknown>): Promise<DatasetError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error('expected a DatasetError');
}

/** Flips one byte of the pixel block, `fromEnd` bytes before the end of the file. */
async function damagePixel(path: string, fromEnd = 1): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, size - fromEnd);
    byte[0] = (byte[0] as number) ^ 0xff;
    await handle.write(byte, 0, 1, size - fromEnd);
  } finally {
    await handle.close();
  }
}

/**
 * Two people whose file names also name a letter: read by folder the faces are
 * p1/a_2, p1/b_1, p2/a_3, p2/b_4; read flat by letter they are p1/a_2, p2/a_3,
 * p1/b_1, p2/b_4. Same files, same cache file, another order.
 */
async function reorderableFolder(): Promise<string> {
  const root = await tempDir();
  await writeFiles(root, {
    'p1/b_1.png': await makeImage('png', 1),
    'p1/a_2.png': await makeImage('png', 2),
    'p2/a_3.png': await makeImage('png', 3),
    'p2/b_4.png': await makeImage('png', 4),
  });
  return root;
}
const BY_LETTER: ImportOptions = { layout: 'flat', identityRule: { kind: 'regex', pattern: '^([a-z])_' } };

describe('a cache rewritten by another import', () => {
  test('an open dataset refuses to read pixels that are no longer its own, whole or one face at a time', async () => {
    const root = await reorderableFolder();
    const dataDir = await tempDir('fcl-data-');
    await importDataset(root, { dataDir, inputSize: 32 });
    const byFolder = await importDataset(root, { dataDir, inputSize: 32 }); // from the cache: pixels not read yet
    expect(byFolder.report.decoded).toBe(0);
    const byLetter = await importDataset(root, { dataDir, inputSize: 32, ...BY_LETTER }); // rewrites the same cache file, reordered
    expect(byLetter.images.map((i) => i.relPath)).toEqual(['p1/a_2.png', 'p2/a_3.png', 'p1/b_1.png', 'p2/b_4.png']);
    const path = await cachePathIn(dataDir);

    const whole = await rejection(byFolder.pixels());
    expect(whole.message).toBe(`The dataset cache was rewritten by another import since this dataset was opened: ${path}. Open the dataset again`);
    expect((await rejection(byFolder.face(1))).message).toBe(whole.message);

    // Opening it again is the way out.
    const again = await importDataset(root, { dataDir, inputSize: 32 });
    const fresh = await importDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    expect(Buffer.from(await again.pixels()).equals(Buffer.from(await fresh.pixels()))).toBe(true);
  });

  test('an import whose old cache is replaced while it decodes starts again and keeps every face in its place', async () => {
    const root = await reorderableFolder();
    const dataDir = await tempDir('fcl-data-');
    await importDataset(root, { dataDir, inputSize: 32 });
    const otherDir = await tempDir('fcl-data-');
    await importDataset(root, { dataDir: otherDir, inputSize: 32, ...BY_LETTER });
    const path = await cachePathIn(dataDir);
    const other = await cachePathIn(otherDir);
    expect(other.slice(otherDir.length)).toBe(path.slice(dataDir.length)); // the same cache file name

    await writeFile(join(root, 'p1/c_5.png'), await makeImage('png', 5)); // so the old faces are read back
    let replaced = false;
    const onProgress = (p: ImportProgress): void => {
      if (p.phase === 'decoding' && !replaced) {
        copyFileSync(other, path); // another import finished meanwhile
        replaced = true;
      }
    };
    const dataset = await importDataset(root, { dataDir, inputSize: 32, onProgress });
    expect(replaced).toBe(true);
    const fresh = await importDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    expect(dataset.images).toEqual(fresh.images);
    expect(Buffer.from(await dataset.pixels()).equals(Buffer.from(await fresh.pixels()))).toBe(true);
  });
});

describe('a damaged or nonsensical cache', () => {
  test('an index that parses but is not a cache index is treated as no cache', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3);
    const dataDir = await tempDir('fcl-data-');
    const first = await importDataset(root, { dataDir, inputSize: 32 });
    const path = await cachePathIn(dataDir);
    const opened = await readCacheIndex(path);
    if (opened === null) throw new Error('the cache should read back');
    const broken = { ...opened.index, rejected: 5, source: null } as unknown as CacheIndex;
    await writeCache(path, broken, await first.pixels());
    expect(await readCacheIndex(path)).toBeNull();
    const again = await importDataset(root, { dataDir, inputSize: 32 });
    expect(again.report.decoded).toBe(6);
    expect(Buffer.from(await again.pixels()).equals(Buffer.from(await first.pixels()))).toBe(true);
  });

  test('pixels that fail their CRC-32: the open dataset says so and removes the file, and opening again imports afresh', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3);
    const dataDir = await tempDir('fcl-data-');
    const original = Buffer.from(await (await importDataset(root, { dataDir, inputSize: 32 })).pixels());
    const path = await cachePathIn(dataDir);
    await damagePixel(path);
    const opened = await importDataset(root, { dataDir, inputSize: 32 });
    expect(opened.report.decoded).toBe(0);
    const error = await rejection(opened.pixels());
    expect(error).toBeInstanceOf(CachePixelsError);
    expect(error.message).toMatch(/The dataset cache is damaged .*CRC-32.*; it was deleted: .*\.faces\. Open the dataset again/);
    expect(existsSync(path)).toBe(false);
    const again = await importDataset(root, { dataDir, inputSize: 32 });
    expect(again.report.decoded).toBe(6);
    expect(Buffer.from(await again.pixels()).equals(original)).toBe(true);
  });

  test('an import that needs the old pixels and finds them damaged decodes them again', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3);
    const dataDir = await tempDir('fcl-data-');
    await importDataset(root, { dataDir, inputSize: 32 });
    await damagePixel(await cachePathIn(dataDir), FACE * 2); // a face of person2
    await writeFile(join(root, 'person2/9.png'), await makeImage('png', 99));
    const dataset = await importDataset(root, { dataDir, inputSize: 32 });
    expect(dataset.report.decoded).toBe(7);
    const fresh = await importDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    expect(Buffer.from(await dataset.pixels()).equals(Buffer.from(await fresh.pixels()))).toBe(true);
  });

  test('one face is read on its own, without the rest of the cache', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3);
    const dataDir = await tempDir('fcl-data-');
    const first = Buffer.from(await (await importDataset(root, { dataDir, inputSize: 32 })).pixels());
    await damagePixel(await cachePathIn(dataDir)); // the last face: reading everything would notice
    const dataset = await importDataset(root, { dataDir, inputSize: 32 });
    expect(Buffer.from(await dataset.face(0)).equals(first.subarray(0, FACE))).toBe(true);
    expect(Buffer.from(await dataset.face(2)).equals(first.subarray(2 * FACE, 3 * FACE))).toBe(true);
    await expect(dataset.pixels()).rejects.toBeInstanceOf(CachePixelsError);
  });
});

describe('what decides that a cached face or rejection still holds', () => {
  test('a file refused under other decoder limits is decoded again, and a cached face is re-judged by its size', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3);
    await writeFiles(root, { 'person2/big.png': await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#444' } }).png().toBuffer() });
    const dataDir = await tempDir('fcl-data-');
    const strict = await importDataset(root, { dataDir, inputSize: 32, maxInputPixels: 4_000_000 });
    expect(strict.images).toHaveLength(6);
    expect(strict.report.skipped).toContainEqual({ path: 'person2/big.png', reason: expect.stringMatching(/image too large/) });

    const lenient = await importDataset(root, { dataDir, inputSize: 32 });
    expect(lenient.report.decoded).toBe(1);
    expect(lenient.images.map((i) => i.relPath)).toContain('person2/big.png');

    const strictAgain = await importDataset(root, { dataDir, inputSize: 32, maxInputPixels: 4_000_000 });
    expect(strictAgain.report.decoded).toBe(0); // judged by its recorded size, not decoded
    expect(strictAgain.images).toHaveLength(6);
    expect(strictAgain.report.skipped).toContainEqual({ path: 'person2/big.png', reason: expect.stringMatching(/image too large \(3000x3000/) });
  });

  test('an unchanged archive is read again when the layout asked for differs from the cached one', async () => {
    const entries = [];
    for (const person of ['p1', 'p2']) for (const [k, pose] of ['x1', 'x2'].entries()) entries.push({ name: `${person}/${pose}.${person}.png`, data: await makeImage('png', k + (person === 'p1' ? 0 : 5)) });
    const archive = join(await tempDir(), 'faces.zip');
    await writeFile(archive, makeZip(entries));
    const dataDir = await tempDir('fcl-data-');
    const flat = await importDataset(archive, { dataDir, inputSize: 32, layout: 'flat' });
    expect(flat.identities).toEqual(['x1', 'x2']);
    const auto = await importDataset(archive, { dataDir, inputSize: 32 });
    expect(auto.report.layout).toBe('folders');
    expect(auto.identities).toEqual(['p1', 'p2']);
    expect(auto.report.decoded).toBe(0); // the same faces, found by content
  });
});

describe('datasets too big for one buffer', () => {
  test('a folder is refused from its file count, before anything is decoded', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 3, 4);
    const phases: string[] = [];
    const dataDir = await tempDir('fcl-data-');
    const error = await rejection(importDataset(root, { dataDir, inputSize: 32, maxPixelBytes: 10 * FACE, onProgress: (p) => phases.push(p.phase) }));
    expect(phases).not.toContain('decoding');
    expect(error.message).toMatch(/too big to hold in memory: 12 files \(each may be a face\) at 36x36 px need 16 kB \(15,552 bytes\), over the limit of 13 kB \(12,960 bytes\)/);
    expect(error.message).toMatch(/Use a smaller --input \(e\.g\. 16 stores 18 px faces, 4x smaller\), or import a subset/);
    expect(existsSync(join(dataDir, 'cache'))).toBe(false);
  });

  test('an archive is refused as its entries arrive, not after reading all of them', async () => {
    const entries = [];
    for (let k = 0; k < 12; k++) entries.push({ name: `p${k % 2}/${k}.png`, data: await makeImage('png', k) });
    const archive = join(await tempDir(), 'many.zip');
    await writeFile(archive, makeZip(entries));
    let decoded = 0;
    const error = await rejection(
      importDataset(archive, { dataDir: await tempDir('fcl-data-'), inputSize: 32, maxPixelBytes: 3 * FACE, concurrency: 1, onProgress: (p) => void (p.phase === 'decoding' && (decoded = p.done)) }),
    );
    expect(error.message).toMatch(/4 files \(each may be a face\) at 36x36 px/);
    expect(decoded).toBeLessThanOrEqual(3);
  });

  test('the synthetic set is refused before drawing a face, with the numbers and the way out', async () => {
    // Refused from the counts alone: the data folder is not even looked into (no cache read or
    // written). Wall-clock limits belong in the bench, not here.
    const dataDir = await tempDir();
    const error = await rejection(openSyntheticDataset({ identities: 1000, imagesPerIdentity: 300, inputSize: 128, dataDir }));
    expect(readdirSync(dataDir)).toEqual([]);
    expect(error.message).toMatch(/300,000 faces at 144x144 px need 6\.2 GB \(6,220,800,000 bytes\), over the limit of 4\.3 GB \(4,294,967,296 bytes\)/);
    expect(error.message).toMatch(/e\.g\. 64 stores 72 px faces, 4x smaller/);
  });
});

test('cacheKey lives with the cache file and depends on every part', () => {
  expect(cacheKey({ a: 1 })).toMatch(/^[0-9a-f]{24}$/);
  expect(cacheKey({ a: 1 })).toBe(cacheKey({ a: 1 }));
  expect(cacheKey({ a: 1 })).not.toBe(cacheKey({ a: 2 }));
});

test('a cache written twice gets a new nonce each time', async () => {
  const root = await tempDir();
  await makeIdentityFolders(root, 2, 2);
  const dataDir = await tempDir('fcl-data-');
  const first = await importDataset(root, { dataDir, inputSize: 32 });
  const path = await cachePathIn(dataDir);
  const before = (await readCacheIndex(path))?.index;
  await writeFile(join(root, 'person1/9.png'), await makeImage('png', 9));
  await importDataset(root, { dataDir, inputSize: 32 });
  const after = (await readCacheIndex(path))?.index;
  expect(before?.nonce).toMatch(/^[0-9a-f]{32}$/);
  expect(after?.nonce).not.toBe(before?.nonce);
  expect((await stat(path)).size).toBeGreaterThan(5 * FACE);
  expect(first.images).toHaveLength(4);
});
