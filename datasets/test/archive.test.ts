import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import zlib from 'node:zlib';
import { Header, create as createTar, list as listTar } from 'tar';
import type { ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectArchive, readArchive, UNSAFE_ARCHIVE_REASON } from '../archive';
import type { ArchiveEntry, ReadArchiveOptions } from '../archive';
import { DatasetError } from '../errors';
import { makeZip } from './zip-writer';

// ---------------------------------------------------------------------------
// Fixture writers (test only: the lab itself never writes archives)


interface TarSpec {
  readonly path: string;
  readonly data?: Buffer;
  readonly type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  readonly linkpath?: string;
}

/** A tar made header by header with node-tar's Header, for names `tar.create` would refuse to write. */
function makeRawTar(entries: readonly TarSpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const block = Buffer.alloc(512);
    new Header({
      path: e.path,
      type: e.type ?? 'File',
      linkpath: e.linkpath,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: e.type === undefined || e.type === 'File' ? data.length : 0,
      mtime: new Date(0),
    }).encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function bytes(seed: number, length = 300): Buffer {
  const b = Buffer.alloc(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function collect(path: string, options?: ReadArchiveOptions): Promise<ArchiveEntry[]> {
  const out: ArchiveEntry[] = [];
  for await (const entry of readArchive(path, options)) out.push(entry);
  return out;
}

/** Reads until the iterator fails; returns what was yielded before and the error. */
async function collectUntilError(path: string): Promise<{ yielded: string[]; error: unknown }> {
  const yielded: string[] = [];
  try {
    for await (const entry of readArchive(path)) yielded.push(entry.path);
  } catch (error) {
    return { yielded, error };
  }
  return { yielded, error: undefined };
}

function asMap(entries: readonly ArchiveEntry[]): Map<string, Buffer> {
  return new Map(entries.map((e) => [e.path, e.data]));
}

// ---------------------------------------------------------------------------

/** The dataset every format holds: nested identities, a unicode name, an empty file. */
const FILES: ReadonlyArray<readonly [string, Buffer]> = [
  ['root/s1/1.pgm', bytes(1)],
  ['root/s1/2.pgm', bytes(2, 5000)],
  ['root/s2/1.pgm', bytes(3)],
  ['root/Zoë/1.png', bytes(4, 70_000)],
  ['root/empty.txt', Buffer.alloc(0)],
];

let dir: string;
let treeDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fcl-archive-'));
  treeDir = join(dir, 'tree');
  for (const [path, data] of FILES) {
    await mkdir(dirname(join(treeDir, path)), { recursive: true });
    await writeFile(join(treeDir, path), data);
  }
  await createTar({ file: join(dir, 'faces.tar'), cwd: treeDir, portable: true }, ['root']);
  await createTar({ file: join(dir, 'faces.tgz'), cwd: treeDir, portable: true, gzip: true }, ['root']);
  await writeFile(
    join(dir, 'faces.zip'),
    makeZip([
      { name: 'root/', method: 0 },
      { name: 'root/s1/1.pgm', data: bytes(1) },
      { name: 'root/s1/2.pgm', data: bytes(2, 5000), method: 0 },
      { name: 'root/s2/1.pgm', data: bytes(3) },
      { name: 'root/Zoë/1.png', data: bytes(4, 70_000) },
      { name: 'root/empty.txt', method: 0 },
    ]),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tarOrder(file: string): Promise<string[]> {
  const paths: string[] = [];
  await listTar({
    file,
    onReadEntry: (e: ReadEntry) => {
      if (e.type === 'File') paths.push(e.path);
    },
  });
  return paths;
}

describe('readArchive yields every regular file with its bytes', () => {
  it('zip: archive order, nested layout, unicode names, stored and deflated, empty files; directories left out', async () => {
    const skipped: string[] = [];
    const entries = await collect(join(dir, 'faces.zip'), { onSkip: (p) => skipped.push(p) });
    expect(entries.map((e) => e.path)).toEqual(FILES.map(([p]) => p));
    for (const [path, data] of FILES) expect(asMap(entries).get(path)?.equals(data)).toBe(true);
    for (const e of entries) expect(e.size).toBe(e.data.length);
    expect(skipped).toEqual([]);
  });

  for (const name of ['faces.tar', 'faces.tgz']) {
    it(`${name}: archive order, nested layout, unicode names, empty files; directories left out`, async () => {
      const skipped: string[] = [];
      const entries = await collect(join(dir, name), { onSkip: (p) => skipped.push(p) });
      expect(entries.map((e) => e.path)).toEqual(await tarOrder(join(dir, name)));
      expect([...asMap(entries).keys()].sort()).toEqual(FILES.map(([p]) => p).sort());
      for (const [path, data] of FILES) expect(asMap(entries).get(path)?.equals(data)).toBe(true);
      for (const e of entries) expect(e.size).toBe(e.data.length);
      expect(skipped).toEqual([]);
    });
  }

  it('normalises paths: leading ./, doubled slashes, backslashes, NFD names', async () => {
    const zip = join(dir, 'paths.zip');
    await writeFile(
      zip,
      makeZip([
        { name: './a//b/1.pgm', data: bytes(5) },
        { name: 'win\\s1\\1.pgm', data: bytes(6) },
        { name: 'Zoe\u0308/1.png', data: bytes(7) },
      ]),
    );
    const tarFile = join(dir, 'paths.tar');
    await writeFile(tarFile, makeRawTar([{ path: './a/./b/1.pgm', data: bytes(5) }]));
    expect((await collect(zip)).map((e) => e.path)).toEqual(['a/b/1.pgm', 'win/s1/1.pgm', 'Zoë/1.png']);
    expect((await collect(tarFile)).map((e) => e.path)).toEqual(['a/b/1.pgm']);
  });
});

describe('detectArchive', () => {
  it('goes by content, not by name', async () => {
    const fakes: Array<[string, string, string | null]> = [
      ['faces.zip', 'zip.dat', 'zip'],
      ['faces.tar', 'tar.jpg', 'tar'],
      ['faces.tgz', 'tgz.bin', 'tar.gz'],
    ];
    for (const [source, alias, kind] of fakes) {
      await writeFile(join(dir, alias), await readFile(join(dir, source)));
      expect(await detectArchive(join(dir, alias))).toBe(kind);
    }
    const entries = await collect(join(dir, 'zip.dat'));
    expect(entries.map((e) => e.path)).toEqual(FILES.map(([p]) => p));
  });

  it('an empty zip is a zip with nothing in it', async () => {
    const empty = join(dir, 'empty.zip');
    await writeFile(empty, makeZip([]));
    expect(await detectArchive(empty)).toBe('zip');
    expect(await collect(empty)).toEqual([]);
  });

  it('returns null for files that are not archives, and for folders', async () => {
    const cases: Array<[string, Buffer]> = [
      ['notes.zip', Buffer.from('just some text, named like a zip\n')],
      ['zero.tar', Buffer.alloc(0)],
      ['image.tgz', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...bytes(9, 2000)])],
      ['zeros.tar', Buffer.alloc(4096)],
    ];
    for (const [name, data] of cases) {
      await writeFile(join(dir, name), data);
      expect(await detectArchive(join(dir, name)), name).toBeNull();
    }
    expect(await detectArchive(treeDir)).toBeNull();
    const err = await collectUntilError(join(dir, 'notes.zip'));
    expect(err.error).toBeInstanceOf(DatasetError);
    expect(String(err.error)).toContain('the file is not a zip, tar or tar.gz archive');
  });

  it('a gzip file that does not hold a tar is an error that says so', async () => {
    const gz = join(dir, 'notes.txt.gz');
    await writeFile(gz, zlib.gzipSync(Buffer.from('a'.repeat(2000))));
    await expect(detectArchive(gz)).rejects.toThrow(DatasetError);
    await expect(detectArchive(gz)).rejects.toThrow('a gzip file that is not a tar archive');
    const small = join(dir, 'tiny.gz');
    await writeFile(small, zlib.gzipSync(Buffer.from('hi')));
    await expect(detectArchive(small)).rejects.toThrow('a gzip file that is not a tar archive');
  });

  it('a path that does not exist is a clear error', async () => {
    const missing = join(dir, 'nope.zip');
    await expect(detectArchive(missing)).rejects.toThrow(`the archive does not exist: ${missing}`);
    expect((await collectUntilError(missing)).error).toBeInstanceOf(DatasetError);
  });
});

describe('archives that try to write outside their folder are refused before anything is yielded', () => {
  const evilNames = ['../evil.pgm', 'root/../../evil.pgm', '/etc/evil.pgm', 'C:/evil.pgm', 'root\\..\\..\\evil.pgm', '\\evil.pgm'];

  for (const evil of evilNames) {
    it(`zip with ${JSON.stringify(evil)}`, async () => {
      const file = join(dir, 'evil.zip');
      await writeFile(
        file,
        makeZip([
          { name: 'root/s1/1.pgm', data: bytes(1) },
          { name: evil, data: bytes(2) },
          { name: 'root/s1/2.pgm', data: bytes(3) },
        ]),
      );
      const { yielded, error } = await collectUntilError(file);
      expect(yielded).toEqual([]);
      expect(error).toBeInstanceOf(DatasetError);
      expect((error as DatasetError).message).toContain(UNSAFE_ARCHIVE_REASON);
      expect((error as DatasetError).message).toContain(JSON.stringify(evil));
      expect((error as DatasetError).path).toBe(file);
    });
  }

  for (const evil of ['../evil.pgm', 'root/../../evil.pgm', '/tmp/evil.pgm', 'root\\..\\..\\evil.pgm']) {
    for (const gzip of [false, true]) {
      it(`${gzip ? 'tar.gz' : 'tar'} with ${JSON.stringify(evil)} after a good entry`, async () => {
        const file = join(dir, gzip ? 'evil.tgz' : 'evil.tar');
        // The good entry comes first and is big enough to fill several read chunks.
        const tarData = makeRawTar([
          { path: 'root/s1/1.pgm', data: bytes(1, 200_000) },
          { path: evil, data: bytes(2) },
        ]);
        await writeFile(file, gzip ? zlib.gzipSync(tarData) : tarData);
        const { yielded, error } = await collectUntilError(file);
        expect(yielded).toEqual([]);
        expect(error).toBeInstanceOf(DatasetError);
        expect((error as DatasetError).message).toContain(UNSAFE_ARCHIVE_REASON);
        expect((error as DatasetError).message).toContain(JSON.stringify(evil));
      });
    }
  }

  it('a symlink whose own name climbs out is refused too; one with a safe name is only skipped', async () => {
    const bad = join(dir, 'evil-link.tar');
    await writeFile(bad, makeRawTar([{ path: '../link', type: 'SymbolicLink', linkpath: '/etc/passwd' }]));
    expect(String((await collectUntilError(bad)).error)).toContain(UNSAFE_ARCHIVE_REASON);
  });
});

describe('damaged archives', () => {
  it('a truncated zip names the archive and the cause', async () => {
    const whole = await readFile(join(dir, 'faces.zip'));
    const file = join(dir, 'truncated.zip');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    expect(await detectArchive(file)).toBe('zip');
    const { yielded, error } = await collectUntilError(file);
    expect(yielded).toEqual([]);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).message).toMatch(/^the zip archive is damaged or truncated \(.+\): .*truncated\.zip\. Download it again/);
  });

  it('a zip whose entry data is corrupt fails at that entry', async () => {
    const good = bytes(1, 4000);
    const zip = makeZip([
      { name: 'a/1.pgm', data: bytes(2) },
      { name: 'a/2.pgm', data: good, method: 0 },
    ]);
    // Flip bytes inside the stored data of a/2.pgm (its local header is after a/1.pgm's).
    const at = zip.indexOf(good.subarray(0, 16)) + 100;
    zip[at] = (zip[at] ?? 0) ^ 0xff;
    const file = join(dir, 'corrupt.zip');
    await writeFile(file, zip);
    const { yielded, error } = await collectUntilError(file);
    expect(yielded).toEqual(['a/1.pgm']);
    expect(String(error)).toContain('the zip archive is damaged or truncated (entry "a/2.pgm" fails its CRC-32 check)');
  });

  for (const gzip of [false, true]) {
    it(`a truncated ${gzip ? 'tar.gz' : 'tar'} yields nothing and names the cause`, async () => {
      const tarData = makeRawTar([
        { path: 'root/s1/1.pgm', data: bytes(1, 1000) },
        { path: 'root/s1/2.pgm', data: bytes(2, 300_000) },
      ]);
      const whole = gzip ? zlib.gzipSync(tarData) : tarData;
      const file = join(dir, gzip ? 'truncated.tgz' : 'truncated.tar');
      await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
      expect(await detectArchive(file)).toBe(gzip ? 'tar.gz' : 'tar');
      const { yielded, error } = await collectUntilError(file);
      expect(yielded).toEqual([]);
      expect(error).toBeInstanceOf(DatasetError);
      const kind = gzip ? 'tar.gz' : 'tar';
      expect((error as DatasetError).message).toMatch(
        new RegExp(`^the ${kind.replace('.', '\\.')} archive is damaged or truncated \\(.+\\): .*truncated\\.t(ar|gz)\\. Download it again`),
      );
    });
  }

  it('a tar with a broken header checksum is damaged', async () => {
    const tarData = makeRawTar([
      { path: 'a/1.pgm', data: bytes(1) },
      { path: 'a/2.pgm', data: bytes(2) },
    ]);
    tarData[1024 + 10] = 0x41; // inside the second header's name
    const file = join(dir, 'checksum.tar');
    await writeFile(file, tarData);
    const { yielded, error } = await collectUntilError(file);
    expect(yielded).toEqual([]);
    expect(String(error)).toContain('the tar archive is damaged or truncated (checksum failure)');
  });
});

