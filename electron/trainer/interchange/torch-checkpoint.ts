// Reading a PyTorch checkpoint file in either of torch.save's formats, without Python:
//   zip (torch >= 1.6): <archive>/data.pkl, the pickle, whose tensors name storages stored
//     as <archive>/data/<key>, raw little-endian;
//   legacy (torch < 1.6, and the published Light CNN files): one file of pickles in a row
//     (magic number, format version 1001, system info, the object, the storage keys), then
//     each storage as an 8-byte element count and its raw bytes.
// Only the pickles' data is read (torch-pickle.ts); nothing in the file is ever run.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { BufferReader } from 'pickleparser';
import yauzl from 'yauzl';
import { errorCode, formatBytes } from '../../../files/file-error';
import { InterchangeError } from './interchange-error';
import { damaged, ELEMENT_BYTES, readPickle, readPickledLong, type StorageDType, type TensorRef } from './torch-pickle';

/** The legacy format's first pickle: torch.serialization's MAGIC_NUMBER. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** The largest checkpoint read: Node's buffers stop at 2 GiB minus a little; LightCNN-29's file is about 130 MB. */
const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

export interface TorchTensor {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  /** Row-major values, converted to float32. */
  readonly values: Float32Array;
}

export interface TorchCheckpoint {
  readonly format: 'zip' | 'legacy';
  readonly sha256: string;
  readonly bytes: number;
  /** The state_dict's tensors by name, in the file's order, with a DataParallel `module.` prefix removed. */
  readonly tensors: ReadonlyMap<string, TorchTensor>;
  /** Where the state_dict was found: '' (the file is one), or the key of the dict holding it. */
  readonly stateDictKey: string;
  /** True when every name had DataParallel's `module.` prefix. */
  readonly strippedModulePrefix: boolean;
  /** The dict's other plain values (arch, epoch, best_prec1, lab_config, ...), as text. */
  readonly info: ReadonlyMap<string, string>;
}

/** Reads and checks `path`; every failure is an InterchangeError naming the file. */
export async function readTorchCheckpoint(path: string): Promise<TorchCheckpoint> {
  try {
    return await readChecked(path);
  } catch (error) {
    if (error instanceof InterchangeError) throw error.about(path);
    throw error;
  }
}

async function readChecked(path: string): Promise<TorchCheckpoint> {
  const cannotRead = (error: unknown): never => {
    throw new InterchangeError(`The checkpoint cannot be read (${errorCode(error) ?? (error as Error).message})`, 'Check the path', path);
  };
  const { size } = await stat(path).catch(cannotRead);
  if (size > MAX_CHECKPOINT_BYTES) throw new InterchangeError(`the file is ${formatBytes(size)}, more than the ${formatBytes(MAX_CHECKPOINT_BYTES)} the lab reads`, 'Save the weights alone (model.state_dict()) in float32');
  const bytes = await readFile(path).catch(cannotRead);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let format: TorchCheckpoint['format'];
  let root: unknown;
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0x04034b50) {
    format = 'zip';
    root = await readZipFormat(bytes);
  } else if (bytes.length >= 2 && bytes[0] === 0x80) {
    format = 'legacy';
    root = readLegacyFormat(bytes);
  } else if (bytes.length >= 262 && bytes.subarray(257, 262).toString('latin1') === 'ustar') {
    throw new InterchangeError('this is the tar format of PyTorch before 0.4, which the lab does not read', 'Load it in an old PyTorch and save it again with torch.save (any version from 1.6 writes the zip format)');
  } else if (bytes.length === 0) {
    throw new InterchangeError('the file is empty', 'Download or copy the checkpoint again');
  } else {
    throw new InterchangeError("this is not a PyTorch checkpoint (neither torch.save's zip format nor its older pickle format)", 'Pass a file written by torch.save (.pth, .pt, .pth.tar)');
  }
  return { format, sha256, bytes: size, ...findStateDict(root) };
}

// ---------------------------------------------------------------- zip

