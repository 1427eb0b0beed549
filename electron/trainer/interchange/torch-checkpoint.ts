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
    // Anything else a crafted file can provoke (a forged tensor's odd shape, a call on the wrong
    // value) is still the file's fault: said as such, not as an internal error.
    if (error instanceof TypeError || error instanceof RangeError) throw damaged(error).about(path);
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
  let parsed: Parsed;
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0x04034b50) {
    format = 'zip';
    parsed = await readZipFormat(bytes);
  } else if (bytes.length >= 2 && bytes[0] === 0x80) {
    format = 'legacy';
    parsed = readLegacyFormat(bytes);
  } else if (bytes.length >= 262 && bytes.subarray(257, 262).toString('latin1') === 'ustar') {
    throw new InterchangeError('this is the tar format of PyTorch before 0.4, which the lab does not read', 'Load it in an old PyTorch and save it again with torch.save (any version from 1.6 writes the zip format)');
  } else if (bytes.length === 0) {
    throw new InterchangeError('the file is empty', 'Download or copy the checkpoint again');
  } else {
    throw new InterchangeError("this is not a PyTorch checkpoint (neither torch.save's zip format nor its older pickle format)", 'Pass a file written by torch.save (.pth, .pt, .pth.tar)');
  }
  try {
    return { format, sha256, bytes: size, ...(await stateDictOf(parsed)) };
  } finally {
    parsed.close?.();
  }
}

// ---------------------------------------------------------------- zip

/** The archive's entries, read lazily: only the pickle and the storages it uses are ever opened. */
async function openZip(bytes: Buffer): Promise<{ entries: Map<string, yauzl.Entry>; read: (entry: yauzl.Entry) => Promise<Buffer>; close: () => void }> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  const entries = new Map<string, yauzl.Entry>();
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      // torch.save stores its records; a compressed one is not torch's (and could be a zip bomb).
      if (entry.compressionMethod !== 0) return reject(new Error(`${entry.fileName} is compressed, which torch.save never does`));
      if (entries.has(entry.fileName)) return reject(new Error(`${entry.fileName} is in the archive twice`));
      entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.readEntry();
  });
  const read = (entry: yauzl.Entry) =>
    new Promise<Buffer>((resolve, reject) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', reject);
        stream.on('end', () => {
          const data = Buffer.concat(chunks);
          // yauzl does not check CRCs; torch's reader does, and a flipped bit in a weight would otherwise pass.
          if (crc32(data) >>> 0 !== entry.crc32 >>> 0) return reject(new Error(`${entry.fileName} does not match its checksum`));
          resolve(data);
        });
      });
    });
  return { entries, read, close: () => zip.close() };
}

const zipDamaged = (error: unknown) => new InterchangeError(`the checkpoint's zip archive is damaged (${(error as Error).message})`, 'Download or copy the file again; torch.load would fail on it too');

