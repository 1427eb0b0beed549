// Downloads against a server on 127.0.0.1 that this file starts: no test reaches
// the internet. Each test scripts the server's misbehaviour (cut connections,
// ignored ranges, redirects, stalls) and checks the file that ends up on disk.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { catalogEntrySchema } from '../catalog';
import { downloadFile, fetchCatalogDataset } from '../download';
import type { DownloadProgress } from '../download';
import { DatasetError } from '../errors';

const FIXTURE = randomBytes(300_000);
const FIXTURE_SHA = sha256(FIXTURE);

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

type Handler = (request: IncomingMessage, response: ServerResponse, nth: number) => void;

let server: Server;
let base: string;
let routes: Map<string, Handler>;
/** Every request the server saw, in order. */
let seen: { path: string; range: string | undefined }[];
let dir: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? '/';
    seen.push({ path, range: request.headers.range });
    const handler = routes.get(path);
    if (handler === undefined) {
      response.writeHead(404, 'Not Found').end('no such file');
      return;
    }
    handler(request, response, seen.filter((s) => s.path === path).length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  routes = new Map();
  seen = [];
  dir = await mkdtemp(join(tmpdir(), 'face-cnn-lab-download-'));
});

afterEach(async () => {
  server.closeAllConnections(); // stalled responses of a test must not leak into the next
  await rm(dir, { recursive: true, force: true });
});

