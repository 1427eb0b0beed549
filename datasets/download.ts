// Downloads that survive a broken connection and never leave a file that only
// looks complete: bytes go to `<dest>.part`, a retry resumes it with an HTTP Range
// request, and only a whole, checked file is renamed to its real name.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CatalogEntry, CatalogFile } from './catalog';
import { writeError } from '../files/atomic-file';
import { DatasetError } from './errors';
import { FileError, formatBytes } from '../files/file-error';

export interface DownloadProgress {
  /** Bytes of the file on disk so far, a resumed part included. */
  readonly received: number;
  /** The file's whole size, or null when the server does not say. */
  readonly total: number | null;
}

export interface DownloadOptions {
  /** Lower-case hex; the file is rejected (and deleted) when its SHA-256 differs. */
  expectedSha256?: string | null;
  /** Called once when the body starts and after every chunk. */
  onProgress?: (progress: DownloadProgress) => void;
  /** How often a passing failure (broken connection, timeout, 5xx) is retried (default 3); an attempt that got further resets the count. */
  retries?: number;
  /** Wait before the first retry, doubled for each next one up to 30 s (default 1000). */
  retryDelayMs?: number;
  /** A connection silent for this long counts as broken (default 30 000). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A last look at the complete file before it gets its real name; throw a DatasetError to reject it. */
  validate?: (partPath: string) => Promise<void>;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

const MAX_REDIRECTS = 5;
const HEADERS = { 'user-agent': 'face-cnn-lab', 'accept-encoding': 'identity' };
const BY_HAND = 'or download the file by hand in a browser and import it';

/** A failure worth another attempt: a broken connection or a server that is busy for now. */
class TransientError extends Error {
  constructor(
    message: string,
    /** What to throw when the retries run out, when it says more than the generic message. */
    readonly final?: DatasetError,
  ) {
    super(message);
  }
}

export async function downloadFile(url: string, destPath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const { signal, retries = 3, retryDelayMs = 1000 } = options;
  const partPath = `${destPath}.part`;
  try {
    await mkdir(dirname(destPath), { recursive: true });
  } catch (error) {
    throw diskError(error, dirname(destPath)) ?? error;
  }

  let attempts = 0;
  let failures = 0; // in a row without progress
  for (;;) {
    signal?.throwIfAborted();
    const before = await sizeOf(partPath);
    attempts++;
    try {
      await attempt(url, partPath, before, options);
      break;
    } catch (error) {
      if (signal?.aborted) throw signal.reason; // the part file stays, to be resumed later
      if (error instanceof FileError) throw error; // a DatasetError, or a write's
      const writeProblem = diskError(error, partPath);
      if (writeProblem) throw writeProblem;
      failures = (await sizeOf(partPath)) > before ? 1 : failures + 1;
      if (failures > retries) {
        if (error instanceof TransientError && error.final) throw error.final;
        throw new DatasetError(
          `Could not download ${url} after ${attempts} attempt${attempts === 1 ? '' : 's'} (${describe(error)})`,
          `Check the network connection and try again (the ${await sizeOf(partPath)} bytes received so far are kept and resumed), try a mirror, ${BY_HAND}`,
        );
      }
      try {
        await sleep(Math.min(retryDelayMs * 2 ** (failures - 1), 30_000), undefined, { signal });
      } catch {
        signal?.throwIfAborted(); // the same error as an abort during the transfer
      }
    }
  }

  const sha256 = await sha256File(partPath);
  const expected = options.expectedSha256?.toLowerCase() ?? null;
  if (expected !== null && sha256 !== expected) {
    await rm(partPath, { force: true });
    throw new DatasetError(
      `The file downloaded from ${url} is not the expected one: its SHA-256 is ${sha256}, expected ${expected}`,
      'The download was deleted. Try again, or try a mirror; if it keeps happening the file on the server has changed: ' +
        'download it by hand from the dataset\'s home page, make sure it is the right file, and import it',
    );
  }
  if (options.validate) {
    try {
      await options.validate(partPath);
    } catch (error) {
      await rm(partPath, { force: true });
      throw error;
    }
  }
  const bytes = await sizeOf(partPath);
  await rename(partPath, destPath);
  return { path: destPath, bytes, sha256 };
}

/** One request: leaves the part file holding the whole body, or throws. */
async function attempt(url: string, partPath: string, offset: number, options: DownloadOptions): Promise<void> {
  const headers: Record<string, string> = { ...HEADERS };
  if (offset > 0) headers['range'] = `bytes=${offset}-`;
  const { response, finalUrl } = await openUrl(url, headers, options);
  const where = finalUrl === url ? url : `${finalUrl} (redirected from ${url})`;
  const status = response.statusCode ?? 0;

  let start: number;
  let total: number | null;
  if (status === 206) {
    const range = parseContentRange(response.headers['content-range']);
    if (offset === 0 || range === null || range.start !== offset) {
      response.destroy();
      await rm(partPath, { force: true }); // cannot tell what we would be appending to: start over
      throw new TransientError(`${where} answered with a range that does not continue the partial file`);
    }
    start = offset;
    total = range.total;
  } else if (status === 200) {
    start = 0; // a server that ignores Range sends the whole file: the part file starts over
    total = contentLength(response);
  } else if (status === 416 && offset > 0) {
    response.resume();
    // The part file may already be whole (killed between the last byte and the rename).
    if (parseContentRange(response.headers['content-range'])?.total === offset) {
      options.onProgress?.({ received: offset, total: offset });
      return;
    }
    await rm(partPath, { force: true });
    throw new TransientError(`the partial file is longer than the file at ${where}`);
  } else {
    response.resume();
    throw statusError(status, response.statusMessage, where);
  }

  // Each chunk is on disk before the next is read, so when the connection breaks
  // the part file holds everything counted and the next attempt resumes from there.
  let received = start;
  options.onProgress?.({ received, total });
  const file = await open(partPath, start > 0 ? 'a' : 'w').catch((error: unknown) => {
    response.destroy();
    throw error;
  });
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      for (let written = 0; written < chunk.length; ) {
        written += (await file.write(chunk, written, chunk.length - written)).bytesWritten;
      }
      received += chunk.length;
      options.onProgress?.({ received, total });
    }
  } finally {
    await file.close();
  }
  if (total !== null && received !== total) {
    throw new TransientError(`the connection closed after ${received} of ${total} bytes`);
  }
}

