// The dataset cache: every face decoded once into a compact binary file, so that
// opening the same dataset again costs a folder listing, not a decode.
//
// Layout: "FCLFACES" | u32 format version | u32 index length | index (UTF-8 JSON)
//         | zero padding to 8 bytes | pixels (image after image, storedSize^2 each).
import { open } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file';
import type { FitMode } from './decode';
import type { SkippedFile } from './errors';
import type { IdentityRule, LayoutKind } from './layout';
import type { ImageFormat } from './sniff';

export const CACHE_FORMAT_VERSION = 1;
const MAGIC = 'FCLFACES';
const HEADER_BYTES = 16;

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

export interface CacheIndex {
  readonly version: number;
  readonly source: {
    readonly kind: 'folder' | 'archive' | 'synthetic';
    readonly path: string;
    /** Archive file size and modification time. */
    readonly bytes?: number;
    readonly mtimeMs?: number;
    /** Synthetic sets: the generator's parameters. */
    readonly synthetic?: Record<string, number>;
  };
  readonly storedSize: number;
  readonly fit: FitMode;
  readonly wrapper: string;
  readonly layout: LayoutKind;
  readonly identityRule: IdentityRule;
  /** In pixel order: sorted by identity, then by natural file order. */
  readonly images: readonly CachedImage[];
  readonly rejected: readonly CachedRejection[];
  /** Everything left out, rejected files included, for the import report. */
  readonly skipped: readonly SkippedFile[];
  readonly updatedAt: string;
}

export async function writeCache(path: string, index: CacheIndex, pixels: Uint8Array): Promise<void> {
  const json = Buffer.from(JSON.stringify(index), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(CACHE_FORMAT_VERSION, 8);
  header.writeUInt32LE(json.length, 12);
  const padding = Buffer.alloc((8 - ((HEADER_BYTES + json.length) % 8)) % 8);
  await writeFileAtomic(path, [header, json, padding, pixels]);
}

export interface OpenedCache {
  readonly index: CacheIndex;
  readonly pixelsOffset: number;
}

/**
 * Reads the index only. Returns null for a missing, foreign, older-format,
 * truncated or otherwise unusable cache: the caller then imports afresh.
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
    await handle.read(json, 0, jsonLength, HEADER_BYTES);
    const index = JSON.parse(json.toString('utf8')) as CacheIndex;
    const pixelsOffset = HEADER_BYTES + jsonLength + ((8 - ((HEADER_BYTES + jsonLength) % 8)) % 8);
    if (size !== pixelsOffset + index.images.length * index.storedSize * index.storedSize) return null;
    return { index, pixelsOffset };
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

export async function readCachePixels(path: string, opened: OpenedCache): Promise<Uint8Array> {
  const length = opened.index.images.length * opened.index.storedSize * opened.index.storedSize;
  // A SharedArrayBuffer lets the batch worker read the faces without a copy.
  const pixels = new Uint8Array(new SharedArrayBuffer(length));
  const handle = await open(path, 'r');
  try {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(pixels, done, Math.min(length - done, 1 << 26), opened.pixelsOffset + done);
      if (bytesRead === 0) throw new Error(`the dataset cache ended early: ${path}`);
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return pixels;
}
