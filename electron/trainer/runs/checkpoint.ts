// A checkpoint: named float32/int32 arrays (weights, optimizer state, ...) plus
// the step, epoch and free-form metadata (RNG state, update count...), in ONE file
// written atomically (temp file, fsync, rename: see files/atomic-file.ts), with
// a SHA-256 at the end that is verified on every load.
//
// Layout (all integers little-endian):
//   0   "FCLCHKPT"                 8 bytes, magic
//   8   u32 format version         (CHECKPOINT_FORMAT_VERSION)
//   12  u32 header length H        bytes of the header that follows, padding included
//   16  header, UTF-8 JSON         padded with spaces so that the data starts at a multiple of 8
//   16+H data                      each tensor's raw values at its header offset (relative to
//                                  the data's start, a multiple of 8), zero bytes between
//   end-32 SHA-256                 of every byte before it
//
// Header: { step, epoch, meta, byteOrder: "little", dataLength,
//           tensors: [{ name, dtype: "float32"|"int32", shape, offset, byteLength }] }
import type * as tf from '@tensorflow/tfjs';
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { z } from 'zod';
import { writeFileAtomic } from '../../../files/atomic-file';
import { RunError, writeFailed } from './errors';

export const CHECKPOINT_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('FCLCHKPT', 'latin1');
const PREFIX_BYTES = 16;
const DIGEST_BYTES = 32;
const ALIGN = 8;
const DAMAGED_REMEDY = 'Resume from the previous checkpoint, or start a new run';

export { RunError, type RunErrorKind } from './errors';

export type CheckpointDType = 'float32' | 'int32';

export interface NamedTensor {
  readonly name: string;
  readonly tensor: tf.Tensor;
}

/** A named array whose values are already in memory (what a compute core hands over: no tensor). */
export interface NamedArray {
  readonly name: string;
  readonly dtype: CheckpointDType;
  readonly shape: number[];
  readonly values: Float32Array | Int32Array;
}

export interface CheckpointData {
  readonly step: number;
  readonly epoch: number;
  /** Anything JSON can hold (NaN and Infinity become null, as in JSON.stringify). */
  readonly meta: Record<string, unknown>;
  /** Tensors (read with `data()`) or arrays, each saved under its name. */
  readonly tensors: readonly (NamedTensor | NamedArray)[];
}

export interface LoadedCheckpoint {
  readonly step: number;
  readonly epoch: number;
  readonly meta: Record<string, unknown>;
  /** Every saved array by name, in the file's order (plain arrays: nothing to dispose). */
  readonly arrays: Map<string, NamedArray>;
  /** The file's size in bytes. */
  readonly bytes: number;
}

const tensorEntrySchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'int32']),
  shape: z.array(z.number().int().min(0)),
  offset: z.number().int().min(0),
  byteLength: z.number().int().min(0),
});

const headerSchema = z.object({
  step: z.number().int().min(0),
  epoch: z.number().min(0),
  meta: z.record(z.string(), z.unknown()),
  byteOrder: z.literal('little'),
  dataLength: z.number().int().min(0),
  tensors: z.array(tensorEntrySchema),
});

type TensorEntry = z.infer<typeof tensorEntrySchema>;
type Header = z.infer<typeof headerSchema>;

const littleEndianHost = endianness() === 'LE';

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The bytes of a typed array as stored in the file (little-endian), without a copy on little-endian hosts. */
function storedBytes(values: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (littleEndianHost) return bytes;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    swapped[i] = bytes[i + 3] as number;
    swapped[i + 1] = bytes[i + 2] as number;
    swapped[i + 2] = bytes[i + 1] as number;
    swapped[i + 3] = bytes[i] as number;
  }
  return swapped;
}