/** GET with redirects followed; resolves on the first non-redirect response. */
async function openUrl(
  url: string,
  headers: Record<string, string>,
  options: DownloadOptions,
): Promise<{ response: IncomingMessage; finalUrl: string }> {
  let current = url;
  for (let hops = 0; ; hops++) {
    const response = await get(current, headers, options);
    const status = response.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status)) return { response, finalUrl: current };
    response.resume();
    const location = response.headers.location;
    if (location === undefined) {
      throw new DatasetError(`${current} answered ${status} (redirect) without saying where to`, `Try a mirror, ${BY_HAND}`);
    }
    if (hops + 1 > MAX_REDIRECTS) {
      throw new DatasetError(`${url} redirected more than ${MAX_REDIRECTS} times`, `Try a mirror, ${BY_HAND}`);
    }
    current = new URL(location, current).href;
  }
}

function get(url: string, headers: Record<string, string>, options: DownloadOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new DatasetError(`"${url}" is not a valid URL`, 'Check the address'));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (client === null) {
      reject(new DatasetError(`Cannot download ${url}: only http and https are supported`, 'Use an http(s) address'));
      return;
    }
    const request = client.get(parsed, { headers, signal: options.signal }, resolve);
    // The socket timeout covers the whole exchange, the body included: a stalled
    // transfer is destroyed and the caller resumes it.
    const timeoutMs = options.timeoutMs ?? 30_000;
    request.setTimeout(timeoutMs, () => {
      request.destroy(Object.assign(new Error(`no data for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      // An unknown host will not appear by retrying: most likely there is no network.
      if (error.code === 'ENOTFOUND') {
        reject(new DatasetError(`Cannot resolve the host ${parsed.hostname} for ${url} (no network, or the address is wrong)`, `Check the network connection, try a mirror, ${BY_HAND}`));
      } else reject(error);
    });
  });
}

function statusError(status: number, statusMessage: string | undefined, where: string): Error {
  const error = new DatasetError(
    `The server answered ${status} ${statusMessage ?? ''}`.trimEnd() + ` for ${where}`,
    status === 404 || status === 410 ? `The file has moved or gone: try a mirror, ${BY_HAND}` : `Try again later, try a mirror, ${BY_HAND}`,
  );
  // Server errors, timeouts and rate limits pass; everything else will not change by asking again.
  return status >= 500 || status === 408 || status === 429 ? new TransientError(error.reason, error) : error;
}

function parseContentRange(header: string | undefined): { start: number; total: number | null } | null {
  const match = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (match === null) return null;
  return {
    start: match[1] === undefined ? -1 : Number(match[1]),
    total: match[2] === undefined || match[2] === '*' ? null : Number(match[2]),
  };
}

function contentLength(response: IncomingMessage): number | null {
  const value = Number(response.headers['content-length']);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** Errors of the disk, not the network: retrying will not help. */
function diskError(error: unknown, path: string): DatasetError | null {
  return writeError(error, path, { kept: 'the partial download is kept', again: 'download again to resume' });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

// --- the catalog's files -----------------------------------------------------

export interface FetchOptions {
  onProgress?: (progress: DownloadProgress & { readonly file: string; readonly url: string }) => void;
  /** A URL failed and the next mirror is about to be tried. */
  onMirrorFailed?: (event: { readonly file: string; readonly url: string; readonly error: Error }) => void;
  retries?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface FetchedFile {
  readonly file: CatalogFile;
  readonly path: string;
  /** The URL it came from, or null when a complete, verified copy was already there. */
  readonly downloadedFrom: string | null;
}

/** Where an entry's files go: `<dataDir>/downloads/<id>/`. */
export function downloadFolder(entry: CatalogEntry, dataDir: string): string {
  return join(dataDir, 'downloads', entry.id);
}

/**
 * Downloads every file of a catalog entry (mirrors in order) and returns where
 * they are. A file already complete (and matching its checksum, when one is known)
 * is not downloaded again. Importing them is the caller's business.
 */
export async function fetchCatalogDataset(entry: CatalogEntry, dataDir: string, options: FetchOptions = {}): Promise<FetchedFile[]> {
  const folder = downloadFolder(entry, dataDir);
  const fetched: FetchedFile[] = [];
  for (const file of entry.files) {
    const path = join(folder, file.name);
    if (await isComplete(path, file)) {
      fetched.push({ file, path, downloadedFrom: null });
      continue;
    }
    fetched.push({ file, path, downloadedFrom: await fetchFromMirrors(entry, file, path, options) });
  }
  return fetched;
}

/** Only a finished download gets its real name, so its presence means complete; the checksum says it is the right file. */
async function isComplete(path: string, file: CatalogFile): Promise<boolean> {
  if ((await sizeOf(path)) === 0) return false;
  return file.sha256 === null || (await sha256File(path)) === file.sha256;
}

async function fetchFromMirrors(entry: CatalogEntry, file: CatalogFile, path: string, options: FetchOptions): Promise<string> {
  const failures: string[] = [];
  for (const url of file.urls) {
    // Without a checksum nothing would notice bytes from two servers (or from an
    // older run against another mirror) glued together: such files start afresh.
    // They are the small ones; a checksummed part file is resumed, mirror or not.
    if (file.sha256 === null) await rm(`${path}.part`, { force: true });
    try {
      await downloadFile(url, path, {
        expectedSha256: file.sha256,
        onProgress: options.onProgress && ((progress) => options.onProgress?.({ ...progress, file: file.name, url })),
        retries: options.retries,
        retryDelayMs: options.retryDelayMs,
        timeoutMs: options.timeoutMs,
        signal: options.signal,
        validate: (partPath) => checkFormat(partPath, file, url),
      });
      return url;
    } catch (error) {
      if (options.signal?.aborted || !(error instanceof FileError)) throw error;
      if (error.path !== undefined) throw error; // only disk errors name a path: no mirror would do better
      failures.push(`${url}: ${error.reason}`);
      options.onMirrorFailed?.({ file: file.name, url, error });
    }
  }
  throw new DatasetError(
    `Could not download ${file.name} of ${entry.name} from any of its ${file.urls.length} address${file.urls.length === 1 ? '' : 'es'} (${failures.join('; ')})`,
    `Download it by hand from ${entry.homePage} and import the downloaded file`,
  );
}

// First bytes of each format: a server that sends a web page ("moved", "log in")
// with status 200 must not give us an HTML file named .zip.
async function checkFormat(partPath: string, file: CatalogFile, url: string): Promise<void> {
  const handle = await open(partPath, 'r');
  const head = Buffer.alloc(512);
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const ok =
    file.format === 'zip'
      ? head.readUInt32LE(0) === 0x04034b50 // "PK\3\4"
      : file.format === 'tar.gz'
        ? head[0] === 0x1f && head[1] === 0x8b
        : file.format === 'tar'
          ? head.toString('latin1', 257, 262) === 'ustar'
          : !/^\s*</.test(head.toString('latin1')); // text: anything but markup
  if (!ok) {
    throw new DatasetError(
      `${url} did not send a ${file.format} file (the server probably answered with a web page)`,
      `Try a mirror, ${BY_HAND}`,
    );
  }
}

/** What the command line shows, and asks the user to accept, before downloading. */
export function formatTerms(entry: CatalogEntry): string {
  const size = entry.files.reduce((sum, file) => sum + file.approxBytes, 0);
  const lines = [
    entry.name,
    `  ${entry.identities.toLocaleString('en')} identities, ${entry.images.toLocaleString('en')} images (${entry.imageFormat}); about ${formatBytes(size)} to download`,
    `  Home page: ${entry.homePage}`,
    '',
    'Citation:',
    `  ${entry.citation}`,
    '',
    'Terms of use:',
    `  ${entry.terms}`,
    '',
    'Files:',
    ...entry.files.map(
      (file) =>
        `  ${file.name} (about ${formatBytes(file.approxBytes)}) from ${file.urls[0] ?? '?'}` +
        (file.urls.length > 1 ? ` (+${file.urls.length - 1} mirror${file.urls.length > 2 ? 's' : ''})` : '') +
        (file.sha256 === null ? '; no published checksum, integrity not verifiable' : '; SHA-256 checked'),
    ),
  ];
  if (entry.notes.length > 0) lines.push('', 'Notes:', ...entry.notes.map((note) => `  - ${note}`));
  return lines.join('\n');
}
