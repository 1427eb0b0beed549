// The two convolution gradients for the wasm backend, written on its XNNPACK kernels.
//
// Notation (NHWC, dilation 1): x [N, H, W, CI], filter W [KH, KW, CI, CO], stride s,
// padding (top, left) as tfjs computes it, dy [N, OH, OW, CO].
//   y[b, i, j, co] = sum_{kh, kw, ci} x[b, i*s + kh - top, j*s + kw - left, ci] W[kh, kw, ci, co]
//
// Conv2DBackpropFilter: dW[kh, kw, ci, co] = sum_{b, i, j} x[b, i*s + kh - top, j*s + kw - left, ci] dy[b, i, j, co].
//   Written as one matrix product dW = P^T dy, where dy is read as an [R, CO] matrix
//   (R = N*OH*OW rows, as it lies in memory) and P^T [KH*KW*CI, R] is the transposed
//   im2col matrix: row (kh, kw, ci), column (b, i, j) holds x[b, i*s + kh - top,
//   j*s + kw - left, ci] (0 in the padding). P^T is built from x transposed to
//   [CI, N, H, W] (the wasm Transpose kernel), so every run of P^T's row is a run of
//   x^T's row: plain copies, no gathers. The product runs in XNNPACK's fully connected
//   operator (the wasm BatchMatMul kernel's fast path: batch 1, no transposes), whose
//   output [KH*KW*CI, CO] is dW's memory layout. A 1x1 filter with stride 1 and no
//   padding needs no im2col: P^T is x^T, and a chunk of it one run of each row. The
//   product is cut into chunks of whole images, about wasmConvTuning.filterChunkRows rows
//   of R each, whose partial products are
//   summed (float32, in image order). Why: XNNPACK packs its weight operand (here dy) every
//   time the operator is created, which is every step since dy is new, and the package asks
//   it to pack from [K, N] (XNN_FLAG_TRANSPOSE_WEIGHTS), reading 8 columns of every row per
//   pass. Over a whole batch's dy (R = 65,536 rows for the first layer at 64 px) those passes
//   miss the cache, and the packing costs more than the product. Chunks of ~4,096 rows pack
//   from cache (figures: bench/NOTES.md, "v0.3.1: training on wasm, second pass", item 1).
//
// Conv2DBackpropInput: dx[b, p, q, ci] = sum over (i, j, kh, kw) with i*s + kh - top = p and
//   j*s + kw - left = q of dy[b, i, j, co] W[kh, kw, ci, co].
//   With stride 1 this is the forward convolution of dy, padded by KH-1-top above and
//   KH-1-bottom below (KW-1-left, KW-1-right at the sides), with the filter rotated by
//   180 degrees and its channel axes swapped: W'[a, c, co, ci] = W[KH-1-a, KW-1-c, ci, co].
//   Substituting a = KH-1-kh: i = p + (KH-1-top) - a, which is the forward conv's index with
//   padding KH-1-top. With stride s > 1, dy is first spread out to (OH-1)*s+1 rows (s-1
//   zero rows between consecutive rows, same for columns), which turns it into the
//   stride-1 case. The convolution is the wasm Conv2D kernel (XNNPACK) with explicit,
//   possibly asymmetric padding; the bottom/right padding is whatever makes the output
//   H x W (rows x never reached by any window get 0, as they should).
//   With fewer than 4 input channels (the grey first layer) it is instead the product
//   G = dy W^T ([R, CO] x [CO, KH*KW*CI], XNNPACK) scattered back onto the image (col2im):
//   see inputGradientByScatter. The same when the padded convolution would mostly multiply
//   zeros (valid padding on small maps, fullConvolutionWaste above 2), as in Model A's conv3
//   (12x12 -> 8x8) and conv4 (4x4 -> 1x1); its conv2 (28 -> 24, waste 1.36) stays a
//   convolution, which is faster there (figures: bench/NOTES.md, "v0.3.1: training on wasm,
//   second pass", item 3).
//
// Anything else (NCHW, a dtype other than float32, a padding larger than the filter, which
// would need negative padding here) goes to a correct implementation: for the input
// gradient the package's own kernel, for the filter gradient the lab's cpu loop on copied data.
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterNhwc } from './cpu-conv2d-backprop-filter';
import { alloc, free, registerWasmKernel, run, transpose, view, wasmBackend, type KernelArgs, type WasmBackend } from './wasm-heap';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

interface BackpropAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Tuning. im2colChunkFloats: the most floats one chunk of P^T may hold (64 MiB).
 * filterChunkRows: about how many of the product's R rows (output pixels) one filter-gradient
 * product takes; see filterGradient. Tests lower both to exercise the chunking.
 * scatterAboveWaste: see fullConvolutionWaste.
 */
