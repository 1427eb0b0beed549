import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, readFile, rm, stat, symlink, truncate, unlink, utimes, writeFile, readdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as tar from 'tar';
import { describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { importDataset } from '../import';
import { openSyntheticDataset } from '../synthetic-dataset';
import { DatasetError } from '../errors';
import type { ImportReport } from '../face-dataset';
import { makeIdentityFolders, makeImage, tempDir, writeFiles } from './fixtures';
import { makeZip } from './zip-writer';

async function fixture(identities = 3, perIdentity = 4): Promise<{ root: string; dataDir: string }> {
  const root = await tempDir();
  await makeIdentityFolders(root, identities, perIdentity);
  return { root, dataDir: await tempDir('fcl-data-') };
}

async function importError(path: string, options: Parameters<typeof importDataset>[1]): Promise<DatasetError> {
  try {
    await importDataset(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error('expected the import to stop');
}

async function cacheFiles(dataDir: string): Promise<string[]> {
  return readdir(join(dataDir, 'cache')).catch(() => []);
}

describe('importing a folder of identities', () => {
  test('counts, order, preprocessed size, and a cache that opens without decoding', async () => {
    const { root, dataDir } = await fixture(3, 4);
    const first = await importDataset(root, { dataDir, inputSize: 32 });
    expect(first.identities).toEqual(['person1', 'person2', 'person3']);
    expect(first.images).toHaveLength(12);
    expect(first.storedSize).toBe(36);
    expect(first.report.decoded).toBe(12);
    expect(first.report.layout).toBe('folders');
    expect(first.images.slice(0, 4).map((i) => i.relPath)).toEqual(['person1/1.jpg', 'person1/2.png', 'person1/3.pgm', 'person1/4.jpg']);
    const pixels = Buffer.from(await first.pixels());
    expect(pixels.length).toBe(12 * 36 * 36);

    const again = await importDataset(root, { dataDir, inputSize: 32 });
    expect(again.report.decoded).toBe(0);
    expect(again.report.reused).toBe(12);
    expect(Buffer.from(await again.pixels()).equals(pixels)).toBe(true);
    expect(again.images).toEqual(first.images);
  });

  test('a re-scan notices added, removed and changed files and decodes only those', async () => {
    const { root, dataDir } = await fixture(3, 4);
    const before = await importDataset(root, { dataDir, inputSize: 32 });
    const facesBefore = Buffer.from(await before.pixels());
    await unlink(join(root, 'person2/1.png'));
    await writeFile(join(root, 'person3/9.png'), await makeImage('png', 99));
    await writeFile(join(root, 'person1/2.png'), await makeImage('png', 42)); // same name, new content
    await writeFile(join(root, 'person4.txt'), 'not inside a folder');
    const after = await importDataset(root, { dataDir, inputSize: 32 });
    expect(after.report.decoded).toBe(2);
    expect(after.report.removed).toBe(1);
    expect(after.images).toHaveLength(12);
    expect(after.images.map((i) => i.relPath)).not.toContain('person2/1.png');
    expect(after.images.map((i) => i.relPath)).toContain('person3/9.png');
    // Faces that did not change keep their exact pixels.
    const face = (buffer: Buffer, i: number) => buffer.subarray(i * 1296, (i + 1) * 1296);
    const after0 = Buffer.from(await after.pixels());
    expect(face(after0, 0).equals(face(facesBefore, 0))).toBe(true); // person1/1.jpg
    expect(face(after0, 1).equals(face(facesBefore, 1))).toBe(false); // person1/2.png changed
    expect(after.report.skipped.map((s) => s.path)).toContain('person4.txt');
  });

  test('touching a file without changing it is recognised by its content hash', async () => {
    const { root, dataDir } = await fixture(2, 3);
    await importDataset(root, { dataDir, inputSize: 32 });
    const later = new Date(Date.now() + 60_000);
    await utimes(join(root, 'person1/1.jpg'), later, later);
    const again = await importDataset(root, { dataDir, inputSize: 32 });
    expect(again.report.decoded).toBe(0);
  });

  test('bad files are skipped with their reasons and the import goes on', async () => {
    const { root, dataDir } = await fixture(2, 3);
    const jpeg = await makeImage('jpeg', 7, 200, 200);
    const dot = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#888' } }).png().toBuffer();
    const bomb = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#000' } }).png().toBuffer();
    await writeFiles(root, {
      'person1/empty.jpg': Buffer.alloc(0),
      'person1/truncated.jpg': jpeg.subarray(0, jpeg.length >> 1),
      'person1/notes.jpg': 'this is text, not a JPEG',
      'person2/dot.png': dot,
      'person2/bomb.png': bomb,
      'person2/.DS_Store': 'x',
      'Thumbs.db': 'x',
    });
    const dataset = await importDataset(root, { dataDir, inputSize: 32, maxInputPixels: 4_000_000 });
    expect(dataset.images).toHaveLength(6);
    const reasons = Object.fromEntries(dataset.report.skipped.map((s) => [s.path, s.reason]));
    if (process.env['DEBUG_REASONS']) console.log(reasons);
    expect(reasons).toMatchObject({
      'person1/empty.jpg': expect.stringMatching(/empty file/),
      'person1/truncated.jpg': expect.stringMatching(/truncated or damaged/),
      'person1/notes.jpg': expect.stringMatching(/not an image/),
      'person2/dot.png': expect.stringMatching(/too small/),
      'person2/bomb.png': expect.stringMatching(/too large/),
      'person2/.DS_Store': 'hidden or system file',
      'Thumbs.db': 'hidden or system file',
    });
    // Rejected files are remembered and not decoded again while unchanged.
    const again = await importDataset(root, { dataDir, inputSize: 32, maxInputPixels: 4_000_000 });
    expect(again.report.decoded).toBe(0);
    expect(again.report.skipped).toEqual(dataset.report.skipped);
  });

  test('an unreadable file is skipped as permission denied', async () => {
    const { root, dataDir } = await fixture(2, 3);
    const locked = join(root, 'person1', 'locked.jpg');
    await writeFile(locked, await makeImage('jpeg', 5));
    await chmod(locked, 0o000);
    let report: ImportReport;
    if (process.getuid?.() === 0) {
      // Root reads anything; run the import as an unprivileged user for a real EACCES.
      for (const dir of [root, dataDir]) execFileSync('chmod', ['-R', 'a+rwX', dir]);
      await chmod(locked, 0o000);
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'import-report.ts'), root, dataDir], {
        uid: 65534,
        gid: 65534,
        cwd: join(import.meta.dirname, '../..'),
        env: { ...process.env, HOME: dataDir },
        encoding: 'utf8',
      });
      report = JSON.parse(out) as ImportReport;
    } else {
      report = (await importDataset(root, { dataDir, inputSize: 32 })).report;
    }
    expect(report.images).toBe(6);
    expect(report.skipped).toContainEqual({ path: 'person1/locked.jpg', reason: expect.stringMatching(/permission denied/) });
  });

  test('links without a loop that reach one folder many times import each real file once, and the duplicates are reported', async () => {
    // Six levels, each linking twice to the next: followed blindly, one image is 2^6 = 64 faces.
    const outside = await tempDir();
    const levels = 6;
    for (let i = 0; i <= levels; i++) await mkdir(join(outside, `L${i}`));
    await writeFile(join(outside, `L${levels}`, '1.pgm'), await makeImage('pgm', 1));
    for (let i = 0; i < levels; i++) {
      await symlink(join(outside, `L${i + 1}`), join(outside, `L${i}`, 'a'));
      await symlink(join(outside, `L${i + 1}`), join(outside, `L${i}`, 'b'));
    }
    const root = await tempDir();
    await symlink(join(outside, 'L0'), join(root, 'person1'));
    await writeFiles(root, { 'person2/1.pgm': await makeImage('pgm', 2) });
    const dataset = await importDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    expect(dataset.identities).toEqual(['person1', 'person2']);
    expect(dataset.images.map((image) => image.relPath)).toEqual(['person1/a/a/a/a/a/a/1.pgm', 'person2/1.pgm']);
    const reasons = new Map(dataset.report.skipped.map((s) => [s.path, s.reason]));
    // One duplicate folder per level, met deepest first: the first five listed, then their count.
    expect(reasons.get('person1/a/a/a/a/a/b/')).toBe('the same folder as "person1/a/a/a/a/a/a/", reached again through a link; imported once');
    expect(reasons.get('person1/a/b/')).toBe('the same folder as "person1/a/a/", reached again through a link; imported once');
    expect(reasons.has('person1/b/')).toBe(false);
    expect(reasons.get('.')).toBe('6 files or folders in all were reached again through links and imported once; 1 more are not listed');
    expect(dataset.report.skipped).toHaveLength(6);
  });

  test('a file reached by two names (a hard link) is imported once', async () => {
    const root = await tempDir();
    await writeFiles(root, { 'person1/1.pgm': await makeImage('pgm', 1), 'person2/1.pgm': await makeImage('pgm', 2) });
    await link(join(root, 'person1', '1.pgm'), join(root, 'person1', '2.pgm')); // same inode, another real path
    const dataset = await importDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    expect(dataset.images.map((image) => image.relPath)).toEqual(['person1/1.pgm', 'person2/1.pgm']);
    expect(dataset.report.skipped).toEqual([{ path: 'person1/2.pgm', reason: 'the same file as "person1/1.pgm", reached again through a link; imported once' }]);
  });
});

