// The steps of an import on their own (import.ts runs them in turn; import.test.ts
// covers them together): what only shows here, without a whole import around it.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { CacheIndex, CachedImage, OpenedCache } from '../cache-file';
import { DEFAULT_DECODE, type DecodeOptions } from '../decode';
import type { SkippedFile } from '../errors';
import { sameSettings, type ImportSettings } from '../import-cache';
import { CacheLookup, examine, examineAll, type Outcome } from '../import-examine';
import { placeFaces } from '../import-placement';
import { findCandidates, openSource, type Candidate } from '../import-sources';
import { makeImage, tempDir, writeFiles } from './fixtures';

const limits = { maxInputPixels: DEFAULT_DECODE.maxInputPixels, minSide: DEFAULT_DECODE.minSide };
const decodeOptions: DecodeOptions = { storedSize: 36, fit: 'cover', ...limits };

function cachedImage(relPath: string, sha256: string, width = 48, height = 56): CachedImage {
  return { relPath, identity: 'p', format: 'png', width, height, sha256, bytes: 100, mtimeMs: 1000 };
}

/** A previous cache that knows these faces, in these slots. */
function previousCache(images: CachedImage[]): OpenedCache {
  const index: CacheIndex = {
    version: 2,
    nonce: 'n',
    pixelsCrc32: 0,
    source: { kind: 'folder', path: '/faces' },
    storedSize: 36,
    fit: 'cover',
    limits,
    wrapper: '',
    layoutChoice: 'auto',
    layout: 'folders',
    identityRule: { kind: 'before-first-dot' },
    images,
    rejected: [],
    skipped: [],
    updatedAt: '',
  };
  return { index, pixelsOffset: 0 };
}

function candidate(relPath: string, load: () => Promise<Uint8Array>, stamp = { bytes: 100, mtimeMs: 1000 }): Candidate {
  return { relPath, ...stamp, load };
}

const neverRead = async (): Promise<Uint8Array> => {
  throw new Error('read although the cache knows the file');
};

describe('examining one file', () => {
  test('a file the cache knows by path and stamp is not read: its slot is reused, or it is refused by its size under stricter limits', async () => {
    const reuse = new CacheLookup(previousCache([cachedImage('a/1.png', 'h1'), cachedImage('a/2.png', 'h2')]), limits);
    const outcome = await examine(candidate('a/2.png', neverRead), reuse, decodeOptions);
    expect(outcome).toMatchObject({ kind: 'face', pixels: 1, image: { relPath: 'a/2.png', sha256: 'h2' } });

    const strict = new CacheLookup(previousCache([cachedImage('a/1.png', 'h1')]), { ...limits, minSide: 50 });
    const refused = await examine(candidate('a/1.png', neverRead), strict, { ...decodeOptions, minSide: 50 });
    expect(refused).toMatchObject({ kind: 'rejected', rejection: { path: 'a/1.png', reason: expect.stringMatching(/too small/), bytes: 100, mtimeMs: 1000 } });
  });

  test('an archive entry (no stamp of its own) is read, and found by its content without a decode', async () => {
    const junk = new TextEncoder().encode('not an image: a decode would refuse it');
    const hash = createHash('sha256').update(junk).digest('hex');
    const reuse = new CacheLookup(previousCache([cachedImage('old/name.png', hash)]), limits);
    const outcome = await examine(candidate('new/name.png', async () => junk, { bytes: junk.length, mtimeMs: 0 }), reuse, decodeOptions);
    expect(outcome).toMatchObject({ kind: 'face', pixels: 0, image: { relPath: 'new/name.png', sha256: hash, bytes: junk.length, mtimeMs: 0 } });
  });

  test('a file that cannot be read is refused with a stamp no file has, so the next import reads it again', async () => {
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const outcome = await examine(candidate('a/locked.png', () => Promise.reject(denied)), new CacheLookup(null, limits), decodeOptions);
    expect(outcome).toEqual({ kind: 'rejected', rejection: { path: 'a/locked.png', reason: expect.stringMatching(/permission denied/), bytes: -1, mtimeMs: -1 } });
  });
});