async function readZipFormat(bytes: Buffer): Promise<Parsed> {
  const zip = await openZip(bytes).catch((error: unknown) => {
    throw zipDamaged(error);
  });
  try {
    const pickleName = [...zip.entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
    if (pickleName === undefined) throw new InterchangeError('the zip archive holds no data.pkl, so it is not a PyTorch checkpoint', 'Pass a file written by torch.save');
    const prefix = pickleName.slice(0, -'data.pkl'.length);
    const record = async (name: string) => {
      const entry = zip.entries.get(`${prefix}${name}`);
      return entry === undefined ? undefined : zip.read(entry).catch((error: unknown) => {
        throw zipDamaged(error);
      });
    };
    const byteOrder = (await record('byteorder'))?.toString('latin1').trim();
    if (byteOrder !== undefined && byteOrder !== 'little') throw new InterchangeError(`the checkpoint was written on a ${byteOrder}-endian machine`, 'Load it in PyTorch and save it again on a little-endian machine');
    const root = readPickle((await record('data.pkl')) as Buffer).value;
    const labConfig = (await record('extra/lab_config.json'))?.toString('utf8');
    return { root, storage: (key) => record(`data/${key}`), close: zip.close, ...(labConfig === undefined ? {} : { labConfig }) };
  } catch (error) {
    zip.close();
    throw error;
  }
}

// ---------------------------------------------------------------- legacy

function readLegacyFormat(bytes: Buffer): Parsed {
  const magic = readPickledLong(bytes, 0);
  if (magic?.value !== LEGACY_MAGIC) {
    throw new InterchangeError("this pickle is not a PyTorch checkpoint (it lacks torch.save's magic number)", 'Pass a file written by torch.save; a plain pickle of Python objects is not read');
  }
  const protocol = readPickle(bytes, magic.end);
  if (Number(protocol.value) !== LEGACY_PROTOCOL) throw new InterchangeError(`the checkpoint's format version is ${String(protocol.value)}, not ${LEGACY_PROTOCOL}`, 'Load it in PyTorch and save it again with torch.save');
  const systemInfo = readPickle(bytes, protocol.end);
  if (systemInfo.value instanceof Map && systemInfo.value.get('little_endian') === false) {
    throw new InterchangeError('the checkpoint was written on a big-endian machine', 'Load it in PyTorch and save it again on a little-endian machine');
  }
  const main = readPickle(bytes, systemInfo.end);
  const keys = readPickle(bytes, main.end);
  if (!Array.isArray(keys.value)) throw new InterchangeError('the checkpoint lists no storages after its object');
  const dtypes = new Map<string, StorageDType>();
  walk(main.value, (tensor) => void dtypes.set(tensor.storage.key, tensor.storage.dtype));
  const storages = new Map<string, Buffer>();
  let at = keys.end;
  for (const key of keys.value.map(String)) {
    const dtype = dtypes.get(key);
    if (dtype === undefined) throw new InterchangeError(`the checkpoint stores a storage ${key} that no tensor uses`);
    if (at + 8 > bytes.length) throw damaged(new Error('out of range'));
    const count = Number(bytes.readBigInt64LE(at));
    const start = at + 8;
    const end = start + count * ELEMENT_BYTES[dtype];
    if (count < 0 || end > bytes.length) throw damaged(new Error('out of range'));
    storages.set(key, bytes.subarray(start, end));
    at = end;
  }
  return { root: main.value, storage: async (key) => storages.get(key) };
}

// ---------------------------------------------------------------- tensors

/** A parsed file: its object, with tensors still references to storages, and how to read a storage. */
interface Parsed {
  readonly root: unknown;
  readonly storage: (key: string) => Promise<Buffer | undefined>;
  /** The lab's settings, when `lab export` stored them beside the pickle. */
  readonly labConfig?: string;
  /** Frees the archive once the tensors are read. */
  readonly close?: () => void;
}

function isTensorRef(value: unknown): value is TensorRef {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tensor';
}

/** Every tensor reference in `value`, each container visited once (a pickle may hold cycles). */
function walk(value: unknown, visit: (tensor: TensorRef) => void, seen = new Set<unknown>()): void {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (isTensorRef(item)) visit(item);
    else if ((item instanceof Map || Array.isArray(item)) && !seen.has(item)) {
      seen.add(item);
      for (const v of item instanceof Map ? item.values() : item) stack.push(v);
    }
  }
}

/**
 * Reads the tensors that are wanted (the state_dict's, a few scalars), each reference once. In
 * all they may hold no more than twice the values of the storages they view: a pickle can name
 * one storage a thousand times in a few bytes, and that must not become a thousand copies.
 */
class TensorReader {
  private readonly cache = new Map<TensorRef, TorchTensor>();
  private readonly storageElements = new Map<string, number>();
  private values = 0;

  constructor(private readonly storage: Parsed['storage']) {}

