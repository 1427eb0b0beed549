// The two real face databases beside the repository (../shared/datasets): counts,
// pixels against an independent decode, cache round trips, splits and pairs.
import { cp, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GifReader } from 'omggif';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { importDataset } from '../import';
import { classificationSplit, identityDisjointSplit } from '../splits';
import { formatPairs, generatePairs, parsePairs, resolvePairs } from '../pairs';
import { ORL, YALE, sharedDataset, tempDir } from './fixtures';

/** sharp's resize of independently decoded grey pixels (sharp writes grey raw back as RGB: take one channel). */
async function reference(grey: Uint8Array, width: number, height: number, size: number): Promise<Buffer> {
  const rgb = await sharp(grey, { raw: { width, height, channels: 1 } }).resize(size, size, { fit: 'cover' }).raw().toBuffer();
  return Buffer.from(rgb.filter((_, i) => i % 3 === 0));
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe.skipIf(!sharedDataset(ORL))('ORL (AT&T) faces: 40 people x 10 PGM', () => {
  test('imports exactly 400 images of 40 identities, README skipped', async () => {
    const dataset = await importDataset(ORL, { dataDir: await tempDir(), inputSize: 32 });
    expect(dataset.identities).toHaveLength(40);
    expect(dataset.images).toHaveLength(400);
    expect(dataset.imagesPerIdentity().every((n) => n === 10)).toBe(true);
    expect(dataset.identities.slice(0, 3)).toEqual(['s1', 's2', 's3']);
    expect(dataset.identities[39]).toBe('s40');
    expect(dataset.images.every((i) => i.format === 'pgm' && i.width === 92 && i.height === 112)).toBe(true);
    expect(dataset.report.skipped).toEqual([{ path: 'README', reason: expect.stringMatching(/not an image/) }]);
    expect(dataset.storedSize).toBe(36);
    expect((await dataset.pixels()).length).toBe(400 * 36 * 36);
  });

  test('pixels equal an independent decode of the PGM files', async () => {
    const dataset = await importDataset(ORL, { dataDir: await tempDir(), inputSize: 32 });
    for (const index of [0, 137, 399]) {
      const image = dataset.images[index]!;
      const file = await readFile(join(ORL, image.relPath));
      // Parse the P5 header here, separately from the lab's reader.
      const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(file.toString('latin1', 0, 64))!;
      const [width, height] = [Number(header[1]), Number(header[2])];
      const grey = file.subarray(header[0].length, header[0].length + width * height);
      expect(maxDifference(await dataset.face(index), await reference(grey, width, height, 36))).toBe(0);
    }
  });

  test('cache round trip, and a re-scan after adding and removing files', async () => {
    const copy = join(await tempDir(), 'orl');
    await cp(ORL, copy, { recursive: true });
    const dataDir = await tempDir();
    const first = await importDataset(copy, { dataDir, inputSize: 32 });
    const warm = await importDataset(copy, { dataDir, inputSize: 32 });
    expect(warm.report.decoded).toBe(0);
    expect(Buffer.from(await warm.pixels()).equals(Buffer.from(await first.pixels()))).toBe(true);
    await unlink(join(copy, 's5', '3.pgm'));
    await cp(join(copy, 's6', '1.pgm'), join(copy, 's7', '11.pgm'));
    const rescan = await importDataset(copy, { dataDir, inputSize: 32 });
    expect(rescan.images).toHaveLength(400);
    expect(rescan.report.removed).toBe(1);
    expect(rescan.report.decoded).toBe(0); // the new file's content is already cached (same bytes as s6/1)
    expect(rescan.imagesPerIdentity()[4]).toBe(9);
    expect(rescan.imagesPerIdentity()[6]).toBe(11);
    await rm(copy, { recursive: true });
  });

  test('splits are disjoint and seeded; generated pairs parse back identically', async () => {
    const dataset = await importDataset(ORL, { dataDir: await tempDir(), inputSize: 32 });
    const split = classificationSplit(dataset, { holdOutFraction: 0.2, seed: 3 });
    expect(split.train.length + split.test.length).toBe(400);
    expect(new Set([...split.train, ...split.test]).size).toBe(400);
    expect(split.test.length).toBe(80);
    expect(classificationSplit(dataset, { holdOutFraction: 0.2, seed: 3 })).toEqual(split);
    expect(classificationSplit(dataset, { holdOutFraction: 0.2, seed: 4 }).test).not.toEqual(split.test);
    const verification = identityDisjointSplit(dataset, { holdOutFraction: 0.25, seed: 3 });
    const trainIds = new Set([...verification.train].map((i) => dataset.imageIdentity[i]));
    expect([...verification.test].some((i) => trainIds.has(dataset.imageIdentity[i]!))).toBe(false);

    const pairs = generatePairs(dataset, { folds: 10, seed: 1 });
    const text = formatPairs(pairs);
    expect(text.startsWith(`10\t${pairs.perFold}\n`)).toBe(true);
    const parsed = parsePairs(text);
    expect(formatPairs(parsed)).toBe(text);
    expect(parsed.pairs).toEqual(pairs.pairs);
    const resolved = resolvePairs(parsed, dataset);
    for (let k = 0; k < resolved.a.length; k++) {
      const same = dataset.imageIdentity[resolved.a[k]!] === dataset.imageIdentity[resolved.b[k]!];
      expect(same).toBe(resolved.matched[k] === 1);
    }
  });
});

describe.skipIf(!sharedDataset(YALE))('Yale faces: 15 people, flat folder of extensionless GIFs', () => {
  test('imports exactly 164 images of 15 identities by the first-dot rule', async () => {
    const dataset = await importDataset(YALE, { dataDir: await tempDir(), inputSize: 32 });
    expect(dataset.report.layout).toBe('flat');
    expect(dataset.identities).toHaveLength(15);
    expect(dataset.images).toHaveLength(164);
    expect(dataset.identities[0]).toBe('subject01');
    expect(dataset.imagesPerIdentity()[0]).toBe(10); // subject01.centerlight is missing
    expect(dataset.images.every((i) => i.format === 'gif' && i.width === 320 && i.height === 243)).toBe(true);
  });

  test('pixels match an independent GIF decode (omggif) within rounding', async () => {
    const dataset = await importDataset(YALE, { dataDir: await tempDir(), inputSize: 64 });
    for (const index of [0, 80, 163]) {
      const image = dataset.images[index]!;
      const reader = new GifReader(new Uint8Array(await readFile(join(YALE, image.relPath))));
      const rgba = new Uint8Array(reader.width * reader.height * 4);
      reader.decodeAndBlitFrameRGBA(0, rgba);
      const grey = rgba.filter((_, i) => i % 4 === 0); // grey palette: R = G = B
      expect(maxDifference(await dataset.face(index), await reference(grey, reader.width, reader.height, 72))).toBeLessThanOrEqual(1);
    }
  });
});