test('when the listing fails, the decodes under way end before the error is thrown', async () => {
  let finished = false;
  async function* listing(): AsyncGenerator<Candidate> {
    yield candidate('slow.png', async () => {
      await new Promise((wake) => setTimeout(wake, 100));
      finished = true;
      return makeImage('png', 1);
    });
    throw new Error('the listing failed');
  }
  const examined: number[] = [];
  await expect(examineAll(listing(), new CacheLookup(null, limits), decodeOptions, { concurrency: 4, maxBytesInFlight: 1 << 20 }, (done) => examined.push(done))).rejects.toThrow(
    'the listing failed',
  );
  expect(finished).toBe(true);
  expect(examined).toEqual([1]);
});

test('listing a folder stops at the next file once the import is aborted', async () => {
  const root = await tempDir();
  await writeFiles(root, { 'a/1.png': await makeImage('png', 1), 'a/2.png': await makeImage('png', 2), 'b/1.png': await makeImage('png', 3) });
  const controller = new AbortController();
  const skipped: SkippedFile[] = [];
  const totals: number[] = [];
  const listed = findCandidates(await openSource(root), {
    maxFileBytes: 1 << 20,
    budget: { inputSize: 32, storedSize: 36, maxBytes: 1 << 30, source: root },
    signal: controller.signal,
    onSkip: (file) => skipped.push(file),
    onTotal: (total) => totals.push(total),
  });
  const first = await listed.next();
  expect(first.done).toBe(false);
  expect(totals).toEqual([3]);
  controller.abort();
  await expect(listed.next()).rejects.toThrow(/abort/i);
  expect(skipped).toEqual([]);
});

test('placing faces: the wrapper folder goes, faces sort by identity then path in natural order, and everything left out is reported by path', () => {
  const face = (relPath: string, slot: number): Outcome => ({ kind: 'face', image: { relPath, format: 'png', width: 48, height: 56, sha256: relPath, bytes: 1, mtimeMs: 1 }, pixels: slot });
  const outcomes = new Map<string, Outcome>([
    ['faces/person10/1.png', face('faces/person10/1.png', 0)],
    ['faces/person2/10.png', face('faces/person2/10.png', 1)],
    ['faces/person2/9.png', face('faces/person2/9.png', 2)],
    ['faces/loose.png', face('faces/loose.png', 3)],
    ['faces/person2/bad.png', { kind: 'rejected', rejection: { path: 'faces/person2/bad.png', reason: 'not an image', bytes: 1, mtimeMs: 1 } }],
  ]);
  const placement = placeFaces(outcomes, [{ path: 'faces/.DS_Store', reason: 'hidden or system file' }], { layoutChoice: 'auto', identityRule: { kind: 'before-first-dot' } });
  expect(placement.wrapper).toBe('faces');
  expect(placement.layout).toBe('folders');
  expect(placement.placed.map((p) => [p.image.identity, p.image.relPath, p.pixels])).toEqual([
    ['person2', 'faces/person2/9.png', 2],
    ['person2', 'faces/person2/10.png', 1],
    ['person10', 'faces/person10/1.png', 0],
  ]);
  expect(placement.skipped.map((s) => s.path)).toEqual(['faces/.DS_Store', 'faces/loose.png', 'faces/person2/bad.png']);
});

test('a cache made with the same settings is recognised whatever order the identity rule was written in', () => {
  const cached: ImportSettings = { layoutChoice: 'flat', identityRule: { kind: 'regex', pattern: '^(.+)_' }, limits };
  const asked = JSON.parse('{"layoutChoice":"flat","identityRule":{"pattern":"^(.+)_","kind":"regex"},"limits":{"minSide":' + limits.minSide + ',"maxInputPixels":' + limits.maxInputPixels + '}}') as ImportSettings;
  expect(sameSettings(cached, asked)).toBe(true);
  expect(sameSettings(cached, { ...asked, limits: { ...limits, minSide: limits.minSide + 1 } })).toBe(false);
  expect(sameSettings(cached, { ...asked, identityRule: { kind: 'regex', pattern: '^(.+)-' } })).toBe(false);
});
