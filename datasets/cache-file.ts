// The dataset cache: every face decoded once into a compact binary file, so that
// opening the same dataset again costs a folder listing, not a decode.
//
// Layout: "FCLFACES" | u32 format version | u32 index length | 16-byte nonce
//         | index (UTF-8 JSON) | zero padding to 8 bytes
//         | pixels (image after image, storedSize^2 each).
//
// Every write gives the file a fresh random nonce. It is part of the index (what a
// dataset is opened with) and repeated in the fixed-size header, so that a read
// of the pixels, even of a single face, can check with a 32-byte read that the
// file it reads is still the one the dataset was opened from: another import of
// the same source (another layout or identity rule orders the faces differently)
// may have replaced it in the meantime. A CRC-32 of the pixel block, in the index,
// catches a damaged file when the pixels are read in full.
import { constants as bufferConstants } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import zlib from 'node:zlib';
import { z } from 'zod';
import { writeFileAtomic } from '../files/atomic-file';
import type { FitMode } from './decode';
import { DatasetError, type SkippedFile } from './errors';
import { errorCode, formatBytes } from '../files/file-error';
import type { IdentityRule, LayoutKind } from './layout';
import { storedSizeFor } from './preprocess';
import type { ImageFormat } from './sniff';

export const CACHE_FORMAT_VERSION = 2;
const MAGIC = 'FCLFACES';
const NONCE_BYTES = 16;
const HEADER_BYTES = 16 + NONCE_BYTES;
/** Pixels are read and checksummed in steps of this many bytes. */
const READ_STEP = 1 << 26;

export interface CachedImage {
  /** Path below the dataset root (after the wrapper folder), '/'-separated. */
  readonly relPath: string;
  readonly identity: string;
  /** 'synthetic' for the built-in generated faces. */
  readonly format: ImageFormat | 'synthetic';
  /** Size of the original image. */
  readonly width: number;
  readonly height: number;
  /** SHA-256 of the file's bytes, hex. */
  readonly sha256: string;
  /** File size and modification time when it was read: unchanged means not read again. */
  readonly bytes: number;
  readonly mtimeMs: number;
}

/** A file that could not be used, remembered with its stamp so it is not decoded again while unchanged. */
export interface CachedRejection extends SkippedFile {
  readonly bytes: number;
  readonly mtimeMs: number;
}

/** The decoder's limits: a file refused under some limits may be accepted under others, and the other way round. */
export interface DecodeLimits {
  readonly maxInputPixels: number;
  readonly minSide: number;
}

export interface CacheIndex {
  readonly version: number;
  /** Random, new with every write of the file (see the top of this file). */
  readonly nonce: string;
  /** CRC-32 of the pixel block. */
  readonly pixelsCrc32: number;
  readonly source: {
    readonly kind: 'folder' | 'archive' | 'synthetic';
    readonly path: string;
    /** Archive file size and modification time. */
    readonly bytes?: number | undefined;
    readonly mtimeMs?: number | undefined;
    /** Synthetic sets: the generator's parameters. */
    readonly synthetic?: Record<string, number> | undefined;
  };
  readonly storedSize: number;
  readonly fit: FitMode;
  /** The limits the faces were accepted and the rejections made under. */
  readonly limits: DecodeLimits;
  readonly wrapper: string;
  /** What was asked for ('auto' or a forced layout) and what it gave. */
  readonly layoutChoice: LayoutKind | 'auto';
  readonly layout: LayoutKind;
  readonly identityRule: IdentityRule;
  /** In pixel order: sorted by identity, then by natural file order. */
  readonly images: readonly CachedImage[];
  readonly rejected: readonly CachedRejection[];
  /** Everything left out, rejected files included, for the import report. */
  readonly skipped: readonly SkippedFile[];
  readonly updatedAt: string;
}

/** What a cache is before it is written: the nonce and the checksum come with the write. */
export type NewCacheIndex = Omit<CacheIndex, 'nonce' | 'pixelsCrc32'>;

const wholeNumber = z.number().int().nonnegative();
const skippedSchema = z.object({ path: z.string(), reason: z.string() });