export const wasmConvTuning = { im2colChunkFloats: 16 * 1024 * 1024, filterChunkRows: 4096, scatterAboveWaste: 2 };

// ------------------------------------------------------------------ filter gradient

/**
 * Writes rows of P^T for images [b0, b1) into `out` ([KH*KW*CI, (b1-b0)*OH*OW]), from
 * xt = x transposed to [CI, N, H, W].
 */
function im2colTransposed(xt: Float32Array, out: Float32Array, info: ConvInfo, b0: number, b1: number): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const cols = (b1 - b0) * OH * OW;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      // Output columns j whose input column j*sw + kw - left lies inside [0, W).
      const jFirst = Math.max(0, Math.ceil((left - kw) / sw));
      const jEnd = Math.min(OW, Math.floor((W - 1 + left - kw) / sw) + 1);
      for (let ci = 0; ci < CI; ci++) {
        const row = ((kh * KW + kw) * CI + ci) * cols;
        for (let b = b0; b < b1; b++) {
          const plane = (ci * batchSize + b) * H * W;
          for (let i = 0; i < OH; i++) {
            const dst = row + ((b - b0) * OH + i) * OW;
            const r = i * sh + kh - top;
            if (r < 0 || r >= H || jEnd <= jFirst) {
              for (let j = 0; j < OW; j++) out[dst + j] = 0;
              continue;
            }
            // Plain loops: these runs are short (OW floats), where subarray/fill calls cost more than the copy.
            for (let j = 0; j < jFirst; j++) out[dst + j] = 0;
            for (let j = jEnd; j < OW; j++) out[dst + j] = 0;
            const src = plane + r * W + kw - left;
            if (sw === 1) {
              for (let j = jFirst; j < jEnd; j++) out[dst + j] = xt[src + j] as number;
            } else {
              for (let j = jFirst; j < jEnd; j++) out[dst + j] = xt[src + j * sw] as number;
            }
          }
        }
      }
    }
  }
}

function filterGradient(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const { batchSize: N, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = info;
  const rows = KH * KW * CI;
  const perImage = OH * OW;
  const imagesPerChunk = Math.max(1, Math.min(N, Math.floor(wasmConvTuning.im2colChunkFloats / (rows * perImage)), Math.floor(wasmConvTuning.filterChunkRows / perImage)));
  // A 1x1 filter with stride 1 and no padding: P^T is x^T itself, and a chunk's P^T is one
  // contiguous run of each x^T row.
  const pointwise = KH === 1 && KW === 1 && info.strideHeight === 1 && info.strideWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0 && OH === info.inHeight && OW === info.inWidth;
  const xt = transpose(backend, x, [3, 0, 1, 2]); // [CI, N, H, W]
  if (pointwise && imagesPerChunk === N) {
    // P^T is x^T itself: [CI, N*H*W] times dy [N*H*W, CO].
    const a = run(backend, 'Reshape', { x: xt }, { shape: [1, CI, N * perImage] });
    const b = run(backend, 'Reshape', { x: dy }, { shape: [1, N * perImage, CO] });
    const product = run(backend, 'BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
    free(backend, a, b, xt);
    const out = run(backend, 'Reshape', { x: product }, { shape: info.filterShape });
    free(backend, product);
    return out;
  }
  let sum: tf.TensorInfo | undefined;
  for (let b0 = 0; b0 < N; b0 += imagesPerChunk) {
    const b1 = Math.min(N, b0 + imagesPerChunk);
    const cols = (b1 - b0) * perImage;
    const pt = alloc(backend, [1, rows, cols], 'float32');
    let dyChunk: tf.TensorInfo;
    if (b0 === 0 && b1 === N) {
      dyChunk = run(backend, 'Reshape', { x: dy }, { shape: [1, cols, CO] });
    } else {
      dyChunk = alloc(backend, [1, cols, CO], 'float32');
      view(backend, dyChunk).set(view(backend, dy).subarray(b0 * perImage * CO, b1 * perImage * CO));
    }
    if (pointwise) {
      const from = view(backend, xt);
      const to = view(backend, pt);
      for (let ci = 0; ci < CI; ci++) to.set(from.subarray((ci * N + b0) * perImage, (ci * N + b1) * perImage), ci * cols);
    } else {
      im2colTransposed(view(backend, xt), view(backend, pt), info, b0, b1);
    }
    const product = run(backend, 'BatchMatMul', { a: pt, b: dyChunk }, { transposeA: false, transposeB: false });
    free(backend, pt, dyChunk);
    if (sum === undefined) {
      sum = product;
    } else {
      const s = view(backend, sum);
      const p = view(backend, product);
      for (let k = 0; k < s.length; k++) s[k] = (s[k] as number) + (p[k] as number);
      free(backend, product);
    }
  }
  free(backend, xt);
  const out = run(backend, 'Reshape', { x: sum as tf.TensorInfo }, { shape: info.filterShape });
  free(backend, sum);
  return out;
}

// ------------------------------------------------------------------ input gradient

/** W [KH, KW, CI, CO] -> W' [KH, KW, CO, CI], rotated by 180 degrees: W'[a, c, co, ci] = W[KH-1-a, KW-1-c, ci, co]. */
function rotatedSwappedFilter(backend: WasmBackend, filter: tf.TensorInfo): tf.TensorInfo {
  const [KH, KW, CI, CO] = filter.shape as [number, number, number, number];
  const out = alloc(backend, [KH, KW, CO, CI], 'float32');
  const w = view(backend, filter);
  const o = view(backend, out);
  for (let a = 0; a < KH; a++) {
    for (let c = 0; c < KW; c++) {
      const src = ((KH - 1 - a) * KW + (KW - 1 - c)) * CI * CO;
      const dst = (a * KW + c) * CO * CI;
      // A CI x CO block transposed to CO x CI; the read side walks CO contiguously.
      for (let ci = 0; ci < CI; ci++) {
        const s = src + ci * CO;
        for (let co = 0; co < CO; co++) o[dst + co * CI + ci] = w[s + co] as number;
      }
    }
  }
  return out;
}

/** dy [N, OH, OW, CO] spread to [N, (OH-1)*sh+1, (OW-1)*sw+1, CO] with zeros between. */
function spread(backend: WasmBackend, dy: tf.TensorInfo, sh: number, sw: number): tf.TensorInfo {
  const [N, OH, OW, CO] = dy.shape as [number, number, number, number];
  const H2 = (OH - 1) * sh + 1;
  const W2 = (OW - 1) * sw + 1;
  const out = alloc(backend, [N, H2, W2, CO], 'float32');
  const src = view(backend, dy);
  const dst = view(backend, out);
  dst.fill(0);
  for (let b = 0; b < N; b++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const from = ((b * OH + i) * OW + j) * CO;
        dst.set(src.subarray(from, from + CO), ((b * H2 + i * sh) * W2 + j * sw) * CO);
      }
    }
  }
  return out;
}

