// The filter gradient (Conv2DBackpropFilter) for the 'webgpu' backend, replacing
// tfjs-backend-webgpu 4.22's Conv2DDerFilterProgram. That one runs one thread per filter weight,
// each looping over batch x outHeight x outWidth: Light CNN's first layer (5x5x1x96) gets 2,400
// threads of ~1M multiply-adds each, and the GPU sits mostly idle.
//
// Here it is an implicit GEMM, dW[M, N] = sum over k of X[k, M] * dY[k, N], with
//   M = filterHeight * filterWidth * inChannels (one filter tap and input channel),
//   N = outChannels, k = (batch, outY, outX): the reduction,
//   X[k, m] = x[b, outY*strideH + kh - padTop, outX*strideW + kw - padLeft, ci] (0 in the padding),
//   dY[k, n] = dy viewed as a [K, N] matrix (NHWC makes it contiguous).
// A workgroup of 8x8 threads computes a 32x32 tile of dW, 4x4 values per thread, through
// 32-deep slices of X and dY staged in workgroup memory (8 KiB). The reduction is split over
// the dispatch's z axis (split-K) so that a small dW still yields enough workgroups to fill a
// GPU; each split writes its partial tile to a [splits, M*N] buffer, and a second program sums
// the splits in a fixed order, so results are deterministic (no atomics). With one split the
// first program writes dW directly. 64 invocations, 8 KiB of workgroup memory and at most 3
// storage buffers: within WebGPU's core defaults and the compatibility level's limits.
//
// On Mesa's llvmpipe (a software adapter: an indication, not a GPU figure) it took a fraction
// of tfjs-webgpu's time for Light CNN's first layer (figures: bench/NOTES.md, "Figures behind
// design choices").
//
// NHWC and float32 only (the lab's only format and type); other inputs throw. The op has no
// dilations attribute: tfjs' conv2d gradient refuses dilations > 1 before reaching it.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

const KERNEL = 'Conv2DBackpropFilter';
const TILE_M = 32;
const TILE_N = 32;
const TILE_K = 32;
const WORKGROUP: [number, number, number] = [8, 8, 1];
/** Enough workgroups to keep a large GPU busy (e.g. 132 SMs x several resident workgroups). */
const TARGET_WORKGROUPS = 1024;
/** Each split reduces at least this many k, so its partial tile's write is amortised. */
const MIN_K_PER_SPLIT = 8 * TILE_K;
/** Cap on the partial sums buffer, whatever the device allows. */
const MAX_PARTIAL_BYTES = 64 * 2 ** 20;

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

export interface SplitPlan {
  /** How many workgroups share the reduction of one output tile (1: no second pass). */
  splits: number;
  /** k values per split, a multiple of TILE_K. */
  kPerSplit: number;
}

/** How the reduction over k = batch * outHeight * outWidth is split, for an M x N output. */
export function splitPlan(m: number, n: number, k: number, limits: { maxStorageBufferBindingSize: number; maxComputeWorkgroupsPerDimension: number }): SplitPlan {
  const tiles = Math.ceil(m / TILE_M) * Math.ceil(n / TILE_N);
  const kTiles = Math.max(1, Math.ceil(k / TILE_K));
  const maxByBytes = Math.floor(Math.min(MAX_PARTIAL_BYTES, limits.maxStorageBufferBindingSize) / (m * n * 4));
  const wanted = Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(k / MIN_K_PER_SPLIT), maxByBytes, limits.maxComputeWorkgroupsPerDimension);
  const splits = Math.max(1, wanted);
  const kPerSplit = Math.ceil(kTiles / splits) * TILE_K;
  // Rounding kPerSplit up can leave the last splits empty: drop them.
  return { splits: Math.ceil(k / kPerSplit), kPerSplit };
}

/** Pass 1: one [TILE_M x TILE_N] tile of dW per workgroup (x, y), over one range of k (z). */
class FilterGradGemmProgram implements WebGPUProgram {
  variableNames = ['x', 'dy'];
  uniforms = 'pads : vec2<i32>, strides : vec2<i32>, filterWidth : i32, dimM : i32, kPerSplit : i32,';
  workgroupSize = WORKGROUP;
  outputShape: number[];
  // Not flat, so the shader's entry calls main() with no index; the coordinates come from workgroupId.
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  shaderKey = 'labConv2DDerFilterGemm';

