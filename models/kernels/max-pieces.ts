// Maxout and MFM as one kernel forward and one kernel backward, for the CPU-side backends
// (cpu and wasm), in place of the split / maximum / minimum / concat composition in
// models/activations (about eight tfjs kernels a layer forward and a dozen backward, each a
// full pass over the activations). webgpu has the same two kernels in WGSL
// (webgpu-max-pieces.ts, sharing `layout` and `checkDy` from here); native TensorFlow keeps
// the composition.
//
// Layout: x is [..., C], channels-last, R rows of C. The pieces of an output channel are
// contiguous blocks of the last axis: piece j of output channel c is x[r, j*N + c].
//
// Kernels (attrs { mode: 'maxout', k } for maxout k = 2..5 and MFM 2/1 = maxout 2;
// { mode: 'mfm32' } for MFM 3/2):
//   LabMaxPieces      x [..., k*N] -> y [..., N], or x [..., 3m] -> y [..., 2m]
//   LabMaxPiecesGrad  (x, dy) -> dx, the gradient tfjs computes through the composition
//
// The results are bit for bit those of the composition on the same backend (values and
// gradients, ties, NaN and signed zeros included: the dead-neuron probes call a piece alive
// exactly where the composition's gradient reaches it). With max/min as Math.max/Math.min
// (NaN if either is NaN; max(-0, +0) = +0, min(-0, +0) = -0) and [P] = 1 if P holds else 0
// (comparisons are false when a NaN is involved; -0 == +0):
//
// Maxout k (MFM 2/1 is k = 2), p_j = x[r, j*N + c], g = dy[r, c]:
//   forward   y = max(...max(max(p_0, p_1), p_2)..., p_(k-1))
//   backward  tfjs' Maximum gradient sends dy*[a >= b] to a and dy*[a < b] to b. Down the
//             chain, with A_j = max(p_0..p_(j-1)): p_j gets g * [A_j < p_j] * prod_(i>j) [A_i >= p_i]
//             and p_0 gets g * prod_(i>0) [A_i >= p_i]. Every factor is 0 or 1, so each piece's
//             gradient is g * M_j with M_j = 1 for the first piece attaining the maximum (ties to
//             the earlier piece, -0 tying +0) and 0 for the others; every M_j is 0 when a piece is
//             NaN. In pairwise comparisons (a NaN fails every one it is in):
//                 M_j = prod_(i<j) [p_i < p_j] * prod_(i>j) [p_j >= p_i]
//             One float multiplication g * M_j, as tfjs' chain of them: NaN and infinite g, and the
//             sign of a zero, come out as there (inf * 0 = NaN; -g * 0 = -0).
//
// MFM 3/2, a = x[r, c], b = x[r, m + c], c' = x[r, 2m + c], gT = dy[r, c], gM = dy[r, m + c]:
//   forward   hi = max(a, b), lo = min(a, b), top = max(hi, c'), m2 = min(hi, c'),
//             median = max(lo, m2); y[r, c] = top, y[r, m + c] = median
//   backward  (tfjs' Minimum gradient: dy*[a <= b] to a, dy*[a > b] to b; a tensor used twice
//             gets the float32 sum of its two gradients)
//             gLo = gM*[lo >= m2]                  gM2 = gM*[lo < m2]
//             gHi = f32(gM2*[hi <= c'] + gT*[hi >= c'])
//             dc' = f32(gM2*[hi > c'] + gT*[hi < c'])
//             da  = f32(gHi*[a >= b] + gLo*[a <= b])
//             db  = f32(gHi*[a < b] + gLo*[a > b])
//   (f32: rounding to float32, where tfjs stores a float32 tensor; the products are exact.)
//
// Speed: one pass over x forward, one over x and dy backward, the channel loop innermost and
// without data-dependent branches (on activations, which piece wins is a coin toss, and a
// mispredicted branch per element costs several times the memory traffic: Math.max and
// `a >= b ? a : b` both compile to branches, and were slower than the masks below; figures:
// bench/NOTES.md, "Figures behind design choices"). Comparisons become 0/1 with
// `| 0` (a flag move). Where a value must be selected, it is handled as its float32 bits in
// int32 (as pick() in wasm-elementwise.ts):
//   key(v)  = v ^ ((v >> 31) & 0x7fffffff)   orders like the floats, -0 below +0 (Math.max order);
//                                          an involution, so key(key(v)) = v
//   tie(v)  = (|v| ^ s) - s, s = v >> 31     orders like float comparisons: -0 and +0 both 0
// a select is y ^ ((x ^ y) & -flag), and a NaN (|v| > 0x7f800000) is caught by the sign of
// 0x7f800000 - |v|. A NaN output of the forward is 0x7fc00000, as the lab's wasm Maximum makes
// it; beyond that the bits of a NaN (sign, payload) are not reproduced, only that it is NaN.
import * as tf from '@tensorflow/tfjs';
import { alloc, view, wasmBackend } from './wasm-heap';