/**
 * The input gradient as a product and a scatter, for few input channels (a grey first
 * layer): G = dy W_m, with dy read as [R, CO] and W_m [CO, KH*KW*CI] = W^T, so that
 * G[b, i, j, (kh, kw, ci)] = sum_co dy[b, i, j, co] W[kh, kw, ci, co]; then
 * dx[b, i*s + kh - top, j*s + kw - left, ci] += G[b, i, j, (kh, kw, ci)] for every tap that
 * lands inside the image. The forward-conv formulation would ask XNNPACK for a
 * CI-channel output, which fills 1 of its 8 SIMD output lanes when CI = 1.
 */
function inputGradientByScatter(backend: WasmBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const taps = KH * KW * CI;
  const wm = alloc(backend, [1, CO, taps], 'float32');
  {
    const w = view(backend, filter); // [taps, CO]
    const m = view(backend, wm);
    for (let t = 0; t < taps; t++) for (let co = 0; co < CO; co++) m[co * taps + t] = w[t * CO + co] as number;
  }
  const out = alloc(backend, [N, H, W, CI], 'float32');
  view(backend, out).fill(0);
  // G for a chunk of whole images at a time: G has KH*KW*CI floats per output pixel.
  const imagesPerChunk = Math.max(1, Math.min(N, Math.floor(wasmConvTuning.im2colChunkFloats / (OH * OW * taps))));
  for (let b0 = 0; b0 < N; b0 += imagesPerChunk) {
    const b1 = Math.min(N, b0 + imagesPerChunk);
    const pixels = (b1 - b0) * OH * OW;
    let a: tf.TensorInfo;
    if (b0 === 0 && b1 === N) {
      a = run(backend, 'Reshape', { x: dy }, { shape: [1, pixels, CO] });
    } else {
      a = alloc(backend, [1, pixels, CO], 'float32');
      view(backend, a).set(view(backend, dy).subarray(b0 * OH * OW * CO, b1 * OH * OW * CO));
    }
    const g = run(backend, 'BatchMatMul', { a, b: wm }, { transposeA: false, transposeB: false });
    free(backend, a);
    const gv = view(backend, g);
    const dx = view(backend, out);
    for (let b = b0; b < b1; b++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          const gBase = (((b - b0) * OH + i) * OW + j) * taps;
          for (let kh = 0; kh < KH; kh++) {
            const p = i * sh + kh - top;
            if (p < 0 || p >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const q = j * sw + kw - left;
              if (q < 0 || q >= W) continue;
              const d = ((b * H + p) * W + q) * CI;
              const t = gBase + (kh * KW + kw) * CI;
              for (let ci = 0; ci < CI; ci++) dx[d + ci] = (dx[d + ci] as number) + (gv[t + ci] as number);
            }
          }
        }
      }
    }
    free(backend, g);
  }
  free(backend, wm);
  return out;
}