  constructor(outputShape: number[], m: number, n: number, splits: number) {
    this.outputShape = outputShape;
    this.dispatch = [Math.ceil(n / TILE_N), Math.ceil(m / TILE_M), splits];
  }

  getUserCode(): string {
    const loadsPerThread = (TILE_K * TILE_M) / (WORKGROUP[0] * WORKGROUP[1]);
    const rowsPerPass = (WORKGROUP[0] * WORKGROUP[1]) / TILE_M;
    return `
      var<workgroup> tileX : array<f32, ${TILE_K * TILE_M}>;
      var<workgroup> tileDy : array<f32, ${TILE_K * TILE_N}>;

      fn main() {
        let inChannels = uniforms.xShape.w;
        let inHeight = uniforms.xShape.y;
        let inWidth = uniforms.xShape.z;
        let outHeight = uniforms.dyShape.y;
        let outWidth = uniforms.dyShape.z;
        let dimN = uniforms.dyShape.w;
        let dimK = uniforms.dyShape.x * outHeight * outWidth;
        let dimM = uniforms.dimM;

        let tileRow0 = i32(workgroupId.y) * ${TILE_M};
        let tileCol0 = i32(workgroupId.x) * ${TILE_N};
        let splitId = i32(workgroupId.z);
        let kStart = splitId * uniforms.kPerSplit;
        let kEnd = min(kStart + uniforms.kPerSplit, dimK);

        // What this thread stages: one column of each tile (m for X, n for dY), every
        // ${rowsPerPass}th row of k. Its filter tap (kh, kw, ci) is fixed, so decode it once.
        let li = i32(localIndex);
        let loadCol = li % ${TILE_M};
        let loadRow = li / ${TILE_M};
        let mLoad = tileRow0 + loadCol;
        let ci = mLoad % inChannels;
        let tap = mLoad / inChannels;
        let kw = tap % uniforms.filterWidth;
        let kh = tap / uniforms.filterWidth;
        let nLoad = tileCol0 + loadCol;

        // What this thread computes: rows ty*4.. of the tile, columns tx*4.. .
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        var acc : array<vec4<f32>, 4>;
        for (var i = 0; i < 4; i++) { acc[i] = vec4<f32>(0.0); }

        // kPerSplit is a multiple of ${TILE_K}; the count is uniform so the barriers are too.
        let numTiles = uniforms.kPerSplit / ${TILE_K};
        for (var t = 0; t < numTiles; t++) {
          let k0 = kStart + t * ${TILE_K};
          for (var i = 0; i < ${loadsPerThread}; i++) {
            let row = loadRow + i * ${rowsPerPass};
            let k = k0 + row;
            var xValue = 0.0;
            var dyValue = 0.0;
            if (k < kEnd) {
              let outX = k % outWidth;
              let rest = k / outWidth;
              let outY = rest % outHeight;
              let b = rest / outHeight;
              let inY = outY * uniforms.strides.x + kh - uniforms.pads.x;
              let inX = outX * uniforms.strides.y + kw - uniforms.pads.y;
              if (mLoad < dimM && inY >= 0 && inY < inHeight && inX >= 0 && inX < inWidth) {
                xValue = x[b * uniforms.xShapeStrides.x + inY * uniforms.xShapeStrides.y + inX * uniforms.xShapeStrides.z + ci];
              }
              if (nLoad < dimN) {
                dyValue = dy[k * dimN + nLoad];
              }
            }
            tileX[row * ${TILE_M} + loadCol] = xValue;
            tileDy[row * ${TILE_N} + loadCol] = dyValue;
          }
          workgroupBarrier();

          for (var kk = 0; kk < ${TILE_K}; kk++) {
            let a = vec4<f32>(tileX[kk * ${TILE_M} + ty * 4], tileX[kk * ${TILE_M} + ty * 4 + 1],
                              tileX[kk * ${TILE_M} + ty * 4 + 2], tileX[kk * ${TILE_M} + ty * 4 + 3]);
            let bv = vec4<f32>(tileDy[kk * ${TILE_N} + tx * 4], tileDy[kk * ${TILE_N} + tx * 4 + 1],
                               tileDy[kk * ${TILE_N} + tx * 4 + 2], tileDy[kk * ${TILE_N} + tx * 4 + 3]);
            acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
            acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
            acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
            acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
          }
          workgroupBarrier();
        }

        // dW is [M, N] row-major (filterShape flattened); split s writes its own M*N block.
        let base = splitId * dimM * dimN;
        for (var i = 0; i < 4; i++) {
          let row = tileRow0 + ty * 4 + i;
          if (row < dimM) {
            for (var j = 0; j < 4; j++) {
              let col = tileCol0 + tx * 4 + j;
              if (col < dimN) {
                result[base + row * dimN + col] = acc[i][j];
              }
            }
          }
        }
      }
    `;
  }
}

