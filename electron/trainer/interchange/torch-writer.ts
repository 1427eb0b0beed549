// Writing a state_dict as torch.save does (its zip format, torch >= 1.6), so that
// `torch.load(path, weights_only=True)` reads it: an OrderedDict of float32 tensors, each
// rebuilt by torch._utils._rebuild_tensor_v2 from its own storage.
//
// The archive: <name>/data.pkl (the pickle, protocol 2 as torch writes), <name>/byteorder,
// <name>/data/<i> (each tensor's raw little-endian float32 values), <name>/version ("3").
// Entries are stored, not compressed, as torch's own writer stores them.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';

export interface StateDictEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Pickle opcodes used here (Python's pickletools names). */
const OP = {
  PROTO: 0x80,
  GLOBAL: 0x63, // 'c' module\nname\n
  EMPTY_TUPLE: 0x29,
  MARK: 0x28,
  TUPLE: 0x74,
  REDUCE: 0x52,
  BINPERSID: 0x51,
  BININT: 0x4a,
  BINUNICODE: 0x58,
  NEWFALSE: 0x89,
  SETITEMS: 0x75,
  STOP: 0x2e,
} as const;

class PickleBytes {
  private readonly chunks: Buffer[] = [];
  op(code: number): this {
    this.chunks.push(Buffer.of(code));
    return this;
  }
  global(module: string, name: string): this {
    this.chunks.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    return this;
  }
  string(text: string): this {
    const bytes = Buffer.from(text, 'utf8');
    const header = Buffer.alloc(5);
    header[0] = OP.BINUNICODE;
    header.writeUInt32LE(bytes.length, 1);
    this.chunks.push(header, bytes);
    return this;
  }
  int(value: number): this {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) throw new Error(`pickle: ${value} does not fit a 32-bit int`);
    const bytes = Buffer.alloc(5);
    bytes[0] = OP.BININT;
    bytes.writeInt32LE(value, 1);
    this.chunks.push(bytes);
    return this;
  }
  tuple(values: readonly number[]): this {
    if (values.length === 0) return this.op(OP.EMPTY_TUPLE);
    this.op(OP.MARK);
    for (const v of values) this.int(v);
    return this.op(OP.TUPLE);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = (strides[d + 1] as number) * (shape[d + 1] as number);
  return strides;
}

/** data.pkl for `entries`: storage i holds entry i. */
export function stateDictPickle(entries: readonly StateDictEntry[]): Buffer {
  const p = new PickleBytes();
  p.op(OP.PROTO).op(2);
  p.global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE).op(OP.REDUCE);
  p.op(OP.MARK);
  entries.forEach((entry, i) => {
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (count !== entry.values.length) throw new Error(`${entry.name}: ${entry.values.length} values for shape ${entry.shape.join('x')}`);
    p.string(entry.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op(OP.MARK);
    // The persistent id: ('storage', torch.FloatStorage, key, location, numel).
    p.op(OP.MARK).string('storage').global('torch', 'FloatStorage').string(String(i)).string('cpu').int(count).op(OP.TUPLE).op(OP.BINPERSID);
    p.int(0).tuple(entry.shape).tuple(contiguousStrides(entry.shape)).op(OP.NEWFALSE);
    p.global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE).op(OP.REDUCE); // backward hooks
    p.op(OP.TUPLE).op(OP.REDUCE);
  });
  p.op(OP.SETITEMS).op(OP.STOP);
  return p.bytes();
}

function littleEndianBytes(values: Float32Array): Buffer {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i] as number, i * 4);
  return out;
}

/** Writes `entries` as a torch zip checkpoint at `path` (through a temporary file, renamed when whole). */
export async function writeStateDict(path: string, entries: readonly StateDictEntry[], options: { archiveName?: string; extra?: Readonly<Record<string, string>> } = {}): Promise<void> {
  const archiveName = options.archiveName ?? 'archive';
  const zip = new yazl.ZipFile();
  const stored = { compress: false, mtime: new Date(Date.UTC(1980, 0, 1)) };
  zip.addBuffer(stateDictPickle(entries), `${archiveName}/data.pkl`, stored);
  zip.addBuffer(Buffer.from('little'), `${archiveName}/byteorder`, stored);
  entries.forEach((entry, i) => zip.addBuffer(littleEndianBytes(entry.values), `${archiveName}/data/${i}`, stored));
  // Records torch.load does not ask for are left alone by it (torch.save's own extra_files live here too).
  for (const [name, text] of Object.entries(options.extra ?? {})) zip.addBuffer(Buffer.from(text, 'utf8'), `${archiveName}/extra/${name}`, stored);
  zip.addBuffer(Buffer.from('3\n'), `${archiveName}/version`, stored);
  zip.end();
  const temporary = `${path}.partial`;
  try {
    await pipeline(zip.outputStream, createWriteStream(temporary));
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