  async read(ref: TensorRef): Promise<TorchTensor> {
    const cached = this.cache.get(ref);
    if (cached !== undefined) return cached;
    const bytes = await this.storage(ref.storage.key);
    if (bytes === undefined) throw new InterchangeError(`the checkpoint lacks the data of storage ${ref.storage.key}`, 'Download or copy the file again; it is incomplete');
    const elements = Math.floor(bytes.length / ELEMENT_BYTES[ref.storage.dtype]);
    this.storageElements.set(ref.storage.key, elements);
    const count = ref.shape.reduce((a, b) => a * b, 1);
    if (count > elements) throw new InterchangeError(`a tensor of shape ${ref.shape.join('x')} claims more values than its storage holds (${elements})`, 'Download or copy the file again; it is damaged');
    // Twice the storages: views of one storage (a weight and its transpose, tied weights) are
    // legitimate, a thousand of them are not.
    const budget = 2 * [...this.storageElements.values()].reduce((a, b) => a + b, 0);
    if (this.values + count > budget) throw new InterchangeError(`the checkpoint's tensors claim more values (${this.values + count}) than its storages hold (${budget})`, 'Download or copy the file again; it is damaged, or not a plain state_dict');
    const tensor = tensorValues(ref, bytes, elements);
    this.values += count;
    this.cache.set(ref, tensor);
    return tensor;
  }
}

function tensorValues(ref: TensorRef, bytes: Buffer, elements: number): TorchTensor {
  const { dtype } = ref.storage;
  const width = ELEMENT_BYTES[dtype];
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

/** Keys under which training scripts keep the state_dict, the reference's first. */
const STATE_DICT_KEYS = ['state_dict', 'model', 'model_state_dict', 'net', 'network', 'weights'];

const plain = (v: unknown): v is string | number | bigint | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';

/** Finds the state_dict among the references, then reads its tensors (and no others, but one-value ones beside it). */
async function stateDictOf(parsed: Parsed): Promise<Omit<TorchCheckpoint, 'format' | 'sha256' | 'bytes'>> {
  const { root } = parsed;
  if (!(root instanceof Map)) throw new InterchangeError(`the checkpoint holds ${describe(root)}, not a state_dict`, 'Save the weights with torch.save(model.state_dict(), path), or a dict holding them under "state_dict"');
  const refsOf = (map: Map<unknown, unknown>) => [...map].filter((entry): entry is [unknown, TensorRef] => isTensorRef(entry[1]));
  let stateDict: Map<unknown, unknown> = root;
  let stateDictKey = '';
  const reader = new TensorReader(parsed.storage);
  const info = new Map<string, string>();
  const key = STATE_DICT_KEYS.find((k) => root.get(k) instanceof Map && refsOf(root.get(k) as Map<unknown, unknown>).length > 0);
  if (key !== undefined) {
    stateDict = root.get(key) as Map<unknown, unknown>;
    stateDictKey = key;
    for (const [k, v] of root) {
      if (k === key) continue;
      if (plain(v)) info.set(String(k), String(v));
      else if (isTensorRef(v) && v.shape.reduce((a, b) => a * b, 1) === 1) info.set(String(k), String((await reader.read(v)).values[0]));
    }
  } else if (refsOf(root).length === 0) {
    const keys = [...root.keys()].map(String).slice(0, 12).join(', ');
    throw new InterchangeError(`the checkpoint is a dict with no state_dict in it (its keys: ${keys})`, `Save the weights with torch.save(model.state_dict(), path), or a dict holding them under one of ${STATE_DICT_KEYS.join(', ')}`);
  }
  if (parsed.labConfig !== undefined && !info.has('lab_config')) info.set('lab_config', parsed.labConfig);
  const refs = refsOf(stateDict).map(([k, ref]) => [String(k), ref] as const);
  const strippedModulePrefix = refs.length > 0 && refs.every(([k]) => k.startsWith('module.'));
  const tensors = new Map<string, TorchTensor>();
  for (const [name, ref] of refs) tensors.set(strippedModulePrefix ? name.slice('module.'.length) : name, await reader.read(ref));
  return { tensors, stateDictKey, strippedModulePrefix, info };
}

function describe(value: unknown): string {
  if (isTensorRef(value)) return `a single tensor of shape ${value.shape.join('x')}`;
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}