/** What readCacheIndex accepts: a file that parses as JSON but is not this is treated as no cache. */
const cacheIndexSchema = z.object({
  version: z.literal(CACHE_FORMAT_VERSION),
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  pixelsCrc32: z.number().int().min(0).max(0xffffffff),
  source: z.object({
    kind: z.enum(['folder', 'archive', 'synthetic']),
    path: z.string(),
    bytes: wholeNumber.optional(),
    mtimeMs: z.number().optional(),
    synthetic: z.record(z.string(), z.number()).optional(),
  }),
  storedSize: z.number().int().positive(),
  fit: z.enum(['cover', 'contain', 'fill']),
  limits: z.object({ maxInputPixels: z.number().positive(), minSide: wholeNumber }),
  wrapper: z.string(),
  layoutChoice: z.enum(['auto', 'folders', 'flat']),
  layout: z.enum(['folders', 'flat']),
  identityRule: z.discriminatedUnion('kind', [z.object({ kind: z.literal('before-first-dot') }), z.object({ kind: z.literal('regex'), pattern: z.string() })]),
  images: z.array(
    z.object({
      relPath: z.string(),
      identity: z.string(),
      format: z.enum(['jpeg', 'png', 'gif', 'webp', 'tiff', 'avif', 'heif', 'pgm', 'ppm', 'synthetic']),
      width: wholeNumber,
      height: wholeNumber,
      sha256: z.string(),
      bytes: wholeNumber,
      mtimeMs: z.number(),
    }),
  ),
  rejected: z.array(skippedSchema.extend({ bytes: z.number(), mtimeMs: z.number() })),
  skipped: z.array(skippedSchema),
  updatedAt: z.string(),
}) satisfies z.ZodType<CacheIndex>;

/**
 * The most bytes one typed array can hold on this Node: every face of a dataset
 * lives in one (Shared)ArrayBuffer. 2^32 on Node 20: about 207k faces at 144 px.
 */
export const MAX_PIXEL_BYTES = bufferConstants.MAX_LENGTH;

export interface PixelBudget {
  readonly inputSize: number;
  readonly storedSize: number;
  /** Default MAX_PIXEL_BYTES. */
  readonly maxBytes: number;
  /** The dataset, for the message. */
  readonly source: string;
}

/**
 * Stops with a DatasetError when `count` faces (or files that may each be one)
 * cannot fit in one buffer, saying how big it is, the limit, and the way out.
 */
export function checkPixelBudget(count: number, counted: 'files' | 'faces', budget: PixelBudget): void {
  const bytes = count * budget.storedSize * budget.storedSize;
  if (bytes <= budget.maxBytes) return;
  const size = `${budget.storedSize}x${budget.storedSize}`;
  const smaller = Math.floor(budget.inputSize / 2);
  const smallerStored = storedSizeFor(Math.max(smaller, 1));
  const factor = Math.round((budget.storedSize / smallerStored) ** 2);
  throw new DatasetError(
    `The dataset is too big to hold in memory: ${count.toLocaleString('en')} ${counted === 'files' ? 'files (each may be a face) at' : 'faces at'} ${size} px ` +
      `need ${formatBytes(bytes)} (${bytes.toLocaleString('en')} bytes), over the limit of ${formatBytes(budget.maxBytes)} ` +
      `(${budget.maxBytes.toLocaleString('en')} bytes) that one buffer can hold`,
    (smaller >= 16 ? `Use a smaller --input (e.g. ${smaller} stores ${smallerStored} px faces, ${factor}x smaller), or import a subset` : 'Import a subset') +
      ' of the dataset (fewer identities or images)',
    budget.source,
  );
}

/** The cache file's name for these parameters: a short hash of them. */
export function cacheKey(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

/** Where the pixels start: after the header and the index, padded to 8 bytes. */
function pixelsOffsetFor(indexBytes: number): number {
  const end = HEADER_BYTES + indexBytes;
  return end + ((8 - (end % 8)) % 8);
}

function crc32Of(pixels: Uint8Array): number {
  let crc = 0;
  for (let at = 0; at < pixels.length; at += READ_STEP) crc = zlib.crc32(pixels.subarray(at, at + READ_STEP), crc);
  return crc;
}

export interface OpenedCache {
  readonly index: CacheIndex;
  readonly pixelsOffset: number;
}

/**
 * Writes the cache (creating its folder) with a fresh nonce and the pixels'
 * checksum, and returns it as opened, so the caller needs no read-back (which
 * another import could already have replaced).
 */
export async function writeCache(path: string, index: NewCacheIndex, pixels: Uint8Array): Promise<OpenedCache> {
  const nonce = randomBytes(NONCE_BYTES);
  const full: CacheIndex = { ...index, nonce: nonce.toString('hex'), pixelsCrc32: crc32Of(pixels) };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(CACHE_FORMAT_VERSION, 8);
  header.writeUInt32LE(json.length, 12);
  nonce.copy(header, 16);
  const pixelsOffset = pixelsOffsetFor(json.length);
  const padding = Buffer.alloc(pixelsOffset - HEADER_BYTES - json.length);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, [header, json, padding, pixels]);
  return { index: full, pixelsOffset };
}