describe('flat folders and identity rules', () => {
  test('Yale-style names without extensions: identity before the first dot', async () => {
    const root = await tempDir();
    const files: Record<string, Buffer> = {};
    let seed = 0;
    for (const subject of ['subject01', 'subject02']) for (const pose of ['happy', 'sad', 'wink']) files[`${subject}.${pose}`] = await makeImage('gif', seed++);
    await writeFiles(root, files);
    const dataset = await importDataset(root, { dataDir: await tempDir(), inputSize: 32 });
    expect(dataset.report.layout).toBe('flat');
    expect(dataset.report.identityRule).toMatch(/before the first '\.'/);
    expect(dataset.identities).toEqual(['subject01', 'subject02']);
    expect(dataset.imagesPerIdentity()).toEqual([3, 3]);
  });

  test('LFW-style names with a regular expression', async () => {
    const root = await tempDir();
    await writeFiles(root, {
      'Aaron_Eckhart_0001.jpg': await makeImage('jpeg', 1),
      'Aaron_Eckhart_0002.jpg': await makeImage('jpeg', 2),
      'Zoë_Saldaña_0001.jpg': await makeImage('jpeg', 3),
      'readme.txt': 'x',
    });
    const dataset = await importDataset(root, { dataDir: await tempDir(), inputSize: 32, identityRule: { kind: 'regex', pattern: '^(.+)_\\d+\\.' } });
    expect(dataset.identities).toEqual(['Aaron_Eckhart', 'Zoë_Saldaña']);
    expect(dataset.report.identityRule).toContain('^(.+)_\\d+\\.');
  });

  test("one person's folder, cut into one identity per file by the default rule, stops with the way out", async () => {
    const root = await tempDir();
    await writeFiles(root, Object.fromEntries(await Promise.all([1, 2, 3, 4].map(async (k) => [`Aaron_Eckhart_000${k}.jpg`, await makeImage('jpeg', k)] as const))));
    const dataDir = await tempDir();
    const error = await importError(root, { dataDir, inputSize: 32 });
    expect(error.message).toMatch(/^Each file became its own identity \(4 of 4 identities have a single image, .*\), which usually means this is the folder of one person: /);
    expect(error.message).toMatch(/Choose the folder above it.*--layout flat with an --identity-regex/);
    expect(await cacheFiles(dataDir)).toEqual([]);
    // A layout the user chose is trusted.
    const forced = await importDataset(root, { dataDir, inputSize: 32, layout: 'flat' });
    expect(forced.identities).toHaveLength(4);
  });

  test('changing the rule re-groups the cached faces without decoding them again', async () => {
    const root = await tempDir();
    await writeFiles(root, { 'a-1.x.png': await makeImage('png', 1), 'a-2.x.png': await makeImage('png', 2), 'b-1.x.png': await makeImage('png', 3) });
    const dataDir = await tempDir();
    // Forced flat: on its own the first-dot rule, one identity per file, would be taken for one person's folder.
    const byDot = await importDataset(root, { dataDir, inputSize: 32, layout: 'flat' });
    expect(byDot.identities).toEqual(['a-1', 'a-2', 'b-1']);
    const byDash = await importDataset(root, { dataDir, inputSize: 32, identityRule: { kind: 'regex', pattern: '^([a-z]+)-' } });
    expect(byDash.identities).toEqual(['a', 'b']);
    expect(byDash.report.decoded).toBe(0);
  });
});