/** Serves `body` honouring `Range: bytes=N-`, as a well-behaved file server does. */
function serveWithRanges(body: Buffer): Handler {
  return (request, response) => {
    const match = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const start = match?.[1] === undefined ? null : Number(match[1]);
    if (start === null) {
      response.writeHead(200, { 'content-length': body.length }).end(body);
    } else if (start >= body.length) {
      response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    } else {
      response
        .writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` })
        .end(body.subarray(start));
    }
  };
}

/**
 * Announces the whole length, sends `cutAt` bytes, and drops the connection once
 * the client has them (`clientHas` resolves): bytes still in flight when a socket
 * closes are discarded by the client, so cutting at once would make the test racy.
 */
function sendAndCut(response: ServerResponse, body: Buffer, cutAt: number, clientHas: Promise<void>): void {
  response.writeHead(200, { 'content-length': body.length });
  response.write(body.subarray(0, cutAt));
  void clientHas.then(() => response.socket?.destroy());
}

/** A promise resolved by the download's progress once `bytes` have been received. */
function progressReaches(bytes: number): { reached: Promise<void>; onProgress: (p: DownloadProgress) => void } {
  let resolve = () => {};
  const reached = new Promise<void>((r) => (resolve = r));
  return { reached, onProgress: (p) => p.received >= bytes && resolve() };
}

const fast = { retryDelayMs: 1, timeoutMs: 2_000 };

describe('downloadFile', () => {
  it('downloads a file, checks its SHA-256 and leaves no part file', async () => {
    routes.set('/file.bin', serveWithRanges(FIXTURE));
    const dest = join(dir, 'sub', 'file.bin');
    const result = await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: FIXTURE_SHA });
    expect(result).toEqual({ path: dest, bytes: FIXTURE.length, sha256: FIXTURE_SHA });
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('rejects a file whose checksum differs, deletes it, and names URL, both hashes and the way out', async () => {
    routes.set('/file.bin', serveWithRanges(FIXTURE));
    const dest = join(dir, 'file.bin');
    const wrong = 'ab'.repeat(32);
    const error = await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    const message = (error as DatasetError).message;
    expect(message).toContain(`${base}/file.bin`);
    expect(message).toContain(wrong);
    expect(message).toContain(FIXTURE_SHA);
    expect(message).toMatch(/mirror|by hand/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('resumes with a Range request after the connection is cut, and the file is byte-identical', async () => {
    const ranged = serveWithRanges(FIXTURE);
    const { reached, onProgress } = progressReaches(100_000);
    routes.set('/file.bin', (request, response, nth) => (nth === 1 ? sendAndCut(response, FIXTURE, 100_000, reached) : ranged(request, response, nth)));
    const dest = join(dir, 'file.bin');
    await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: FIXTURE_SHA, onProgress });
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true);
    expect(seen.map((s) => s.range)).toEqual([undefined, 'bytes=100000-']);
  });

  it('resumes a part file left by an earlier run', async () => {
    routes.set('/file.bin', serveWithRanges(FIXTURE));
    const dest = join(dir, 'file.bin');
    await writeFile(`${dest}.part`, FIXTURE.subarray(0, 12_345));
    await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: FIXTURE_SHA });
    expect(seen.map((s) => s.range)).toEqual(['bytes=12345-']);
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true);
  });

  it('finishes a part file that is already whole (server answers 416) without downloading again', async () => {
    routes.set('/file.bin', serveWithRanges(FIXTURE));
    const dest = join(dir, 'file.bin');
    await writeFile(`${dest}.part`, FIXTURE);
    await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: FIXTURE_SHA });
    expect(seen.map((s) => s.range)).toEqual([`bytes=${FIXTURE.length}-`]);
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true);
  });

  it('starts the part file over when the server ignores Range and answers 200', async () => {
    const { reached, onProgress } = progressReaches(100_000);
    routes.set('/file.bin', (_request, response, nth) => {
      if (nth === 1) sendAndCut(response, FIXTURE, 100_000, reached);
      else response.writeHead(200, { 'content-length': FIXTURE.length }).end(FIXTURE); // Range ignored
    });
    const dest = join(dir, 'file.bin');
    await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: FIXTURE_SHA, onProgress });
    expect(seen.map((s) => s.range)).toEqual([undefined, 'bytes=100000-']); // it asked to resume...
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true); // ...and still got a clean file
  });

  it('gives a clear error for 404, without retrying', async () => {
    const dest = join(dir, 'missing.bin');
    const error = await downloadFile(`${base}/missing.bin`, dest, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).message).toMatch(new RegExp(`server answered 404 Not Found for ${base}/missing\\.bin\\. .*(mirror|by hand)`));
    expect(seen).toHaveLength(1);
    expect(existsSync(dest)).toBe(false);
  });

  it('retries a server error (503) and then succeeds', async () => {
    const ranged = serveWithRanges(FIXTURE);
    routes.set('/file.bin', (request, response, nth) =>
      nth === 1 ? response.writeHead(503, 'Service Unavailable').end() : ranged(request, response, nth),
    );
    const dest = join(dir, 'file.bin');
    await downloadFile(`${base}/file.bin`, dest, { ...fast, expectedSha256: FIXTURE_SHA });
    expect(seen).toHaveLength(2);
  });

  it('gives up after the given number of retries with the status in the message', async () => {
    routes.set('/busy.bin', (_request, response) => response.writeHead(503, 'Service Unavailable').end());
    const error = await downloadFile(`${base}/busy.bin`, join(dir, 'busy.bin'), { ...fast, retries: 2 }).catch((e: unknown) => e);
    expect((error as DatasetError).message).toMatch(/503 Service Unavailable/);
    expect(seen).toHaveLength(3);
  });

  it('follows redirects, relative and absolute', async () => {
    routes.set('/a', (_request, response) => response.writeHead(301, { location: '/b' }).end());
    routes.set('/b', (_request, response) => response.writeHead(302, { location: `${base}/file.bin` }).end());
    routes.set('/file.bin', serveWithRanges(FIXTURE));
    const dest = join(dir, 'file.bin');
    await downloadFile(`${base}/a`, dest, { ...fast, expectedSha256: FIXTURE_SHA });
    expect(seen.map((s) => s.path)).toEqual(['/a', '/b', '/file.bin']);
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true);
  });

  it('stops after 5 redirects', async () => {
    routes.set('/loop', (_request, response) => response.writeHead(302, { location: '/loop' }).end());
    const error = await downloadFile(`${base}/loop`, join(dir, 'loop.bin'), fast).catch((e: unknown) => e);
    expect((error as DatasetError).message).toMatch(/redirected more than 5 times/);
    expect(seen).toHaveLength(6);
  });

  it('reports progress that grows and reaches the total', async () => {
    routes.set('/file.bin', serveWithRanges(FIXTURE));
    const progress: DownloadProgress[] = [];
    await downloadFile(`${base}/file.bin`, join(dir, 'file.bin'), { ...fast, onProgress: (p) => progress.push(p) });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((p) => p.total === FIXTURE.length)).toBe(true);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.received).toBeGreaterThanOrEqual(progress[i - 1]!.received);
    expect(progress.at(-1)).toEqual({ received: FIXTURE.length, total: FIXTURE.length });
  });

  it('stops when aborted and leaves no file under the real name', async () => {
    routes.set('/stall.bin', (_request, response) => {
      response.writeHead(200, { 'content-length': FIXTURE.length });
      response.write(FIXTURE.subarray(0, 50_000)); // and never more
    });
    const controller = new AbortController();
    const dest = join(dir, 'stall.bin');
    const error = await downloadFile(`${base}/stall.bin`, dest, {
      ...fast,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.received > 0) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(existsSync(dest)).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('treats a stalled transfer as broken and resumes it', async () => {
    const ranged = serveWithRanges(FIXTURE);
    routes.set('/file.bin', (request, response, nth) => {
      if (nth > 1) return ranged(request, response, nth);
      response.writeHead(200, { 'content-length': FIXTURE.length });
      response.write(FIXTURE.subarray(0, 50_000)); // then silence
    });
    const dest = join(dir, 'file.bin');
    await downloadFile(`${base}/file.bin`, dest, { retryDelayMs: 1, timeoutMs: 150, expectedSha256: FIXTURE_SHA });
    expect(seen[1]?.range).toMatch(/^bytes=\d+-$/);
    expect((await readFile(dest)).equals(FIXTURE)).toBe(true);
  });
});

describe('fetchCatalogDataset', () => {
  const archive = gzipSync(randomBytes(50_000)); // any bytes that start like a .tar.gz
  const pairs = Buffer.from('10\t300\nAaron_Peirsol\t1\t2\n');

  function entry() {
    return catalogEntrySchema.parse({
      id: 'test-faces',
      name: 'Test faces',
      homePage: `${base}/`,
      description: 'A fixture served from 127.0.0.1.',
      identities: 2,
      images: 4,
      imageFormat: 'none',
      layout: { kind: 'folders', root: null },
      files: [
        {
          name: 'faces.tgz',
          role: 'images',
          format: 'tar.gz',
          urls: [`${base}/gone/faces.tgz`, `${base}/html/faces.tgz`, `${base}/mirror/faces.tgz`],
          approxBytes: archive.length,
          sha256: null,
          sha256Source: null,
        },
        {
          name: 'pairs.txt',
          role: 'pairs',
          format: 'text',
          urls: [`${base}/pairs.txt`],
          approxBytes: pairs.length,
          sha256: sha256(pairs),
          sha256Source: 'the test',
        },
      ],
      citation: 'None.',
      terms: 'None.',
      notes: [],
    });
  }

  it('tries mirrors in order, rejects a web page sent as an archive, and skips complete files the next time', async () => {
    routes.set('/html/faces.tgz', (_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html>moved</html>'));
    routes.set('/mirror/faces.tgz', serveWithRanges(archive));
    routes.set('/pairs.txt', serveWithRanges(pairs));
    const failed: string[] = [];
    const first = await fetchCatalogDataset(entry(), dir, { ...fast, onMirrorFailed: (e) => failed.push(e.url) });
    expect(failed).toEqual([`${base}/gone/faces.tgz`, `${base}/html/faces.tgz`]);
    expect(first.map((f) => [f.path, f.downloadedFrom])).toEqual([
      [join(dir, 'downloads', 'test-faces', 'faces.tgz'), `${base}/mirror/faces.tgz`],
      [join(dir, 'downloads', 'test-faces', 'pairs.txt'), `${base}/pairs.txt`],
    ]);
    expect((await readFile(first[0]!.path)).equals(archive)).toBe(true);
    expect((await readFile(first[1]!.path)).equals(pairs)).toBe(true);

    seen = [];
    const second = await fetchCatalogDataset(entry(), dir, fast);
    expect(second.map((f) => f.downloadedFrom)).toEqual([null, null]);
    expect(seen).toEqual([]);
  });

  it('downloads again a file whose checksum no longer matches', async () => {
    routes.set('/mirror/faces.tgz', serveWithRanges(archive));
    routes.set('/pairs.txt', serveWithRanges(pairs));
    const folder = join(dir, 'downloads', 'test-faces');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'faces.tgz'), archive); // no checksum known: taken as complete
    await writeFile(join(folder, 'pairs.txt'), 'tampered');
    const fetched = await fetchCatalogDataset(entry(), dir, fast);
    expect(fetched.map((f) => f.downloadedFrom)).toEqual([null, `${base}/pairs.txt`]);
    expect((await readFile(join(folder, 'pairs.txt'))).equals(pairs)).toBe(true);
  });

  it('names every address that failed and points to the home page when none works', async () => {
    const error = await fetchCatalogDataset(entry(), dir, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    const message = (error as DatasetError).message;
    for (const path of ['/gone/faces.tgz', '/html/faces.tgz', '/mirror/faces.tgz']) expect(message).toContain(`${base}${path}`);
    expect(message).toContain(`by hand from ${base}/`);
    expect(existsSync(join(dir, 'downloads', 'test-faces', 'faces.tgz'))).toBe(false);
  });
});
