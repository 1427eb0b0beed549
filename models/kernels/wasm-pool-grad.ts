// MaxPoolGrad for the wasm backend. The package's kernel (tfjs-backend-wasm 4.22,
// MaxPoolGrad.cc) starts each window's running maximum at numeric_limits<float>::min(),
// the smallest *positive* float, not the lowest one: in a window whose values are all
// negative or zero (MFM, maxout, tanh, leaky ReLU outputs) no value beats it, and the
// gradient goes to flat position 0 of the whole tensor instead of the window's maximum.
// It also breaks ties towards the last maximum, where tfjs' reference takes the first.
//
// Math, as tfjs' cpu kernel (maxPoolPositions + MaxPoolGrad): for every output position
// (b, i, j, c), the window rows r in [i*sh - top, i*sh - top + fh) and columns
// q in [j*sw - left, j*sw - left + fw), clipped to the input, are scanned row by row; the
// first value strictly greater than every earlier one (starting from -Infinity, so NaN is
// never chosen and an all -Infinity or all-NaN window has no maximum) is the window's
// argmax, and dx[b, argmax, c] += dy[b, i, j, c]. Every other dx is 0.
//
// Loop order: per window, its positions are listed once; then for each channel the
// positions are scanned with the running maximum held in registers, without branches on
// the data (on activations, which element wins is a coin toss, and mispredicted branches
// cost more than the loads). Each input value is read once per window that covers it.
import * as tf from '@tensorflow/tfjs';
import { alloc, registerWasmKernel, view, wasmBackend, type KernelArgs } from './wasm-heap';

/** k(-Infinity): the bits 0xff800000 with the magnitude flipped, as an int32. */
const NEG_INF_KEY = (0xff800000 | 0) ^ 0x7fffffff;

const flag = (condition: boolean): number => (condition as unknown as number) | 0;

export function registerWasmPoolGradients(): void {
  registerWasmKernel('MaxPoolGrad', (original) => (args: KernelArgs) => {
    const backend = wasmBackend(args);
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (input.dtype !== 'float32' || dy.dtype !== 'float32') {
      if (original === undefined) throw new Error('wasm MaxPoolGrad: only float32 is supported');
      return original.kernelFunc(args);
    }
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const out = alloc(backend, input.shape, 'float32');
    const x = view(backend, input);
    const xi = new Int32Array(x.buffer, x.byteOffset, x.length);
    const g = view(backend, dy);
    const dx = view(backend, out);
    dx.fill(0);
    const bases = new Int32Array(fh * fw);
    for (let b = 0; b < N; b++) {
      for (let i = 0; i < OH; i++) {
        const r0 = Math.max(0, i * sh - top);
        const r1 = Math.min(H, i * sh - top + fh);
        for (let j = 0; j < OW; j++) {
          const q0 = Math.max(0, j * sw - left);
          const q1 = Math.min(W, j * sw - left + fw);
          // The window's positions in scan order (row by row), as offsets of their channel 0.
          let count = 0;
          for (let r = r0; r < r1; r++) for (let q = q0; q < q1; q++) bases[count++] = ((b * H + r) * W + q) * C;
          const dyBase = ((b * OH + i) * OW + j) * C;
          for (let c = 0; c < C; c++) {
            // Running maximum as an int32 key (see wasm-elementwise.ts: k(v) orders like v),
            // starting at k(-Infinity); a value replaces it only when strictly greater and not
            // NaN. Branch-free: which element wins is data, not control flow.
            let best = NEG_INF_KEY;
            let at = -1;
            for (let k = 0; k < count; k++) {
              const pos = (bases[k] as number) + c;
              const v = xi[pos] as number;
              const key = v ^ ((v >> 31) & 0x7fffffff);
              const take = flag(key > best) & flag((v & 0x7fffffff) <= 0x7f800000);
              best = best ^ ((key ^ best) & -take);
              at = at ^ ((pos ^ at) & -take);
            }
            if (at >= 0) dx[at] = (dx[at] as number) + (g[dyBase + c] as number);
          }
        }
      }
    }
    return out;
  });
}