async function zipEntries(bytes: Buffer): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  const entries = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName.endsWith('/')) return zip.readEntry();
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', reject);
        stream.on('end', () => {
          const data = Buffer.concat(chunks);
          // yauzl does not check CRCs; torch's reader does, and a flipped bit in a weight would otherwise pass.
          if (crc32(data) >>> 0 !== entry.crc32 >>> 0) return reject(new Error(`${entry.fileName} does not match its checksum`));
          entries.set(entry.fileName, data);
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return entries;
}

async function readZipFormat(bytes: Buffer): Promise<unknown> {
  let entries: Map<string, Buffer>;
  try {
    entries = await zipEntries(bytes);
  } catch (error) {
    throw new InterchangeError(`the checkpoint's zip archive is damaged (${(error as Error).message})`, 'Download or copy the file again; torch.load would fail on it too');
  }
  const pickleName = [...entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleName === undefined) throw new InterchangeError('the zip archive holds no data.pkl, so it is not a PyTorch checkpoint', 'Pass a file written by torch.save');
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const root = readPickle(new BufferReader(entries.get(pickleName) as Buffer));
  return materialize(root, (key) => entries.get(`${prefix}data/${key}`));
}

// ---------------------------------------------------------------- legacy

function readLegacyFormat(bytes: Buffer): unknown {
  const reader = new BufferReader(bytes);
  const magic = readPickledLong(bytes, reader);
  if (magic !== LEGACY_MAGIC) {
    throw new InterchangeError('this pickle is not a PyTorch checkpoint (it lacks torch.save\'s magic number)', 'Pass a file written by torch.save; a plain pickle of Python objects is not read');
  }
  const protocol = readPickle(reader);
  if (Number(protocol) !== LEGACY_PROTOCOL) throw new InterchangeError(`the checkpoint's format version is ${String(protocol)}, not ${LEGACY_PROTOCOL}`, 'Load it in PyTorch and save it again with torch.save');
  const systemInfo = readPickle(reader);
  if (systemInfo instanceof Map && systemInfo.get('little_endian') === false) {
    throw new InterchangeError('the checkpoint was written on a big-endian machine', 'Load it in PyTorch and save it again on a little-endian machine');
  }
  const root = readPickle(reader);
  const keys = readPickle(reader);
  if (!Array.isArray(keys)) throw new InterchangeError('the checkpoint lists no storages after its object');
  const dtypes = storageDtypes(root);
  const storages = new Map<string, Buffer>();
  for (const key of keys.map(String)) {
    const dtype = dtypes.get(key);
    if (dtype === undefined) throw new InterchangeError(`the checkpoint stores a storage ${key} that no tensor uses`);
    if (reader.position + 8 > bytes.length) throw damaged(new Error('out of range'));
    const count = Number(bytes.readBigInt64LE(reader.position));
    const start = reader.position + 8;
    const end = start + count * ELEMENT_BYTES[dtype];
    if (count < 0 || end > bytes.length) throw damaged(new Error('out of range'));
    storages.set(key, bytes.subarray(start, end));
    reader.skip(end - reader.position);
  }
  return materialize(root, (key) => storages.get(key));
}

/** The element type of every storage the object's tensors use. */
function storageDtypes(root: unknown): Map<string, StorageDType> {
  const dtypes = new Map<string, StorageDType>();
  walk(root, (tensor) => void dtypes.set(tensor.storage.key, tensor.storage.dtype));
  return dtypes;
}

function isTensorRef(value: unknown): value is TensorRef {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tensor';
}

function walk(value: unknown, visit: (tensor: TensorRef) => void): void {
  if (isTensorRef(value)) visit(value);
  else if (value instanceof Map) for (const v of value.values()) walk(v, visit);
  else if (Array.isArray(value)) for (const v of value) walk(v, visit);
}

// ---------------------------------------------------------------- tensors

/** The object with each tensor reference replaced by its values (a TorchTensor). */
function materialize(value: unknown, storageBytes: (key: string) => Buffer | undefined): unknown {
  if (isTensorRef(value)) return tensorValues(value, storageBytes(value.storage.key));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, materialize(v, storageBytes)]));
  if (Array.isArray(value)) return value.map((v) => materialize(v, storageBytes));
  return value;
}