export const MAX_PIECES = 'LabMaxPieces';
export const MAX_PIECES_GRAD = 'LabMaxPiecesGrad';

export type MaxPiecesAttrs = { readonly mode: 'maxout'; readonly k: number } | { readonly mode: 'mfm32' };

const ABS = 0x7fffffff;
const INF = 0x7f800000;
const NAN = 0x7fc00000;

/** true -> 1, false -> 0, without a branch (V8 compiles it to a flag move). */
const flag = (condition: boolean): number => (condition as unknown as number) | 0;

const bitsOf = (f: Float32Array): Int32Array => new Int32Array(f.buffer, f.byteOffset, f.length);

/** Math.max on float32 bits: the larger in key order, a canonical NaN when either is NaN. */
function maxBits(p: number, q: number): number {
  const kp = p ^ ((p >> 31) & ABS);
  const kq = q ^ ((q >> 31) & ABS);
  const r = q ^ ((p ^ q) & -flag(kp >= kq));
  const nan = ((INF - (p & ABS)) | (INF - (q & ABS))) >> 31; // -1 when |p| or |q| > INF (a NaN), else 0
  return r ^ ((r ^ NAN) & nan);
}

// ------------------------------------------------------------------ layout

export interface Layout {
  /** Rows: every axis but the last. */
  readonly rows: number;
  /** Pieces per output channel (k, or 3 for MFM 3/2). */
  readonly pieces: number;
  /** Channels per piece (N, or m for MFM 3/2). */
  readonly width: number;
  readonly outShape: number[];
}

