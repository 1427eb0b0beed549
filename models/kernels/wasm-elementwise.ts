// Element-wise and layout kernels for the wasm backend, for the shapes a training step
// feeds them. The package runs these through generic C++ loops that compute a broadcast
// index per element, which makes a max of two activation-sized tensors, the split of a conv
// output into MFM's two halves and the bias gradient (a sum over batch, rows and columns)
// each cost far more than a pass over the memory (figures: bench/NOTES.md, "Figures behind
// design choices"). Here the common cases are plain loops over the heap, channel
// axis innermost; any other case (broadcasting, another axis, another dtype) goes to the
// package's kernel.
//
// Math (a, b of one shape, i over every element; C = the last axis' length, R = the rest):
//   Maximum     out[i] = max(a[i], b[i]), NaN if either is NaN (as Math.max, tfjs' cpu kernel)
//   Minimum     out[i] = min(a[i], b[i]), the same NaN rule
//   GreaterEqual, Greater, Less, LessEqual
//               out[i] = 1 if the comparison holds else 0 (bool; false whenever a NaN is involved)
//   Cast        bool -> float32: out[i] = x[i] (0 or 1)
//   SplitV      along the last axis into pieces of c_k channels (sum c_k = C):
//               piece_k[r, j] = x[r, o_k + j], o_k = c_0 + ... + c_(k-1)
//   Concat      along the last axis, the inverse: out[r, o_k + j] = x_k[r, j]
//   Sum         over the leading axes 0..m-1 (the bias gradient dy.sum([0, 1, 2])):
//               out[c] = sum_r x[r, c], accumulated in float64 in row order, then rounded
//               (tfjs' cpu kernel accumulates in float64 too)
//   Identity    out = x, sharing x's memory (see registerIdentity)
import * as tf from '@tensorflow/tfjs';
import { alloc, registerWasmKernel, wasmBackend, type KernelArgs, type WasmBackend } from './wasm-heap';

type Heap = Float32Array | Int32Array | Uint8Array;

function sameShape(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

function heap(backend: WasmBackend, info: tf.TensorInfo): Heap {
  return backend.typedArrayFromHeap(info);
}

function fallback(original: tf.KernelConfig | undefined, name: string): tf.KernelFunc {
  if (original === undefined) throw new Error(`internal: the wasm backend has no ${name} kernel`);
  return original.kernelFunc;
}

// ------------------------------------------------------------------ binary, same shape
//
// Written without data-dependent branches: on activations, which operand is larger is a coin
// toss, and a mispredicted branch per element made a plain `x >= y ? x : y` loop several times
// slower than memory allows (figures: bench/NOTES.md, "v0.3.0: training on wasm", item 5).
// A comparison turned into 0/1 with `| 0` compiles to a flag move, and the max is then
// picked with integer masks on the float bits: r = b ^ ((a ^ b) & -c).

function registerBinary(name: string, outDtype: 'float32' | 'bool', loop: (a: Float32Array, b: Float32Array, out: Float32Array | Uint8Array) => void): void {
  registerWasmKernel(name, (original) => {
    const other = fallback(original, name);
    return (args: KernelArgs) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || !sameShape(a, b)) return other(args);
      const backend = wasmBackend(args);
      const out = alloc(backend, a.shape, outDtype);
      loop(heap(backend, a) as Float32Array, heap(backend, b) as Float32Array, heap(backend, out) as Float32Array | Uint8Array);
      return out;
    };
  });
}

const bits = (f: Float32Array): Int32Array => new Int32Array(f.buffer, f.byteOffset, f.length);

/** true -> 1, false -> 0, without a branch (V8 inlines it to a flag move). */
const flag = (condition: boolean): number => (condition as unknown as number) | 0;

/**
 * out = the larger (`max`) or smaller of a and b; NaN when either is NaN. On the float bits:
 * k(v) = v ^ ((v >> 31) & 0x7fffffff) orders int32 keys as the floats they encode (negative
 * floats have their magnitude bits flipped), so the comparison is an integer one.
 */