function swapInPlace(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4) {
    const a = bytes[i] as number;
    const b = bytes[i + 1] as number;
    bytes[i] = bytes[i + 3] as number;
    bytes[i + 1] = bytes[i + 2] as number;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

/**
 * Writes `data` to `path` atomically: either the whole new file is there under
 * `path`, or (full disk, crash) the file that was there before is untouched.
 * Tensor values are read with `data()` one tensor at a time (arrays are taken as
 * they are) and written; no single buffer of the whole checkpoint is built.
 */
export async function saveCheckpoint(path: string, data: CheckpointData): Promise<{ bytes: number }> {
  if (!Number.isInteger(data.step) || data.step < 0) throw new TypeError(`checkpoint step must be an integer >= 0, got ${data.step}`);
  if (!Number.isFinite(data.epoch) || data.epoch < 0) throw new TypeError(`checkpoint epoch must be a number >= 0, got ${data.epoch}`);
  const seen = new Set<string>();
  for (const entry of data.tensors) {
    const { name } = entry;
    if (name === '') throw new TypeError('a checkpoint tensor needs a name');
    if (seen.has(name)) throw new TypeError(`two checkpoint tensors are named "${name}"`);
    seen.add(name);
    const dtype = 'tensor' in entry ? entry.tensor.dtype : entry.dtype;
    if (dtype !== 'float32' && dtype !== 'int32') {
      throw new TypeError(`checkpoint tensor "${name}" is ${dtype}; only float32 and int32 are stored`);
    }
    if ('tensor' in entry && entry.tensor.isDisposed) throw new TypeError(`checkpoint tensor "${name}" was disposed before it was saved`);
  }

  const entries: TensorEntry[] = [];
  const payloads: Uint8Array[] = [];
  let cursor = 0;
  for (const entry of data.tensors) {
    const { name, dtype, shape, values } = 'tensor' in entry ? await readTensor(entry) : entry;
    const expected = dtype === 'float32' ? Float32Array : Int32Array;
    const size = elementCount(shape);
    if (!(values instanceof expected) || values.length !== size) {
      throw new TypeError(`checkpoint tensor "${name}": ${values.constructor.name}[${values.length}] for ${dtype}[${size}]`);
    }
    const offset = alignUp(cursor);
    entries.push({ name, dtype, shape: [...shape], offset, byteLength: values.byteLength });
    payloads.push(storedBytes(values));
    cursor = offset + values.byteLength;
  }
  const dataLength = alignUp(cursor);
  const header: Header = { step: data.step, epoch: data.epoch, meta: data.meta, byteOrder: 'little', dataLength, tensors: entries };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = alignUp(PREFIX_BYTES + json.length) - PREFIX_BYTES;
  const headerBytes = Buffer.alloc(headerLength, 0x20);
  json.copy(headerBytes);

  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CHECKPOINT_FORMAT_VERSION, 8);
  prefix.writeUInt32LE(headerLength, 12);

  const zeros = new Uint8Array(ALIGN);
  const chunks: Uint8Array[] = [prefix, headerBytes];
  let at = 0;
  entries.forEach((entry, i) => {
    if (entry.offset > at) chunks.push(zeros.subarray(0, entry.offset - at));
    chunks.push(payloads[i] as Uint8Array);
    at = entry.offset + entry.byteLength;
  });
  if (dataLength > at) chunks.push(zeros.subarray(0, dataLength - at));
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  chunks.push(hash.digest());

  try {
    await writeFileAtomic(path, chunks);
  } catch (error) {
    writeFailed(error, { what: `The checkpoint of step ${data.step}`, path, kept: '(no partial file was left) and the previous checkpoint is intact' });
  }
  return { bytes: PREFIX_BYTES + headerLength + dataLength + DIGEST_BYTES };
}

/** A tensor's values, read asynchronously (the only read tfjs-webgpu has in Node). */
async function readTensor({ name, tensor }: NamedTensor): Promise<NamedArray> {
  return { name, dtype: tensor.dtype as CheckpointDType, shape: [...tensor.shape], values: (await tensor.data()) as Float32Array | Int32Array };
}