function tensorValues(ref: TensorRef, bytes: Buffer | undefined): TorchTensor {
  const { dtype } = ref.storage;
  if (bytes === undefined) throw new InterchangeError(`the checkpoint lacks the data of storage ${ref.storage.key}`, 'Download or copy the file again; it is incomplete');
  const width = ELEMENT_BYTES[dtype];
  const elements = Math.floor(bytes.length / width);
  if (ref.storage.numel >= 0 && elements < ref.storage.numel) throw damaged(new Error('out of range'));
  const count = ref.shape.reduce((a, b) => a * b, 1);
  // Checked before anything is allocated: a state_dict's tensor never holds more values than
  // its storage (a file claiming a 10^9-element view of a small storage is refused, not allocated).
  if (ref.shape.some((d) => d < 0) || ref.stride.some((d) => d < 0) || ref.stride.length !== ref.shape.length || count > elements) {
    throw new InterchangeError(`a tensor of shape ${ref.shape.join('x')} claims more values than its storage holds (${elements})`, 'Download or copy the file again; it is damaged');
  }
  const values = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = elementReader(dtype, view);
  // Walk the shape with the strides: a state_dict's tensors are contiguous, but a view need not be.
  const index = new Array<number>(ref.shape.length).fill(0);
  for (let n = 0; n < count; n++) {
    let at = ref.storage.viewOffset + ref.offset;
    for (let d = 0; d < index.length; d++) at += (index[d] as number) * (ref.stride[d] as number);
    if (at < 0 || at >= elements) throw damaged(new Error('out of range'));
    values[n] = read(at * width);
    for (let d = index.length - 1; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      if ((index[d] as number) < (ref.shape[d] as number)) break;
      index[d] = 0;
    }
  }
  return { dtype, shape: ref.shape, values };
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function elementReader(dtype: StorageDType, view: DataView): (byte: number) => number {
  switch (dtype) {
    case 'float32':
      return (b) => view.getFloat32(b, true);
    case 'float64':
      return (b) => view.getFloat64(b, true);
    case 'float16':
      return (b) => halfToFloat(view.getUint16(b, true));
    case 'bfloat16': {
      const scratch = new DataView(new ArrayBuffer(4));
      return (b) => {
        scratch.setUint32(0, view.getUint16(b, true) << 16, true);
        return scratch.getFloat32(0, true);
      };
    }
    case 'int64':
      return (b) => Number(view.getBigInt64(b, true));
    case 'int32':
      return (b) => view.getInt32(b, true);
    case 'int16':
      return (b) => view.getInt16(b, true);
    case 'int8':
      return (b) => view.getInt8(b);
    case 'uint8':
    case 'bool':
      return (b) => view.getUint8(b);
  }
}

// ---------------------------------------------------------------- the state_dict

const isTensor = (value: unknown): value is TorchTensor => typeof value === 'object' && value !== null && (value as TorchTensor).values instanceof Float32Array;

/** Keys under which training scripts keep the state_dict, the reference's first. */
const STATE_DICT_KEYS = ['state_dict', 'model', 'model_state_dict', 'net', 'network', 'weights'];

function findStateDict(root: unknown): Omit<TorchCheckpoint, 'format' | 'sha256' | 'bytes'> {
  if (!(root instanceof Map)) throw new InterchangeError(`the checkpoint holds ${describe(root)}, not a state_dict`, 'Save the weights with torch.save(model.state_dict(), path), or a dict holding them under "state_dict"');
  const tensorsOf = (map: Map<unknown, unknown>) => [...map].filter(([, v]) => isTensor(v));
  let stateDict: Map<unknown, unknown> = root;
  let stateDictKey = '';
  const info = new Map<string, string>();
  const key = STATE_DICT_KEYS.find((k) => root.get(k) instanceof Map && tensorsOf(root.get(k) as Map<unknown, unknown>).length > 0);
  if (key !== undefined) {
    stateDict = root.get(key) as Map<unknown, unknown>;
    stateDictKey = key;
    for (const [k, v] of root) {
      if (k === key) continue;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') info.set(String(k), String(v));
      else if (isTensor(v) && v.values.length === 1) info.set(String(k), String(v.values[0]));
    }
  } else if (tensorsOf(root).length === 0) {
    const keys = [...root.keys()].map(String).slice(0, 12).join(', ');
    throw new InterchangeError(`the checkpoint is a dict with no state_dict in it (its keys: ${keys})`, `Save the weights with torch.save(model.state_dict(), path), or a dict holding them under one of ${STATE_DICT_KEYS.join(', ')}`);
  }
  const entries = tensorsOf(stateDict).map(([k, v]) => [String(k), v as TorchTensor] as const);
  const strippedModulePrefix = entries.length > 0 && entries.every(([k]) => k.startsWith('module.'));
  const tensors = new Map(entries.map(([k, v]) => [strippedModulePrefix ? k.slice('module.'.length) : k, v]));
  return { tensors, stateDictKey, strippedModulePrefix, info };
}

function describe(value: unknown): string {
  if (isTensor(value)) return `a single tensor of shape ${value.shape.join('x')}`;
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}