/** Pass 2: dW[i] = sum over splits of partials[s, i], in split order. */
class SumSplitsProgram implements WebGPUProgram {
  variableNames = ['partials'];
  uniforms = 'numSplits : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey = 'labConv2DDerFilterSumSplits';

  constructor(filterShape: number[]) {
    this.outputShape = filterShape;
    this.dispatchLayout = { x: filterShape.map((_, i) => i) };
    // The backend folds a too-wide flat dispatch into 2-D itself (reshapeDispatch).
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(filterShape) / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var sum = 0.0;
          for (var s = 0; s < uniforms.numSplits; s++) {
            sum = sum + partials[s * uniforms.size + index];
          }
          setOutputAtIndex(index, sum);
        }
      }
    `;
  }
}

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** The kernelFunc registered for Conv2DBackpropFilter on 'webgpu'. */
export function webGpuConv2dBackpropFilter(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as unknown as WebGPUBackend;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Attrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${KERNEL} on webgpu (the lab's kernel): data format ${dataFormat} is not supported, only NHWC`);
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`${KERNEL} on webgpu (the lab's kernel): only float32 is supported, got x ${x.dtype} and dy ${dy.dtype}`);
  }
  if (x.shape.length !== 4) throw new Error(`${KERNEL} on webgpu: x must be rank 4 (NHWC), got shape [${x.shape.join(', ')}]`);
  const info: ConvInfo = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  if (!tf.util.arraysEqual(dy.shape, info.outShape)) {
    throw new Error(`${KERNEL} on webgpu: dy has shape [${dy.shape.join(', ')}], the convolution's output is [${info.outShape.join(', ')}]`);
  }
  if (filterShape[2] !== info.inChannels) {
    throw new Error(`${KERNEL} on webgpu: the filter has ${filterShape[2]} input channels, x has ${info.inChannels}`);
  }

  const m = info.filterHeight * info.filterWidth * info.inChannels;
  const n = info.outChannels;
  const k = info.batchSize * info.outHeight * info.outWidth;
  if (m * n === 0 || k === 0) return backend.makeTensorInfo(info.filterShape, 'float32', new Float32Array(m * n));

  const plan = splitPlan(m, n, k, backend.device.limits);
  const uniforms = [
    { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
    { type: 'int32', data: [info.strideHeight, info.strideWidth] },
    { type: 'int32', data: [info.filterWidth] },
    { type: 'int32', data: [m] },
    { type: 'int32', data: [plan.kPerSplit] },
  ];
  if (plan.splits === 1) {
    return backend.runWebGPUProgram(new FilterGradGemmProgram(info.filterShape, m, n, 1), [x, dy], 'float32', uniforms);
  }
  const partials = backend.runWebGPUProgram(new FilterGradGemmProgram([plan.splits, m * n], m, n, plan.splits), [x, dy], 'float32', uniforms);
  try {
    return backend.runWebGPUProgram(new SumSplitsProgram(info.filterShape), [partials], 'float32', [{ type: 'int32', data: [plan.splits] }]);
  } finally {
    backend.disposeData(partials.dataId);
  }
}

let installed = false;

/**
 * Registers the lab's kernel for Conv2DBackpropFilter on 'webgpu', replacing tfjs-webgpu's.
 * Call it after tfjs-backend-webgpu is loaded (importing it registers its own kernel over
 * whatever is there); calling it again re-registers only if another kernel took the slot.
 */
export function installWebGpuConv2dBackpropFilter(): void {
  const current = tf.getKernel(KERNEL, 'webgpu');
  if (installed && current?.kernelFunc === webGpuConv2dBackpropFilter) return;
  if (current !== undefined) tf.unregisterKernel(KERNEL, 'webgpu');
  tf.registerKernel({ kernelName: KERNEL, backendName: 'webgpu', kernelFunc: webGpuConv2dBackpropFilter as unknown as tf.KernelFunc });
  installed = true;
}
