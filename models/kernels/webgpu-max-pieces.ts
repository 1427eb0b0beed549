// LabMaxPieces and LabMaxPiecesGrad (models/kernels/max-pieces.ts) for tfjs' webgpu backend: one
// WGSL program each way, one thread per output row-channel (r, c) looping over its pieces, in
// place of the eight-to-twelve-kernel composition. Semantics are the header's of max-pieces.ts,
// and the results are those of the cpu kernels bit for bit, with two exceptions:
//   - NaN bits: a NaN output is NaN, not necessarily with cpu's sign or payload (as on cpu vs
//     the composition).
//   - MFM 3/2's backward adds two gradient contributions where pieces tie (hi = c', or a = b
//     with both gHi and gLo reaching a piece). That one float addition of two finite, nonzero
//     values runs on the device's float unit: on a device that flushes subnormals to zero, a
//     sum whose operand or result is subnormal (below 2^-126 in magnitude) may differ. Every
//     other case of those sums (zeros and their signs, infinities, NaN) is decided on the bits.
//
// Why bits rather than floats: WGSL lets an implementation assume no NaN or infinity, so
// `max`, `min`, float comparisons and `x != x` are unreliable on them, and a compiler may fold
// `g * 1.0` / `g * 0.0` style masks into a select that loses `inf * 0 = NaN` and `-g * 0 = -0`.
// So comparisons run on integer keys of the float32 bits (as the cpu kernels do), NaN is found
// on the bits, and `g * mask` is built from g's bits. Nothing depends on subnormal handling
// except the one addition above.
//
// The package is loaded at run time (models/backend-webgpu.ts), so only its types are imported
// here; the backend instance arrives as the kernelFunc's `backend`.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { checkDy, layout, MAX_PIECES, MAX_PIECES_GRAD, type Layout, type MaxPiecesAttrs } from './max-pieces';

const WORKGROUP = 64;

// ------------------------------------------------------------------ WGSL

/** Bit helpers shared by the programs (i32 views of float32 bits). */
const BITS = `
  const ABS = 0x7fffffff;
  const INF = 0x7f800000;
  const NAN = 0x7fc00000;
  const SIGN = -2147483647 - 1;

  fn bitsAt(i : i32) -> i32 { return bitcast<i32>(x[i]); }
  fn isNanBits(v : i32) -> bool { return (v & ABS) > INF; }
  // Orders like Math.max / Math.min, -0 below +0; an involution (orderKey(orderKey(v)) = v).
  fn orderKey(v : i32) -> i32 { return v ^ ((v >> 31u) & ABS); }
  // Orders like float comparisons: -0 and +0 both 0 (meaningless for NaN, which callers mask).
  fn tieKey(v : i32) -> i32 { let s = v >> 31u; return ((v & ABS) ^ s) - s; }
`;

/** The gradient helpers: g * [m] and a float32 sum, with IEEE's special cases decided on the bits. */
const GRAD_BITS = `
  // g * 1 = g; g * 0 = 0 with g's sign, NaN for an infinite or NaN g.
  fn timesMask(g : f32, m : bool) -> f32 {
    let v = bitcast<i32>(g);
    return bitcast<f32>(select(select(v & SIGN, NAN, (v & ABS) >= INF), v, m));
  }
  // a + b rounded to float32. Only two finite nonzero non-opposite values reach the float unit.
  fn addExact(a : f32, b : f32) -> f32 {
    let va = bitcast<i32>(a);
    let vb = bitcast<i32>(b);
    let ma = va & ABS;
    let mb = vb & ABS;
    if (ma > INF || mb > INF || (ma == INF && mb == INF && va != vb)) { return uniforms.NAN; } // tfjs' NaN uniform: a constant NaN is a WGSL error
    if (ma == 0) { return bitcast<f32>(select(vb, va & vb, mb == 0)); } // -0 only from -0 + -0
    if (mb == 0 || ma == INF) { return a; }
    if (mb == INF) { return b; }
    if (va == (vb ^ SIGN)) { return 0.0; }
    return a + b;
  }
`;

function maxoutForwardCode(k: number): string {
  return `${BITS}
  fn main(index : i32) {
    if (index < uniforms.threads) {
      let n = uniforms.width;
      let r = index / n;
      let first = r * ${k} * n + (index - r * n);
      var v = bitsAt(first);
      var best = orderKey(v);
      var nan = isNanBits(v);
      for (var j = 1; j < ${k}; j++) {
        v = bitsAt(first + j * n);
        best = max(best, orderKey(v));
        nan = nan || isNanBits(v);
      }
      result[index] = bitcast<f32>(select(orderKey(best), NAN, nan));
    }
  }`;
}

function maxoutBackwardCode(k: number): string {
  return `${BITS}${GRAD_BITS}
  fn main(index : i32) {
    if (index < uniforms.threads) {
      let n = uniforms.width;
      let r = index / n;
      let first = r * ${k} * n + (index - r * n);
      // The gradient goes to the first piece attaining the maximum (-0 ties +0), to none if any piece is NaN.
      var v = bitsAt(first);
      var best = tieKey(v);
      var winner = 0;
      var nan = isNanBits(v);
      for (var j = 1; j < ${k}; j++) {
        v = bitsAt(first + j * n);
        let key = tieKey(v);
        winner = select(winner, j, key > best);
        best = max(best, key);
        nan = nan || isNanBits(v);
      }
      let g = dy[index];
      for (var j = 0; j < ${k}; j++) {
        result[first + j * n] = timesMask(g, j == winner && !nan);
      }
    }
  }`;
}