/** Below this many input channels the input gradient is a product and a scatter (see inputGradientByScatter). */
const SCATTER_BELOW_CHANNELS = 4;

/**
 * How many more products the forward-convolution formulation computes than the gradient has,
 * counting the zero padding around dy but not the zeros a stride spreads between its rows
 * (a cost of both formulations' inputs, not of this one's choice): it evaluates every
 * tap of every input pixel, H*W*KH*KW per channel pair, where OH*OW*sh*sw*KH*KW would cover
 * the spread dy. 1 for 'same' padding; (28*28)/(24*24) = 1.36 for Model A's conv2.
 */
function fullConvolutionWaste(info: ConvInfo): number {
  return (info.inHeight * info.inWidth) / (info.outHeight * info.outWidth * info.strideHeight * info.strideWidth);
}

function inputGradient(backend: WasmBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, info: ConvInfo): tf.TensorInfo | null {
  if (info.inChannels < SCATTER_BELOW_CHANNELS || fullConvolutionWaste(info) > wasmConvTuning.scatterAboveWaste) return inputGradientByScatter(backend, dy, filter, info);
  const { inHeight: H, inWidth: W, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const H2 = (info.outHeight - 1) * sh + 1;
  const W2 = (info.outWidth - 1) * sw + 1;
  const top = KH - 1 - info.padInfo.top;
  const left = KW - 1 - info.padInfo.left;
  const bottom = H - H2 - top + KH - 1;
  const right = W - W2 - left + KW - 1;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  const spreadDy = sh === 1 && sw === 1 ? undefined : spread(backend, dy, sh, sw);
  const rotated = rotatedSwappedFilter(backend, filter);
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const out = run(backend, 'Conv2D', { x: spreadDy ?? dy, filter: rotated }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined });
  free(backend, rotated, spreadDy);
  return out;
}

// ------------------------------------------------------------------ registration

function convInfoOf(inShape: number[], filterShape: number[], attrs: BackpropAttrs): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

export function registerWasmConvGradients(): void {
  registerWasmKernel('Conv2DBackpropFilter', () => (args: KernelArgs) => {
    const backend = wasmBackend(args);
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const attrs = args.attrs as unknown as BackpropAttrs & { filterShape: [number, number, number, number] };
    const info = attrs.dataFormat === 'NCHW' ? undefined : convInfoOf(x.shape, attrs.filterShape, attrs);
    if (info === undefined || x.dtype !== 'float32' || dy.dtype !== 'float32' || info.padInfo.top < 0 || info.padInfo.left < 0) {
      return cpuFilterGradient(backend, args);
    }
    return filterGradient(backend, x, dy, info);
  });

  registerWasmKernel('Conv2DBackpropInput', (original) => (args: KernelArgs) => {
    const backend = wasmBackend(args);
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as BackpropAttrs & { inputShape: [number, number, number, number] };
    if (attrs.dataFormat !== 'NCHW' && dy.dtype === 'float32' && filter.dtype === 'float32') {
      const out = inputGradient(backend, dy, filter, convInfoOf(attrs.inputShape, filter.shape, attrs));
      if (out !== null) return out;
    }
    if (original === undefined) throw new Error('wasm Conv2DBackpropInput: no fallback for this configuration');
    return original.kernelFunc(args);
  });
}

/**
 * The filter gradient for what the XNNPACK path does not take (NCHW): tfjs' cpu kernel on
 * copied data, through the lab's NHWC loop or, for NCHW, tfjs' own cpu kernel run on
 * transposed inputs.
 */
function cpuFilterGradient(backend: WasmBackend, args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as BackpropAttrs & { filterShape: [number, number, number, number] };
  const nchw = attrs.dataFormat === 'NCHW';
  // NCHW -> NHWC copies, so the NHWC loop (the same math as tfjs' cpu kernel) applies.
  const xs = nchw ? transpose(backend, x, [0, 2, 3, 1]) : x;
  const dys = nchw ? transpose(backend, dy, [0, 2, 3, 1]) : dy;
  const info = convInfoOf(xs.shape, attrs.filterShape, attrs);
  const values = conv2dBackpropFilterNhwc(Float32Array.from(view(backend, xs)), Float32Array.from(view(backend, dys)), info);
  if (nchw) free(backend, xs, dys);
  const out = alloc(backend, attrs.filterShape, 'float32');
  view(backend, out).set(values);
  return out;
}
