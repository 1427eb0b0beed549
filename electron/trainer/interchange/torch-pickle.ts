// Reading the pickles inside a PyTorch checkpoint without running anything.
//
// A pickle is a small program: GLOBAL names a Python callable and REDUCE calls it. Python's
// own unpickler would import and call whatever the file names (a `__reduce__` returning
// os.system is the classic attack). Here pickleparser only parses, and every name the file
// uses is looked up in the table below: what torch.save writes for tensors and state_dicts,
// and a few inert data decoders. Each maps to a plain JavaScript function that builds data;
// any other name refuses the whole file, naming what it asked for.
import { Parser } from 'pickleparser';
import { InterchangeError } from './interchange-error';
import { scanPickle } from './pickle-scan';

/** A storage's element type, from its class name (`torch.FloatStorage`). */
export type StorageDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** The class a storage is pickled as, resolved to its element type. */
export interface StorageType {
  readonly kind: 'storage-type';
  readonly dtype: StorageDType;
}

/** A storage reference: a persistent id (`('storage', type, key, location, numel)`), resolved by the container. */
export interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: StorageDType;
  /** Elements in the storage (the legacy format's pid may lack it: -1). */
  readonly numel: number;
  /** Where a legacy view starts in its root storage, in elements (0 for a whole storage). */
  readonly viewOffset: number;
}

/** A tensor as torch pickles it: a view of a storage. */
export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

export const ELEMENT_BYTES: Readonly<Record<StorageDType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const STORAGE_CLASSES: Readonly<Record<string, StorageDType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** `torch.float32` and friends, as newer torch versions pickle a storage's dtype. */
const DTYPE_NAMES: Readonly<Record<string, StorageDType>> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

const toNumber = (value: unknown, what: string): number => {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(value);
  throw new InterchangeError(`a tensor's ${what} is not a whole number (${String(value)})`);
};

const numbers = (value: unknown, what: string): number[] => {
  if (!Array.isArray(value)) throw new InterchangeError(`a tensor's ${what} is not a tuple`);
  return value.map((v) => toNumber(v, what));
};

function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef {
  if (typeof storage !== 'object' || storage === null || (storage as { kind?: unknown }).kind !== 'storage') {
    throw new InterchangeError('a tensor refers to something that is not a storage');
  }
  return { kind: 'tensor', storage: storage as StorageRef, offset: toNumber(offset, 'offset'), shape: numbers(size, 'size'), stride: numbers(stride, 'stride') };
}

/** An OrderedDict (and every dict, in Map mode): a Map keeps the keys' order as the file has it. */
function orderedDict(items?: unknown): Map<unknown, unknown> {
  const map = new Map<unknown, unknown>();
  if (Array.isArray(items)) for (const pair of items) if (Array.isArray(pair) && pair.length === 2) map.set(pair[0], pair[1]);
  return map;
}

/** numpy scalars (`best_prec1` in many checkpoints) decoded from their dtype and bytes; never code. */
interface NumpyDType {
  readonly kind: 'numpy-dtype';
  readonly name: string;
}

function numpyScalar(dtype: unknown, bytes: unknown): number | bigint | string {
  const name = (dtype as NumpyDType | undefined)?.kind === 'numpy-dtype' ? (dtype as NumpyDType).name : '';
  const data = bytes instanceof Uint8Array ? bytes : typeof bytes === 'string' ? Uint8Array.from(bytes, (c) => c.charCodeAt(0)) : undefined;
  if (data === undefined) return 'numpy scalar';
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (name === 'f8' && data.length === 8) return view.getFloat64(0, true);
  if (name === 'f4' && data.length === 4) return view.getFloat32(0, true);
  if (name === 'i8' && data.length === 8) return view.getBigInt64(0, true);
  if (name === 'i4' && data.length === 4) return view.getInt32(0, true);
  return `numpy ${name} scalar`;
}

/** Every Python name a checkpoint may use, and the data it stands for here. */
function allowedNames(): Map<string, (...args: unknown[]) => unknown> {
  // Fresh closures for every file: BUILD may set properties on whatever the stack holds, and a
  // function shared between files would carry them from one import to the next.
  const names = new Map<string, (...args: unknown[]) => unknown>([
    ['collections.OrderedDict', (items) => orderedDict(items)],
    ['torch._utils._rebuild_tensor', (storage, offset, size, stride) => rebuildTensor(storage, offset, size, stride)],
    ['torch._utils._rebuild_tensor_v2', (storage, offset, size, stride) => rebuildTensor(storage, offset, size, stride)],
    // A Parameter pickles its tensor first; the lab needs only the values.
    ['torch._utils._rebuild_parameter', (data) => data],
    ['torch._utils._rebuild_parameter_with_state', (data) => data],
    // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
    ['_codecs.encode', (text, encoding) => {
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) throw new InterchangeError('the checkpoint encodes bytes in an unexpected way');
      return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    }],
    ['numpy.core.multiarray.scalar', (dtype, bytes) => numpyScalar(dtype, bytes)],
    ['numpy._core.multiarray.scalar', (dtype, bytes) => numpyScalar(dtype, bytes)],
    ['numpy.dtype', (name) => ({ kind: 'numpy-dtype', name: String(name) }) satisfies NumpyDType],
    ['torch.Size', (dims) => dims],
  ]);
  // GLOBAL pushes the class itself (a persistent id carries it uncalled): a function that says its type.
  const storageType = (dtype: StorageDType) => Object.assign(() => ({ kind: 'storage-type', dtype }) satisfies StorageType, { storageDType: dtype });
  // A checkpoint saved from a GPU names CUDA storages (the published Light CNN files do); their bytes are the same.
  for (const [cls, dtype] of Object.entries(STORAGE_CLASSES)) {
    names.set(`torch.${cls}`, storageType(dtype));
    names.set(`torch.cuda.${cls}`, storageType(dtype));
  }
  for (const [name, dtype] of Object.entries(DTYPE_NAMES)) names.set(`torch.${name}`, storageType(dtype));
  return names;
}