/** MFM 3/2, one thread per (r, c < m): the three pieces a, b, cc of input row r and the output offset o. */
const MFM32_PIECES = `let m = uniforms.width;
      let r = index / m;
      let c = index - r * m;
      let i = r * 3 * m + c;
      let o = r * 2 * m + c;
      let a = bitsAt(i);
      let b = bitsAt(i + m);
      let cc = bitsAt(i + 2 * m);`;

const MFM32_FORWARD = `${BITS}
  fn main(index : i32) {
    if (index < uniforms.threads) {
      ${MFM32_PIECES}
      // In key order, integer max / min are Math.max / Math.min, signed zeros included.
      let hi = max(orderKey(a), orderKey(b));
      let lo = min(orderKey(a), orderKey(b));
      let top = max(hi, orderKey(cc));
      let median = max(lo, min(hi, orderKey(cc)));
      let nan = isNanBits(a) || isNanBits(b) || isNanBits(cc);
      result[o] = bitcast<f32>(select(orderKey(top), NAN, nan));
      result[o + m] = bitcast<f32>(select(orderKey(median), NAN, nan));
    }
  }`;

// The composition's gradient, term by term as in max-pieces.ts' header and mfm32Backward there.
const MFM32_BACKWARD = `${BITS}${GRAD_BITS}
  fn main(index : i32) {
    if (index < uniforms.threads) {
      ${MFM32_PIECES}
      let ka = tieKey(a);
      let kb = tieKey(b);
      let kc = tieKey(cc);
      // vab: a and b are numbers (then so are hi and lo); v: c' too.
      let vab = !isNanBits(a) && !isNanBits(b);
      let v = vab && !isNanBits(cc);
      let aGeB = ka >= kb;
      let aLeB = ka <= kb;
      let hi = select(kb, ka, aGeB);
      let lo = select(ka, kb, aGeB);
      let hiGeC = hi >= kc;
      let hiLeC = hi <= kc;
      let m2 = select(kc, hi, hiLeC);
      let loGeM2 = lo >= m2 && v;
      let gT = dy[o];
      let gM = dy[o + m];
      let gLo = timesMask(gM, loGeM2);
      let gM2 = timesMask(gM, v && !loGeM2);
      let gHi = addExact(timesMask(gM2, hiLeC && v), timesMask(gT, hiGeC && v));
      result[i + 2 * m] = addExact(timesMask(gM2, v && !hiLeC), timesMask(gT, v && !hiGeC));
      result[i] = addExact(timesMask(gHi, aGeB && vab), timesMask(gLo, aLeB && vab));
      result[i + m] = addExact(timesMask(gHi, vab && !aGeB), timesMask(gLo, vab && !aLeB));
    }
  }`;

// ------------------------------------------------------------------ programs

/**
 * One thread per output row-channel, flat dispatch (tfjs spreads an oversized one over y and z;
 * getGlobalIndex undoes it). Uniforms: width (N or m) and threads (the bound check; not
 * tfjs' `size`, which counts output elements, two per thread in MFM 3/2's forward).
 */
class MaxPiecesProgram implements WebGPUProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly uniforms = 'width : i32, threads : i32,';
  private readonly code: string;

  constructor(backward: boolean, attrs: MaxPiecesAttrs, outputShape: number[], threads: number) {
    this.variableNames = backward ? ['x', 'dy'] : ['x'];
    this.outputShape = outputShape;
    const mode = attrs.mode === 'mfm32' ? 'mfm32' : `maxout${attrs.k}`;
    // Per mode and k (a constant in the code); tfjs appends ranks and dtypes.
    this.shaderKey = `labMaxPieces${backward ? 'Grad' : ''}_${mode}`;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(threads / WORKGROUP), 1, 1];
    this.code = attrs.mode === 'mfm32' ? (backward ? MFM32_BACKWARD : MFM32_FORWARD) : backward ? maxoutBackwardCode(attrs.k) : maxoutForwardCode(attrs.k);
  }

  getUserCode(): string {
    return this.code;
  }
}

/** One thread per output row-channel (r, c < width). */
function run(backend: WebGPUBackend, backward: boolean, attrs: MaxPiecesAttrs, inputs: tf.TensorInfo[], shape: Layout, outShape: number[]): tf.TensorInfo {
  const threads = shape.rows * shape.width;
  const program = new MaxPiecesProgram(backward, attrs, outShape, threads);
  return backend.runWebGPUProgram(program, inputs, 'float32', [
    { type: 'int32', data: [shape.width] },
    { type: 'int32', data: [threads] },
  ]);
}

type Inputs = { x: tf.TensorInfo; dy?: tf.TensorInfo };

const webGpuForward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as Inputs;
  const mode = attrs as unknown as MaxPiecesAttrs;
  const shape = layout(x, mode);
  return run(backend as unknown as WebGPUBackend, false, mode, [x], shape, shape.outShape);
};

const webGpuBackward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Required<Inputs>;
  const mode = attrs as unknown as MaxPiecesAttrs;
  const shape = layout(x, mode);
  checkDy(x, dy, shape);
  return run(backend as unknown as WebGPUBackend, true, mode, [x, dy], shape, x.shape);
};

/**
 * Registers both kernels for 'webgpu' (the gradient of LabMaxPieces is registered by
 * max-pieces.ts, backend-independent). Harmless to call again: what is registered is left alone.
 */
export function registerWebGpuMaxPiecesKernels(): void {
  if (tf.getKernel(MAX_PIECES, 'webgpu') === undefined) tf.registerKernel({ kernelName: MAX_PIECES, backendName: 'webgpu', kernelFunc: webGpuForward });
  if (tf.getKernel(MAX_PIECES_GRAD, 'webgpu') === undefined) tf.registerKernel({ kernelName: MAX_PIECES_GRAD, backendName: 'webgpu', kernelFunc: webGpuBackward });
}