async function readExactly(handle: FileHandle, target: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Hashes [start, end) of the file into `hash`, in blocks. */
async function hashRange(handle: FileHandle, hash: Hash, start: number, end: number): Promise<void> {
  const block = Buffer.alloc(Math.min(1 << 20, Math.max(1, end - start)));
  for (let position = start; position < end; ) {
    const n = await readExactly(handle, block.subarray(0, Math.min(block.length, end - position)), position);
    if (n === 0) break;
    hash.update(block.subarray(0, n));
    position += n;
  }
}

/** True when the SHA-256 at the end of the file matches the bytes before it. */
async function checksumMatches(handle: FileHandle, size: number): Promise<boolean> {
  if (size < DIGEST_BYTES) return false;
  const hash = createHash('sha256');
  await hashRange(handle, hash, 0, size - DIGEST_BYTES);
  const stored = Buffer.alloc(DIGEST_BYTES);
  await readExactly(handle, stored, size - DIGEST_BYTES);
  return hash.digest().equals(stored);
}

function checkLayout(header: Header): string | undefined {
  let end = 0;
  const names = new Set<string>();
  for (const t of header.tensors) {
    if (names.has(t.name)) return `tensor "${t.name}" appears twice`;
    names.add(t.name);
    if (t.byteLength !== elementCount(t.shape) * 4) return `tensor "${t.name}" has ${t.byteLength} bytes for shape [${t.shape.join(', ')}]`;
    if (t.offset < end || t.offset % 4 !== 0) return `tensor "${t.name}" is at a bad offset`;
    end = t.offset + t.byteLength;
  }
  if (end > header.dataLength) return 'the tensors run past the data';
  return undefined;
}

/**
 * Reads and verifies a checkpoint: magic, format version, length and SHA-256.
 * Any damage (truncated file, flipped byte, not a checkpoint at all) throws a
 * RunError naming the file; nothing is returned unless the whole file verifies.
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  return readCheckpoint(path, true);
}

/**
 * Checks a checkpoint as loadCheckpoint does (the same RunErrors) without keeping
 * its arrays in memory: the file is hashed in blocks. `arrays` comes back empty.
 */
export async function verifyCheckpoint(path: string): Promise<LoadedCheckpoint> {
  return readCheckpoint(path, false);
}

async function readCheckpoint(path: string, keepArrays: boolean): Promise<LoadedCheckpoint> {
  const damaged = (detail: string, cause?: unknown): RunError =>
    new RunError(`The checkpoint is damaged (${detail})`, DAMAGED_REMEDY, path, { kind: 'damaged', cause });
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RunError('The checkpoint does not exist', DAMAGED_REMEDY, path, { kind: 'missing', cause: error });
    throw new RunError(`The checkpoint cannot be opened (${code ?? String(error)})`, DAMAGED_REMEDY, path, { kind: 'io', cause: error });
  }
  try {
    const size = (await handle.stat()).size;
    const prefix = Buffer.alloc(PREFIX_BYTES);
    const got = await readExactly(handle, prefix, 0);
    const magicBytes = Math.min(got, MAGIC.length);
    if (!prefix.subarray(0, magicBytes).equals(MAGIC.subarray(0, magicBytes)) || (got === 0 && size > 0)) {
      throw new RunError('This file is not a Face CNN Lab checkpoint (wrong magic number)', DAMAGED_REMEDY, path, { kind: 'damaged' });
    }
    if (size < PREFIX_BYTES + DIGEST_BYTES) throw damaged(`truncated: only ${size} bytes`);
    const version = prefix.readUInt32LE(8);
    if (version !== CHECKPOINT_FORMAT_VERSION) {
      if (version > CHECKPOINT_FORMAT_VERSION && version < 1000 && (await checksumMatches(handle, size))) {
        throw new RunError(
          `The checkpoint was written by a newer version of the lab (format ${version}; this one reads format ${CHECKPOINT_FORMAT_VERSION})`,
          'Update the lab, or resume from a checkpoint this version wrote',
          path,
          { kind: 'newer-format' },
        );
      }
      throw damaged('checksum mismatch');
    }
    const headerLength = prefix.readUInt32LE(12);
    // Anything inconsistent from here on: the checksum says whether the file was damaged.
    const diagnose = async (detail: string): Promise<RunError> =>
      (await checksumMatches(handle, size)) ? damaged(detail) : damaged('checksum mismatch');
    if (PREFIX_BYTES + headerLength + DIGEST_BYTES > size) throw await diagnose(`truncated: ${size} bytes`);
    const headerBytes = Buffer.alloc(headerLength);
    await readExactly(handle, headerBytes, PREFIX_BYTES);
    let header: Header;
    try {
      header = headerSchema.parse(JSON.parse(headerBytes.toString('utf8')));
    } catch {
      throw await diagnose('unreadable header');
    }
    const layoutProblem = checkLayout(header);
    if (layoutProblem !== undefined) throw await diagnose(layoutProblem);
    const expected = PREFIX_BYTES + headerLength + header.dataLength + DIGEST_BYTES;
    if (size < expected) throw damaged(`truncated: ${size} of ${expected} bytes`);
    if (size > expected) throw await diagnose(`${size - expected} unexpected bytes at the end`);

    // One pass: each tensor's bytes are read straight into its own typed array while hashing.
    const hash = createHash('sha256');
    hash.update(prefix);
    hash.update(headerBytes);
    const dataStart = PREFIX_BYTES + headerLength;
    const arrays: Array<Float32Array | Int32Array> = [];
    let at = 0;
    for (const entry of header.tensors) {
      if (entry.offset > at) await hashRange(handle, hash, dataStart + at, dataStart + entry.offset);
      if (!keepArrays) {
        // hashRange stops at the end of the file: a short file fails the checksum below.
        await hashRange(handle, hash, dataStart + entry.offset, dataStart + entry.offset + entry.byteLength);
        at = entry.offset + entry.byteLength;
        continue;
      }
      const count = entry.byteLength / 4;
      const values = entry.dtype === 'float32' ? new Float32Array(count) : new Int32Array(count);
      const bytes = new Uint8Array(values.buffer);
      const n = await readExactly(handle, bytes, dataStart + entry.offset);
      if (n !== bytes.length) throw damaged(`truncated while reading "${entry.name}"`);
      hash.update(bytes);
      if (!littleEndianHost) swapInPlace(bytes);
      arrays.push(values);
      at = entry.offset + entry.byteLength;
    }
    if (header.dataLength > at) await hashRange(handle, hash, dataStart + at, dataStart + header.dataLength);
    const stored = Buffer.alloc(DIGEST_BYTES);
    await readExactly(handle, stored, size - DIGEST_BYTES);
    if (!hash.digest().equals(stored)) throw damaged('checksum mismatch');

    const named = new Map<string, NamedArray>();
    if (keepArrays) header.tensors.forEach((entry, i) => named.set(entry.name, { name: entry.name, dtype: entry.dtype, shape: entry.shape, values: arrays[i] as Float32Array | Int32Array }));
    return { step: header.step, epoch: header.epoch, meta: header.meta, arrays: named, bytes: size };
  } catch (error) {
    if (error instanceof RunError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new RunError(`The checkpoint cannot be read (${code})`, DAMAGED_REMEDY, path, { kind: 'io', cause: error });
    throw error;
  } finally {
    await handle.close();
  }
}