describe('what is skipped', () => {
  it('zip: symlinks reported, entries over maxEntryBytes reported, not read', async () => {
    const file = join(dir, 'skips.zip');
    await writeFile(
      file,
      makeZip([
        { name: 'a/1.pgm', data: bytes(1, 100) },
        { name: 'a/link.pgm', data: Buffer.from('/etc/passwd'), method: 0, unixMode: 0o120777 },
        { name: 'a/big.pgm', data: bytes(2, 5000) },
        { name: 'a/2.pgm', data: bytes(3, 100), unixMode: 0o100644 },
        { name: 'a/sub/', unixMode: 0o040755 },
      ]),
    );
    const skips: Array<[string, string]> = [];
    const entries = await collect(file, { maxEntryBytes: 1000, onSkip: (p, r) => skips.push([p, r]) });
    expect(entries.map((e) => e.path)).toEqual(['a/1.pgm', 'a/2.pgm']);
    expect(skips.map(([p]) => p)).toEqual(['a/link.pgm', 'a/big.pgm']);
    expect(skips[0]?.[1]).toBe('links inside archives are not followed');
    expect(skips[1]?.[1]).toMatch(/^larger than the 1000 bytes limit/);
  });

  for (const gzip of [false, true]) {
    it(`${gzip ? 'tar.gz' : 'tar'}: symlinks and hard links reported, oversized entries reported, in archive order`, async () => {
      const tarData = makeRawTar([
        { path: 'a/', type: 'Directory' },
        { path: 'a/1.pgm', data: bytes(1, 100) },
        { path: 'a/link.pgm', type: 'SymbolicLink', linkpath: '/etc/passwd' },
        { path: 'a/big.pgm', data: bytes(2, 5000) },
        { path: 'a/hard.pgm', type: 'Link', linkpath: 'a/1.pgm' },
        { path: 'a/2.pgm', data: bytes(3, 100) },
      ]);
      const file = join(dir, gzip ? 'skips.tgz' : 'skips.tar');
      await writeFile(file, gzip ? zlib.gzipSync(tarData) : tarData);
      const events: string[] = [];
      for await (const e of readArchive(file, { maxEntryBytes: 1000, onSkip: (p, r) => events.push(`skip ${p}: ${r}`) })) {
        events.push(`entry ${e.path} ${e.size}`);
      }
      expect(events).toEqual([
        'entry a/1.pgm 100',
        'skip a/link.pgm: links inside archives are not followed',
        expect.stringMatching(/^skip a\/big\.pgm: larger than the 1000 bytes limit/),
        'skip a/hard.pgm: links inside archives are not followed',
        'entry a/2.pgm 100',
      ]);
    });
  }

  it('a tar made from a folder with a real symlink skips the link', async () => {
    const src = join(dir, 'withlink');
    await mkdir(join(src, 'p'), { recursive: true });
    await writeFile(join(src, 'p', '1.pgm'), bytes(1));
    await symlink('1.pgm', join(src, 'p', 'l.pgm'));
    const file = join(dir, 'withlink.tar');
    await createTar({ file, cwd: src, portable: true }, ['p']);
    const skips: string[] = [];
    const entries = await collect(file, { onSkip: (p, r) => skips.push(`${p}: ${r}`) });
    expect(entries.map((e) => e.path)).toEqual(['p/1.pgm']);
    expect(skips).toEqual(['p/l.pgm: links inside archives are not followed']);
  });

  it('filter: rejected zip entries are never read (a corrupt one does no harm)', async () => {
    const zip = makeZip([
      { name: 'a/1.pgm', data: bytes(1) },
      { name: 'a/readme.txt', data: bytes(2, 3000) },
      { name: 'a/2.pgm', data: bytes(3) },
    ]);
    // Wreck readme.txt's deflate stream: reading it would fail.
    const start = zip.indexOf(Buffer.from('a/readme.txt')) + 'a/readme.txt'.length;
    zip.fill(0xff, start, start + 200);
    const file = join(dir, 'filter.zip');
    await writeFile(file, zip);
    const seen: string[] = [];
    const entries = await collect(file, {
      filter: (p) => {
        seen.push(p);
        return p.endsWith('.pgm');
      },
    });
    expect(entries.map((e) => e.path)).toEqual(['a/1.pgm', 'a/2.pgm']);
    expect(seen).toEqual(['a/1.pgm', 'a/readme.txt', 'a/2.pgm']);
    expect((await collectUntilError(file)).error).toBeInstanceOf(DatasetError);
  });

  for (const name of ['faces.tar', 'faces.tgz']) {
    it(`filter: ${name}`, async () => {
      const entries = await collect(join(dir, name), { filter: (p) => p.startsWith('root/s1/') });
      expect(entries.map((e) => e.path).sort()).toEqual(['root/s1/1.pgm', 'root/s1/2.pgm']);
    });
  }
});

describe('leaving early', () => {
  const fdDir = '/proc/self/fd';
  const openFds = (): number => readdirSync(fdDir).length;

  it.skipIf(!existsSync(fdDir))('closes the file on break: no descriptor leaks over 200 early exits per format', async () => {
    for (const name of ['faces.zip', 'faces.tar', 'faces.tgz']) {
      // Warm up (lazy module loading may open files once).
      for await (const _ of readArchive(join(dir, name))) break;
      const before = openFds();
      for (let i = 0; i < 200; i++) {
        for await (const entry of readArchive(join(dir, name))) {
          expect(entry.path).toBe(name === 'faces.zip' ? 'root/s1/1.pgm' : entry.path);
          break;
        }
      }
      expect(openFds() - before, name).toBeLessThan(5);
    }
  });

  it('a consumer that throws also closes the file', async () => {
    const before = existsSync(fdDir) ? openFds() : 0;
    for (let i = 0; i < 20; i++) {
      await expect(
        (async () => {
          for await (const _ of readArchive(join(dir, 'faces.tgz'))) throw new Error('consumer failed');
        })(),
      ).rejects.toThrow('consumer failed');
    }
    if (existsSync(fdDir)) expect(openFds() - before).toBeLessThan(5);
  });
});