/** A checkpoint that asks for a Python name the lab does not read. */
function refuse(module: string, name: string): never {
  const full = `${module}.${name}`;
  throw new InterchangeError(
    `the checkpoint asks for ${full} when it is loaded: torch.load would import and call it, and the lab reads weights only (tensors, state_dicts and plain values), so the file was refused and nothing in it was run`,
    "Do not open it with plain torch.load unless you trust its source: torch.load(path, weights_only=True) refuses it the same way. If you trust it, save just the weights in PyTorch with torch.save(model.state_dict(), 'weights.pt') and import that",
  );
}

/** The storage a persistent id names: ('storage', type, key, location, numel[, view]). */
function storageFromPid(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new InterchangeError(`the checkpoint refers to an external object ${JSON.stringify(String(pid))} that is not a tensor storage`);
  const dtype = (pid[1] as { storageDType?: StorageDType } | undefined)?.storageDType;
  if (dtype === undefined) throw new InterchangeError('a tensor storage in the checkpoint has no known element type');
  const key = String(pid[2]);
  const numel = pid[4] === undefined || pid[4] === null ? -1 : toNumber(pid[4], 'storage size');
  // The legacy format may store a view of a larger storage: (view key, offset, size).
  const view = pid[5];
  const viewOffset = Array.isArray(view) ? toNumber(view[1], 'storage view offset') : 0;
  return { kind: 'storage', key, dtype, numel, viewOffset };
}

function parser(): Parser {
  const names = allowedNames();
  return new Parser({
    nameResolver: {
      resolve: (module: string, name: string) => {
        const found = names.get(`${module}.${name}`);
        if (found === undefined) refuse(module, name);
        return found;
      },
    },
    persistentResolver: { resolve: (pid: unknown) => storageFromPid(pid) },
    extensionResolver: {
      resolve: (code: number) => {
        throw new InterchangeError(`the checkpoint uses pickle extension code ${code}, which the lab does not read`);
      },
    },
    unpicklingTypeOfDictionary: 'Map',
    unpicklingTypeOfSet: 'array',
  });
}

/** The pickle starting at `start` of `bytes` (checked by scanPickle first), and where it ends. */
export function readPickle(bytes: Uint8Array, start = 0): { value: unknown; end: number } {
  const end = scanPickle(bytes, start);
  try {
    return { value: parser().parse(bytes.subarray(start, end)), end };
  } catch (error) {
    if (error instanceof InterchangeError) throw error;
    throw damaged(error);
  }
}

/**
 * The legacy format's first pickle, torch's magic number: a long too large for the parser's
 * numbers, so read here (PROTO n, LONG1 size bytes, STOP). Undefined when the bytes are not that.
 */
export function readPickledLong(bytes: Uint8Array, start: number): { value: bigint; end: number } | undefined {
  let at = start;
  if (bytes[at] === 0x80) at += 2; // PROTO
  if (bytes[at] !== 0x8a) return undefined; // LONG1
  const size = bytes[at + 1] ?? 0;
  if (bytes[at + 2 + size] !== 0x2e) return undefined; // STOP
  let value = 0n;
  for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + 2 + i] ?? 0);
  return { value, end: at + 3 + size };
}

/** A whole buffer holding one pickle. */
export function parsePickle(bytes: Uint8Array): unknown {
  return readPickle(bytes).value;
}

/** A parse failure: the file is cut short or not a pickle. */
export function damaged(error: unknown): InterchangeError {
  const message = (error as Error).message ?? String(error);
  const short = /out of range|outside the bounds|Offset is outside|beyond|end of/i.test(message);
  return new InterchangeError(
    short ? 'the checkpoint ends early: the file is cut short (an interrupted download or copy?)' : `the checkpoint's pickle cannot be read (${message})`,
    short ? 'Download or copy the file again; torch.load would fail on it too' : 'Check that this is a PyTorch checkpoint written by torch.save',
  );
}