function pick(a: Float32Array, b: Float32Array, out: Float32Array, max: boolean): void {
  const ai = bits(a);
  const bi = bits(b);
  const oi = bits(out);
  const n = out.length;
  const flip = max ? 0 : 1; // the minimum takes b where the maximum takes a (ties: a, both ways)
  for (let i = 0; i < n; i++) {
    const x = ai[i] as number;
    const y = bi[i] as number;
    const kx = x ^ ((x >> 31) & 0x7fffffff);
    const ky = y ^ ((y >> 31) & 0x7fffffff);
    const c = flag(kx >= ky) ^ flip ^ (flip & flag(kx === ky));
    let r = y ^ ((x ^ y) & -c);
    if (flag((x & 0x7fffffff) > 0x7f800000) | flag((y & 0x7fffffff) > 0x7f800000)) r = 0x7fc00000; // a NaN: NaN
    oi[i] = r;
  }
}

function registerBinaries(): void {
  registerBinary('Maximum', 'float32', (a, b, out) => pick(a, b, out as Float32Array, true));
  registerBinary('Minimum', 'float32', (a, b, out) => pick(a, b, out as Float32Array, false));
  registerBinary('GreaterEqual', 'bool', (a, b, out) => {
    for (let i = 0; i < out.length; i++) out[i] = flag((a[i] as number) >= (b[i] as number));
  });
  registerBinary('Greater', 'bool', (a, b, out) => {
    for (let i = 0; i < out.length; i++) out[i] = flag((a[i] as number) > (b[i] as number));
  });
  registerBinary('Less', 'bool', (a, b, out) => {
    for (let i = 0; i < out.length; i++) out[i] = flag((a[i] as number) < (b[i] as number));
  });
  registerBinary('LessEqual', 'bool', (a, b, out) => {
    for (let i = 0; i < out.length; i++) out[i] = flag((a[i] as number) <= (b[i] as number));
  });
}

// ------------------------------------------------------------------ cast

function registerCast(): void {
  registerWasmKernel('Cast', (original) => {
    const other = fallback(original, 'Cast');
    return (args: KernelArgs) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { dtype } = args.attrs as unknown as { dtype: string };
      if (x.dtype !== 'bool' || dtype !== 'float32') return other(args);
      const backend = wasmBackend(args);
      const out = alloc(backend, x.shape, 'float32');
      (heap(backend, out) as Float32Array).set(heap(backend, x) as Uint8Array);
      return out;
    };
  });
}

// ------------------------------------------------------------------ last-axis layout

function lastAxis(axis: number | number[], rank: number): boolean {
  const a = Array.isArray(axis) ? axis[0] : axis;
  return a !== undefined && (a === rank - 1 || a === -1);
}