describe('archives', () => {
  test('a .zip of a flat Yale-style folder, with the junk macOS adds, imports by the first-dot rule', async () => {
    const entries = [];
    for (const subject of ['subject01', 'subject02', 'subject03']) {
      for (const [k, pose] of ['happy', 'sad', 'glasses'].entries()) entries.push({ name: `yalefaces/${subject}.${pose}`, data: await makeImage('gif', k) });
    }
    entries.push({ name: '__MACOSX/yalefaces/._subject01.happy', data: Buffer.from('junk') }, { name: 'yalefaces/Readme.txt', data: Buffer.from('read me') });
    const archive = join(await tempDir(), 'yalefaces.zip');
    await writeFile(archive, makeZip(entries));
    const dataset = await importDataset(archive, { dataDir: await tempDir(), inputSize: 32 });
    expect(dataset.report.layout).toBe('flat');
    expect(dataset.identities).toEqual(['subject01', 'subject02', 'subject03']);
    expect(dataset.images).toHaveLength(9);
    const skipped = dataset.report.skipped.map((s) => s.path);
    expect(skipped).toContain('yalefaces/Readme.txt');
    expect(skipped).toContain('__MACOSX/yalefaces/._subject01.happy');
  });

  test('a .tar.gz of identity folders inside a wrapper folder imports like the folder, and re-opens without reading', async () => {
    const src = await tempDir();
    await makeIdentityFolders(join(src, 'faces'), 3, 3);
    await writeFiles(src, { 'faces/.DS_Store': 'x' });
    const archive = join(await tempDir(), 'faces.tgz');
    await tar.create({ gzip: true, file: archive, cwd: src }, ['faces']);
    const dataDir = await tempDir();
    const dataset = await importDataset(archive, { dataDir, inputSize: 32 });
    expect(dataset.report.kind).toBe('archive');
    expect(dataset.report.wrapper).toBe('faces');
    expect(dataset.identities).toEqual(['person1', 'person2', 'person3']);
    expect(dataset.images).toHaveLength(9);
    expect(dataset.report.skipped.map((s) => s.path)).toContain('faces/.DS_Store');
    const folderDataset = await importDataset(join(src, 'faces'), { dataDir, inputSize: 32 });
    expect(Buffer.from(await dataset.pixels()).equals(Buffer.from(await folderDataset.pixels()))).toBe(true);
    const again = await importDataset(archive, { dataDir, inputSize: 32 });
    expect(again.report.decoded).toBe(0);
    expect(again.report.seconds).toBeLessThan(5);
  });

  test('two entries whose names differ only in Unicode form (NFC, NFD): the first is imported, the second reported', async () => {
    const nfc = await makeImage('pgm', 1);
    const nfd = await makeImage('pgm', 2);
    const archive = join(await tempDir(), 'faces.zip');
    await writeFile(archive, makeZip([
      { name: 'Zo\u00eb/1.pgm', data: nfc },
      { name: 'Zoe\u0308/1.pgm', data: nfd },
      { name: 'Bob/1.pgm', data: await makeImage('pgm', 3) },
    ]));
    const dataset = await importDataset(archive, { dataDir: await tempDir(), inputSize: 32 });
    expect(dataset.identities).toEqual(['Bob', 'Zo\u00eb']);
    const zoe = dataset.images.filter((image) => image.relPath === 'Zo\u00eb/1.pgm');
    expect(zoe.map((image) => image.sha256)).toEqual([createHash('sha256').update(nfc).digest('hex')]);
    expect(dataset.report.skipped).toEqual([
      {
        path: 'Zo\u00eb/1.pgm',
        reason: 'an earlier entry has the same name, "Zo\u00eb/1.pgm", once Unicode-normalised (NFC) (one name written two ways, or written twice); the first was imported, rename one of them to import both',
      },
    ]);
  });
});