/** The pieces of x's last axis, checked (rank, dtype, attrs, divisibility); shared with webgpu-max-pieces.ts. */
export function layout(x: tf.TensorInfo, attrs: MaxPiecesAttrs): Layout {
  const rank = x.shape.length;
  const C = x.shape[rank - 1];
  if (rank < 1 || C === undefined) throw new Error(`${MAX_PIECES}: needs a tensor of rank >= 1, got [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32') throw new Error(`${MAX_PIECES}: needs float32, got ${x.dtype}`);
  const pieces = attrs.mode === 'mfm32' ? 3 : attrs.k;
  if (attrs.mode !== 'mfm32' && (attrs.mode !== 'maxout' || !Number.isInteger(pieces) || pieces < 2 || pieces > 5)) throw new Error(`${MAX_PIECES}: unknown attrs ${JSON.stringify(attrs)}`);
  if (C % pieces !== 0) throw new Error(`${MAX_PIECES}: ${C} channels do not split into ${pieces} pieces`);
  const width = C / pieces;
  const rows = C === 0 ? 0 : tf.util.sizeFromShape(x.shape) / C;
  return { rows, pieces, width, outShape: [...x.shape.slice(0, -1), attrs.mode === 'mfm32' ? 2 * width : width] };
}

// ------------------------------------------------------------------ forward

/**
 * dst[d + c] = maxBits(p[pi + c], q[qi + c]) for c < n. Four channels an iteration: a quarter
 * of the loop's overhead, and four independent chains for the CPU to overlap (figures:
 * bench/NOTES.md, "Figures behind design choices").
 */
function maxRow(p: Int32Array, pi: number, q: Int32Array, qi: number, dst: Int32Array, d: number, n: number): void {
  let c = 0;
  for (; c + 3 < n; c += 4) {
    const y0 = maxBits(p[pi + c] as number, q[qi + c] as number);
    const y1 = maxBits(p[pi + c + 1] as number, q[qi + c + 1] as number);
    const y2 = maxBits(p[pi + c + 2] as number, q[qi + c + 2] as number);
    const y3 = maxBits(p[pi + c + 3] as number, q[qi + c + 3] as number);
    dst[d + c] = y0;
    dst[d + c + 1] = y1;
    dst[d + c + 2] = y2;
    dst[d + c + 3] = y3;
  }
  for (; c < n; c++) dst[d + c] = maxBits(p[pi + c] as number, q[qi + c] as number);
}

/** y[r, c] = max_j x[r, j*n + c], a chain of Math.max from piece 0 (bits in, bits out). */
function maxoutForward(x: Int32Array, y: Int32Array, rows: number, n: number, k: number): void {
  const C = k * n;
  for (let r = 0; r < rows; r++) {
    const row = r * C;
    const out = r * n;
    maxRow(x, row, x, row + n, y, out, n);
    // Further pieces fold into the output row, still in the cache.
    for (let j = 2; j < k; j++) maxRow(y, out, x, row + j * n, y, out, n);
  }
}

/** y[r, c] = top of (a, b, c'), y[r, m + c] = their median, as the composition's max/min chain (bits in, bits out). */
function mfm32Forward(x: Int32Array, y: Int32Array, rows: number, m: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * 3 * m, o = r * 2 * m, end = i + m; i < end; i++, o++) {
      const a = x[i] as number;
      const b = x[i + m] as number;
      const c = x[i + 2 * m] as number;
      const ka = a ^ ((a >> 31) & ABS);
      const kb = b ^ ((b >> 31) & ABS);
      const kc = c ^ ((c >> 31) & ABS);
      // In key order max and min are Math.max and Math.min (signed zeros included).
      const ab = (ka ^ kb) & -flag(ka >= kb);
      const hi = kb ^ ab;
      const lo = ka ^ ab;
      const hc = (hi ^ kc) & -flag(hi >= kc);
      const top = kc ^ hc;
      const m2 = hi ^ hc;
      const median = m2 ^ ((lo ^ m2) & -flag(lo >= m2));
      // Any NaN makes both outputs NaN (top through max, median through min(hi, c') or lo).
      const nan = ((INF - (a & ABS)) | (INF - (b & ABS)) | (INF - (c & ABS))) >> 31;
      const topBits = top ^ ((top >> 31) & ABS);
      const medianBits = median ^ ((median >> 31) & ABS);
      y[o] = topBits ^ ((topBits ^ NAN) & nan);
      y[o + m] = medianBits ^ ((medianBits ^ NAN) & nan);
    }
  }
}

function forward(x: Float32Array, y: Float32Array, { rows, pieces, width }: Layout, attrs: MaxPiecesAttrs): void {
  if (attrs.mode === 'mfm32') mfm32Forward(bitsOf(x), bitsOf(y), rows, width);
  else maxoutForward(bitsOf(x), bitsOf(y), rows, width, pieces);
}

// ------------------------------------------------------------------ backward

/** k = 2: dx to piece 0 where p0 >= p1, to piece 1 where p0 < p1 (tfjs' Maximum gradient); four channels an iteration. */
function maxout2Backward(x: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * 2 * n;
    const out = r * n;
    let c = 0;
    for (; c + 3 < n; c += 4) {
      const i = row + c;
      const o = out + c;
      const a0 = x[i] as number;
      const a1 = x[i + 1] as number;
      const a2 = x[i + 2] as number;
      const a3 = x[i + 3] as number;
      const b0 = x[i + n] as number;
      const b1 = x[i + n + 1] as number;
      const b2 = x[i + n + 2] as number;
      const b3 = x[i + n + 3] as number;
      const g0 = dy[o] as number;
      const g1 = dy[o + 1] as number;
      const g2 = dy[o + 2] as number;
      const g3 = dy[o + 3] as number;
      dx[i] = g0 * flag(a0 >= b0);
      dx[i + 1] = g1 * flag(a1 >= b1);
      dx[i + 2] = g2 * flag(a2 >= b2);
      dx[i + 3] = g3 * flag(a3 >= b3);
      dx[i + n] = g0 * flag(a0 < b0);
      dx[i + n + 1] = g1 * flag(a1 < b1);
      dx[i + n + 2] = g2 * flag(a2 < b2);
      dx[i + n + 3] = g3 * flag(a3 < b3);
    }
    for (; c < n; c++) {
      const a = x[row + c] as number;
      const b = x[row + n + c] as number;
      const g = dy[out + c] as number;
      dx[row + c] = g * flag(a >= b);
      dx[row + n + c] = g * flag(a < b);
    }
  }
}

// k = 3..5: M_j = prod_(i<j) [p_i < p_j] * prod_(i>j) [p_j >= p_i], the first piece attaining
// the maximum (any NaN fails a comparison of every piece: all M_j = 0). Straight-line float
// comparisons, one function per k: a loop over the pieces inside the channel loop was slower
// (figures: bench/NOTES.md, "Figures behind design choices").

function maxout3Backward(x: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * 3 * n, o = r * n, end = i + n; i < end; i++, o++) {
      const p0 = x[i] as number;
      const p1 = x[i + n] as number;
      const p2 = x[i + 2 * n] as number;
      const g = dy[o] as number;
      dx[i] = g * (flag(p0 >= p1) & flag(p0 >= p2));
      dx[i + n] = g * (flag(p0 < p1) & flag(p1 >= p2));
      dx[i + 2 * n] = g * (flag(p0 < p2) & flag(p1 < p2));
    }
  }
}

function maxout4Backward(x: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * 4 * n, o = r * n, end = i + n; i < end; i++, o++) {
      const p0 = x[i] as number;
      const p1 = x[i + n] as number;
      const p2 = x[i + 2 * n] as number;
      const p3 = x[i + 3 * n] as number;
      const g = dy[o] as number;
      dx[i] = g * (flag(p0 >= p1) & flag(p0 >= p2) & flag(p0 >= p3));
      dx[i + n] = g * (flag(p0 < p1) & flag(p1 >= p2) & flag(p1 >= p3));
      dx[i + 2 * n] = g * (flag(p0 < p2) & flag(p1 < p2) & flag(p2 >= p3));
      dx[i + 3 * n] = g * (flag(p0 < p3) & flag(p1 < p3) & flag(p2 < p3));
    }
  }
}

function maxout5Backward(x: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * 5 * n, o = r * n, end = i + n; i < end; i++, o++) {
      const p0 = x[i] as number;
      const p1 = x[i + n] as number;
      const p2 = x[i + 2 * n] as number;
      const p3 = x[i + 3 * n] as number;
      const p4 = x[i + 4 * n] as number;
      const g = dy[o] as number;
      dx[i] = g * (flag(p0 >= p1) & flag(p0 >= p2) & flag(p0 >= p3) & flag(p0 >= p4));
      dx[i + n] = g * (flag(p0 < p1) & flag(p1 >= p2) & flag(p1 >= p3) & flag(p1 >= p4));
      dx[i + 2 * n] = g * (flag(p0 < p2) & flag(p1 < p2) & flag(p2 >= p3) & flag(p2 >= p4));
      dx[i + 3 * n] = g * (flag(p0 < p3) & flag(p1 < p3) & flag(p2 < p3) & flag(p3 >= p4));
      dx[i + 4 * n] = g * (flag(p0 < p4) & flag(p1 < p4) & flag(p2 < p4) & flag(p3 < p4));
    }
  }
}

/** MFM 3/2: the composition's gradient (see the header), comparisons on tie() keys with NaN flags. */
function mfm32Backward(x: Int32Array, dy: Float32Array, dx: Float32Array, rows: number, m: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * 3 * m, o = r * 2 * m, end = i + m; i < end; i++, o++) {
      const a = x[i] as number;
      const b = x[i + m] as number;
      const c = x[i + 2 * m] as number;
      const sa = a >> 31;
      const sb = b >> 31;
      const sc = c >> 31;
      const ka = ((a & ABS) ^ sa) - sa;
      const kb = ((b & ABS) ^ sb) - sb;
      const kc = ((c & ABS) ^ sc) - sc;
      // vab: a and b are numbers (hi and lo are); v: c' too (m2 is; every other comparison needs it).
      const vab = flag((a & ABS) <= INF) & flag((b & ABS) <= INF);
      const v = vab & flag((c & ABS) <= INF);
      const aGeB = flag(ka >= kb);
      const aLeB = flag(ka <= kb);
      const ab = (ka ^ kb) & -aGeB;
      const hi = kb ^ ab;
      const lo = ka ^ ab;
      const hiGeC = flag(hi >= kc);
      const hiLeC = flag(hi <= kc);
      const m2 = kc ^ ((hi ^ kc) & -hiLeC);
      const loGeM2 = flag(lo >= m2) & v;
      const gT = dy[o] as number;
      const gM = dy[o + m] as number;
      const gLo = gM * loGeM2;
      const gM2 = gM * (v - loGeM2);
      const gHi = Math.fround(gM2 * (hiLeC & v) + gT * (hiGeC & v));
      dx[i + 2 * m] = gM2 * (v - (hiLeC & v)) + gT * (v - (hiGeC & v));
      dx[i] = gHi * (aGeB & vab) + gLo * (aLeB & vab);
      dx[i + m] = gHi * (vab - (aGeB & vab)) + gLo * (vab - (aLeB & vab));
    }
  }
}

function backward(x: Float32Array, dy: Float32Array, dx: Float32Array, { rows, pieces, width }: Layout, attrs: MaxPiecesAttrs): void {
  if (attrs.mode === 'mfm32') mfm32Backward(bitsOf(x), dy, dx, rows, width);
  else if (pieces === 2) maxout2Backward(x, dy, dx, rows, width);
  else if (pieces === 3) maxout3Backward(x, dy, dx, rows, width);
  else if (pieces === 4) maxout4Backward(x, dy, dx, rows, width);
  else maxout5Backward(x, dy, dx, rows, width);
}

/** dy must be float32 of the forward's output shape. */
export function checkDy(x: tf.TensorInfo, dy: tf.TensorInfo, { outShape }: Layout): void {
  if (dy.dtype !== 'float32' || dy.shape.length !== outShape.length || dy.shape.some((d, i) => d !== outShape[i]))
    throw new Error(`${MAX_PIECES_GRAD}: dy is ${dy.dtype} [${dy.shape.join(', ')}], expected float32 [${outShape.join(', ')}] for x [${x.shape.join(', ')}]`);
}

// ------------------------------------------------------------------ kernels

type Inputs = { x: tf.TensorInfo; dy?: tf.TensorInfo };

/** What the kernels use of the cpu backend, which keeps tensors as JS typed arrays (read without a copy). */
type CpuBackend = { readSync(dataId: object): unknown; makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo };

const cpuForward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as Inputs;
  const mode = attrs as unknown as MaxPiecesAttrs;
  const cpu = backend as unknown as CpuBackend;
  const shape = layout(x, mode);
  const y = new Float32Array(tf.util.sizeFromShape(shape.outShape));
  forward(cpu.readSync(x.dataId) as Float32Array, y, shape, mode);
  return cpu.makeTensorInfo(shape.outShape, 'float32', y);
};

const cpuBackward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Required<Inputs>;
  const mode = attrs as unknown as MaxPiecesAttrs;
  const cpu = backend as unknown as CpuBackend;
  const shape = layout(x, mode);
  checkDy(x, dy, shape);
  const dx = new Float32Array(tf.util.sizeFromShape(x.shape));
  backward(cpu.readSync(x.dataId) as Float32Array, cpu.readSync(dy.dataId) as Float32Array, dx, shape, mode);
  return cpu.makeTensorInfo(x.shape, 'float32', dx);
};

/** The wasm backend keeps tensors in its heap: allocate the output first, then take views (see wasm-heap.ts). */
const wasmForward: tf.KernelFunc = (args) => {
  const { x } = args.inputs as Inputs;
  const mode = args.attrs as unknown as MaxPiecesAttrs;
  const wasm = wasmBackend(args);
  const shape = layout(x, mode);
  const y = alloc(wasm, shape.outShape, 'float32');
  forward(view(wasm, x), view(wasm, y), shape, mode);
  return y;
};

const wasmBackward: tf.KernelFunc = (args) => {
  const { x, dy } = args.inputs as Required<Inputs>;
  const mode = args.attrs as unknown as MaxPiecesAttrs;
  const wasm = wasmBackend(args);
  const shape = layout(x, mode);
  checkDy(x, dy, shape);
  const dx = alloc(wasm, x.shape, 'float32');
  backward(view(wasm, x), view(wasm, dy), view(wasm, dx), shape, mode);
  return dx;
};

/**
 * Registers both kernels for cpu and wasm and the forward kernel's gradient. Harmless to call
 * again, from this or a second copy of the module: what is registered already is left alone.
 */
export function registerMaxPiecesKernels(): void {
  for (const [backendName, fwd, bwd] of [['cpu', cpuForward, cpuBackward], ['wasm', wasmForward, wasmBackward]] as const) {
    if (tf.getKernel(MAX_PIECES, backendName) === undefined) tf.registerKernel({ kernelName: MAX_PIECES, backendName, kernelFunc: fwd });
    if (tf.getKernel(MAX_PIECES_GRAD, backendName) === undefined) tf.registerKernel({ kernelName: MAX_PIECES_GRAD, backendName, kernelFunc: bwd });
  }
  if (tf.getGradient(MAX_PIECES) === undefined) {
    tf.registerGradient({
      kernelName: MAX_PIECES,
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        if (x === undefined || Array.isArray(dy)) throw new Error(`internal: ${MAX_PIECES}'s gradient needs x and one dy`);
        return { x: () => tf.engine().runKernel(MAX_PIECES_GRAD, { x, dy }, attrs) as tf.Tensor };
      },
    });
  }
}
registerMaxPiecesKernels();

/** True when the current backend has the fused kernels (cpu, wasm). */
export function hasMaxPiecesKernels(): boolean {
  const backend = tf.getBackend();
  return tf.getKernel(MAX_PIECES, backend) !== undefined && tf.getKernel(MAX_PIECES_GRAD, backend) !== undefined;
}

/**
 * The fused maxout / MFM of a float32 `x` on a backend that has the kernels; null elsewhere
 * (the caller uses the op composition).
 */
export function maxPieces(x: tf.Tensor, attrs: MaxPiecesAttrs): tf.Tensor | null {
  if (x.dtype !== 'float32' || !hasMaxPiecesKernels()) return null;
  return tf.engine().runKernel(MAX_PIECES, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
