// A pass over a pickle's opcodes before anything parses it: every length it declares must be
// non-negative and inside the file, every opcode one Python's pickle defines, and integers short.
// pickleparser trusts these (a negative BINBYTES length made it loop forever growing memory; a
// megabyte-long LONG4 made it spin for minutes), so a crafted file is refused here, in time
// linear in its size, before the parser sees it. Returns where the pickle's STOP ends.
import { InterchangeError } from './interchange-error';

/** How many bytes of argument each opcode takes; 'line' = up to a newline, 'lines2' = two lines. */
type Arg = number | 'line' | 'lines2' | 'u8+' | 'u32+' | 'i32+' | 'u64+';

const OPCODES = new Map<number, Arg>([
  [0x28, 0], [0x2e, 0], [0x30, 0], [0x31, 0], [0x32, 0], [0x46, 'line'], [0x49, 'line'], [0x4a, 4], [0x4b, 1], [0x4c, 'line'], [0x4d, 2],
  [0x4e, 0], [0x50, 'line'], [0x51, 0], [0x52, 0], [0x53, 'line'], [0x54, 'i32+'], [0x55, 'u8+'], [0x56, 'line'], [0x58, 'u32+'],
  [0x61, 0], [0x62, 0], [0x63, 'lines2'], [0x64, 0], [0x7d, 0], [0x65, 0], [0x67, 'line'], [0x68, 1], [0x69, 'lines2'], [0x6a, 4],
  [0x6c, 0], [0x5d, 0], [0x6f, 0], [0x70, 'line'], [0x71, 1], [0x72, 4], [0x73, 0], [0x74, 0], [0x29, 0], [0x75, 0], [0x47, 8],
  [0x80, 1], [0x81, 0], [0x82, 1], [0x83, 2], [0x84, 4], [0x85, 0], [0x86, 0], [0x87, 0], [0x88, 0], [0x89, 0], [0x8a, 'u8+'],
  [0x8b, 'i32+'], [0x42, 'u32+'], [0x43, 'u8+'], [0x8c, 'u8+'], [0x8d, 'u64+'], [0x8e, 'u64+'], [0x8f, 0], [0x90, 0], [0x91, 0],
  [0x92, 0], [0x93, 0], [0x94, 0], [0x95, 8], [0x96, 'u64+'], [0x97, 0], [0x98, 0],
]);

const LONG1 = 0x8a;
const LONG4 = 0x8b;
const LONG = 0x4c;
/** Integers a checkpoint holds are shapes, strides, counts and torch's 10-byte magic number. */
const MAX_INTEGER_BYTES = 16;
/** A text line (a name, a number in protocol 0) longer than this is not in a checkpoint. */
const MAX_LINE = 4096;

const cutShort = () => new InterchangeError('the checkpoint ends early: the file is cut short (an interrupted download or copy?)', 'Download or copy the file again; torch.load would fail on it too');
const malformed = (what: string, at: number) => new InterchangeError(`the checkpoint's pickle is malformed at byte ${at} (${what}), so the file was refused before it was read`, 'Get the checkpoint from its original source; torch.load would fail on it or worse');

/** The end (exclusive) of the pickle that starts at `start`, after checking every opcode and length. */
export function scanPickle(bytes: Uint8Array, start: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw cutShort();
  };
  const lineEnd = (at: number) => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw cutShort();
    if (end - at > MAX_LINE) throw malformed('a text line thousands of bytes long', at);
    return end + 1;
  };
  let at = start;
  for (;;) {
    need(at, 1);
    const opcode = bytes[at] as number;
    const arg = OPCODES.get(opcode);
    if (arg === undefined) throw malformed(`unknown opcode 0x${opcode.toString(16)}`, at);
    const opAt = at;
    at += 1;
    if (opcode === 0x2e) return at; // STOP
    if (typeof arg === 'number') {
      need(at, arg);
      at += arg;
    } else if (arg === 'line') {
      const end = lineEnd(at);
      if (opcode === LONG && end - at > MAX_INTEGER_BYTES * 3) throw malformed('an integer too long for a checkpoint', opAt);
      at = end;
    } else if (arg === 'lines2') {
      at = lineEnd(lineEnd(at));
    } else {
      let length: number;
      if (arg === 'u8+') {
        need(at, 1);
        length = bytes[at] as number;
        at += 1;
      } else if (arg === 'u32+' || arg === 'i32+') {
        need(at, 4);
        length = arg === 'u32+' ? view.getUint32(at, true) : view.getInt32(at, true);
        at += 4;
      } else {
        need(at, 8);
        length = Number(view.getBigUint64(at, true));
        at += 8;
      }
      if (length < 0 || !Number.isSafeInteger(length)) throw malformed(`a negative or impossible length (${length})`, opAt);
      if ((opcode === LONG1 || opcode === LONG4) && length > MAX_INTEGER_BYTES) throw malformed(`an integer of ${length} bytes`, opAt);
      need(at, length);
      at += length;
    }
  }
}