/** Copies `width` floats from each of `rows` rows of `src` (row length srcStride, from srcOffset) to `dst` (row length dstStride, from dstOffset). */
function copyRows(src: Float32Array, srcStride: number, srcOffset: number, dst: Float32Array, dstStride: number, dstOffset: number, rows: number, width: number): void {
  if (width >= 32) {
    for (let r = 0; r < rows; r++) {
      const s = r * srcStride + srcOffset;
      dst.set(src.subarray(s, s + width), r * dstStride + dstOffset);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = r * srcStride + srcOffset;
    const d = r * dstStride + dstOffset;
    for (let j = 0; j < width; j++) dst[d + j] = src[s + j] as number;
  }
}

function registerSplitConcat(): void {
  registerWasmKernel('SplitV', (original) => {
    const other = fallback(original, 'SplitV');
    return (args: KernelArgs) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number[] | number; axis: number | number[] };
      if (x.dtype !== 'float32' || x.shape.length < 2 || !lastAxis(axis, x.shape.length)) return other(args);
      const C = x.shape[x.shape.length - 1] as number;
      const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, x.shape.length - 1);
      const rows = C === 0 ? 0 : tf.util.sizeFromShape(x.shape) / C;
      const backend = wasmBackend(args);
      const outs = sizes.map((c) => alloc(backend, [...x.shape.slice(0, -1), c], 'float32'));
      const src = heap(backend, x) as Float32Array;
      let offset = 0;
      outs.forEach((out, k) => {
        const c = sizes[k] as number;
        copyRows(src, C, offset, heap(backend, out) as Float32Array, c, 0, rows, c);
        offset += c;
      });
      return outs;
    };
  });

  registerWasmKernel('Concat', (original) => {
    const other = fallback(original, 'Concat');
    return (args: KernelArgs) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const { axis } = args.attrs as unknown as { axis: number | number[] };
      const first = inputs[0];
      if (first === undefined || inputs.length < 2) return other(args);
      const rank = first.shape.length;
      const lead = first.shape.slice(0, -1);
      const usable =
        rank >= 2 &&
        lastAxis(axis, rank) &&
        inputs.every((t) => t.dtype === 'float32' && t.shape.length === rank && t.shape.slice(0, -1).every((d, i) => d === lead[i]));
      if (!usable) return other(args);
      const widths = inputs.map((t) => t.shape[rank - 1] as number);
      const C = widths.reduce((a, b) => a + b, 0);
      const rows = tf.util.sizeFromShape(lead);
      const backend = wasmBackend(args);
      const out = alloc(backend, [...lead, C], 'float32');
      const dst = heap(backend, out) as Float32Array;
      let offset = 0;
      inputs.forEach((t, k) => {
        const c = widths[k] as number;
        copyRows(heap(backend, t) as Float32Array, c, 0, dst, C, offset, rows, c);
        offset += c;
      });
      return out;
    };
  });
}

// ------------------------------------------------------------------ sum over leading axes

function registerSum(): void {
  registerWasmKernel('Sum', (original) => {
    const other = fallback(original, 'Sum');
    return (args: KernelArgs) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const rank = x.shape.length;
      if (x.dtype !== 'float32' || rank < 2) return other(args);
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
      const m = axes.length;
      // Only "every axis before m, none after" with at least one axis kept.
      if (m === 0 || m >= rank || axes.some((a, i) => a !== i)) return other(args);
      const C = tf.util.sizeFromShape(x.shape.slice(m));
      const rows = tf.util.sizeFromShape(x.shape.slice(0, m));
      const backend = wasmBackend(args);
      const outShape = keepDims ? [...x.shape.slice(0, m).map(() => 1), ...x.shape.slice(m)] : x.shape.slice(m);
      const out = alloc(backend, outShape, 'float32');
      const src = heap(backend, x) as Float32Array;
      const acc = new Float64Array(C);
      // Four rows a pass: a quarter of the accumulator traffic (the sum is still in float64).
      let r = 0;
      for (; r + 4 <= rows; r += 4) {
        const b0 = r * C;
        const b1 = b0 + C;
        const b2 = b1 + C;
        const b3 = b2 + C;
        for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (src[b0 + c] as number) + (src[b1 + c] as number) + (src[b2 + c] as number) + (src[b3 + c] as number);
      }
      for (; r < rows; r++) {
        const base = r * C;
        for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (src[base + c] as number);
      }
      (heap(backend, out) as Float32Array).set(acc);
      return out;
    };
  });
}

// ------------------------------------------------------------------ identity
//
// The engine clones every tensor a gradient saves (inputsToSave/outputsToSave) through the
// Identity kernel, and the package's copies the bytes: every activation of a step was copied
// once more (figures: bench/NOTES.md, "v0.3.1: training on wasm, second pass", item 5).
// Heap tensors are never written after they are made (see wasm-heap.ts), so the clone shares
// the memory and counts one more reference, as the package's own Reshape and tfjs' cpu
// Identity do.

function registerIdentity(): void {
  registerWasmKernel('Identity', () => (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

export function registerWasmElementwise(): void {
  registerIdentity();
  registerBinaries();
  registerCast();
  registerSplitConcat();
  registerSum();
}