/**
 * Reads the index only. Returns null for a missing, foreign, older-format,
 * truncated or otherwise unusable cache (an index that parses but does not match
 * the schema included): the caller then imports afresh.
 */
export async function readCacheIndex(path: string): Promise<OpenedCache | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || header.toString('latin1', 0, 8) !== MAGIC) return null;
    if (header.readUInt32LE(8) !== CACHE_FORMAT_VERSION) return null;
    const jsonLength = header.readUInt32LE(12);
    if (HEADER_BYTES + jsonLength > size) return null;
    const json = Buffer.alloc(jsonLength);
    const { bytesRead: jsonRead } = await handle.read(json, 0, jsonLength, HEADER_BYTES);
    if (jsonRead !== jsonLength) return null;
    const parsed = cacheIndexSchema.safeParse(JSON.parse(json.toString('utf8')));
    if (!parsed.success) return null;
    const index: CacheIndex = parsed.data;
    if (index.nonce !== header.toString('hex', 16, HEADER_BYTES)) return null;
    const pixelsOffset = pixelsOffsetFor(jsonLength);
    if (size !== pixelsOffset + index.images.length * index.storedSize * index.storedSize) return null;
    return { index, pixelsOffset };
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

/** Why the pixels of an opened cache cannot be read: the user opens the dataset again. */
export class CachePixelsError extends DatasetError {
  constructor(
    /** 'rewritten': another import replaced (or removed) the file; 'damaged': it fails its checksum. */
    readonly problem: 'rewritten' | 'damaged',
    path: string,
  ) {
    super(
      problem === 'rewritten'
        ? 'The dataset cache was rewritten by another import since this dataset was opened'
        : 'The dataset cache is damaged (its pixels fail their CRC-32 check, or the file is cut short); it was deleted',
      problem === 'rewritten' ? 'Open the dataset again' : 'Open the dataset again: it is imported afresh',
      path,
    );
  }
}

/** Opens the cache file and checks that it is still the one `opened` was read from. */
async function openSameCache(path: string, opened: OpenedCache): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new CachePixelsError('rewritten', path);
    throw error;
  }
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || header.toString('hex', 16, HEADER_BYTES) !== opened.index.nonce) {
      throw new CachePixelsError('rewritten', path);
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Reads `target.length` bytes from `position`; false when the file ends first. */
async function readFully(handle: FileHandle, target: Uint8Array, position: number): Promise<boolean> {
  for (let done = 0; done < target.length; ) {
    const { bytesRead } = await handle.read(target, done, Math.min(target.length - done, READ_STEP), position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

/**
 * All the pixels, checked: the file must still be the one `opened` came from
 * (else CachePixelsError 'rewritten') and its pixels must match their CRC-32
 * (else the damaged file is deleted, so that the next open imports afresh, and
 * CachePixelsError 'damaged').
 */
export async function readCachePixels(path: string, opened: OpenedCache): Promise<Uint8Array> {
  const length = opened.index.images.length * opened.index.storedSize * opened.index.storedSize;
  // A SharedArrayBuffer lets the batch worker read the faces without a copy.
  const pixels = new Uint8Array(new SharedArrayBuffer(length));
  const handle = await openSameCache(path, opened);
  let complete: boolean;
  try {
    complete = await readFully(handle, pixels, opened.pixelsOffset);
  } finally {
    await handle.close();
  }
  if (!complete || crc32Of(pixels) !== opened.index.pixelsCrc32) throw await damaged(path, opened);
  return pixels;
}

/** One face's pixels, read from its place in the file (no checksum: that covers the whole block). */
export async function readCacheFace(path: string, opened: OpenedCache, face: number): Promise<Uint8Array> {
  const faceBytes = opened.index.storedSize * opened.index.storedSize;
  const pixels = new Uint8Array(faceBytes);
  const handle = await openSameCache(path, opened);
  let complete: boolean;
  try {
    complete = await readFully(handle, pixels, opened.pixelsOffset + face * faceBytes);
  } finally {
    await handle.close();
  }
  if (!complete) throw await damaged(path, opened);
  return pixels;
}

/**
 * Deletes a damaged cache file, unless another import has replaced it meanwhile,
 * so that opening the dataset again imports it afresh; returns the error to throw.
 */
async function damaged(path: string, opened: OpenedCache): Promise<CachePixelsError> {
  try {
    await (await openSameCache(path, opened)).close();
  } catch (error) {
    if (error instanceof CachePixelsError) return error; // replaced or gone: not ours to delete
    throw error;
  }
  await rm(path, { force: true });
  return new CachePixelsError('damaged', path);
}