describe('inputs that stop the import and touch nothing', () => {
  test('a path that does not exist', async () => {
    const dataDir = await tempDir();
    const error = await importError('/no/such/folder', { dataDir });
    expect(error.message).toMatch(/Nothing exists at this path: \/no\/such\/folder\. Check the spelling/);
    expect(await cacheFiles(dataDir)).toEqual([]);
  });
  test('an empty folder', async () => {
    const dataDir = await tempDir();
    expect((await importError(await tempDir(), { dataDir })).message).toMatch(/holds no files at all/);
    expect(await cacheFiles(dataDir)).toEqual([]);
  });
  test('a folder with no images says what it found instead', async () => {
    const root = await tempDir();
    await writeFiles(root, { 'a/notes.txt': 'x', 'b/list.csv': 'y' });
    expect((await importError(root, { dataDir: await tempDir() })).message).toMatch(/No usable face image was found \(2 files left out: 2 x not an image/);
  });
  test('one identity only', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 1, 3);
    const error = await importError(root, { dataDir: await tempDir(), inputSize: 32 });
    expect(error.message).toMatch(/Only one identity \("person1"\) was found; telling faces apart needs at least 2 people/);
  });
  test('a single image file', async () => {
    const root = await tempDir();
    await writeFiles(root, { 'face.jpg': await makeImage('jpeg', 1) });
    expect((await importError(join(root, 'face.jpg'), { dataDir: await tempDir() })).message).toMatch(/single file, not a folder of faces or an archive/);
  });
  test('an archive with ../ paths is refused and nothing is written', async () => {
    const src = await tempDir();
    await makeIdentityFolders(join(src, 'inner'), 2, 2);
    const archive = join(src, 'evil.tar');
    // node-tar strips '..' when creating; write the header's name by hand instead.
    await tar.create({ file: archive, cwd: join(src, 'inner'), portable: true }, ['person1']);
    const bytes = await readFile(archive);
    const name = bytes.toString('latin1', 0, 100).replace(/\0+$/, '');
    const evil = `../${name}`.slice(0, 100);
    bytes.write(evil.padEnd(100, '\0'), 0, 'latin1');
    // Recompute the header checksum (bytes 148-155, counted as spaces).
    bytes.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += bytes[i] as number;
    bytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await writeFile(archive, bytes);
    const dataDir = await tempDir();
    expect((await importError(archive, { dataDir })).message).toMatch(/outside its folder/);
    expect(await cacheFiles(dataDir)).toEqual([]);
  });
  test('a cache file that was cut short is noticed and rebuilt', async () => {
    const { root, dataDir } = await fixture(2, 2);
    await importDataset(root, { dataDir, inputSize: 32 });
    const [cache] = await cacheFiles(dataDir);
    const path = join(dataDir, 'cache', cache as string);
    await truncate(path, (await stat(path)).size - 100);
    const again = await importDataset(root, { dataDir, inputSize: 32 });
    expect(again.report.decoded).toBe(4);
    expect((await stat(path)).size).toBeGreaterThan(4 * 36 * 36);
  });
});

describe('the synthetic set', () => {
  test('opens without any files, labelled synthetic, and reopens from the cache', async () => {
    const dataDir = await tempDir();
    const dataset = await openSyntheticDataset({ identities: 4, imagesPerIdentity: 3, seed: 7, inputSize: 32, dataDir });
    expect(dataset.synthetic).toBe(true);
    expect(dataset.name).toMatch(/synthetic/i);
    expect(dataset.identities).toHaveLength(4);
    expect(dataset.images).toHaveLength(12);
    const again = await openSyntheticDataset({ identities: 4, imagesPerIdentity: 3, seed: 7, inputSize: 32, dataDir });
    expect(again.report.decoded).toBe(0);
    expect(Buffer.from(await again.pixels()).equals(Buffer.from(await dataset.pixels()))).toBe(true);
    await rm(dataDir, { recursive: true });
  });
});
