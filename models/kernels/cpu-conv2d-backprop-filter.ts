// A faster filter gradient for the pure-JS `cpu` backend. tfjs 4.22's own kernel
// reads every element through TensorBuffer.get with the batch and output position
// innermost, so one training step of a small CNN spends most of its time there
// (figures: bench/NOTES.md, "v0.2.0: training throughput").
//
// The math is the same: dW[kh, kw, ci, co] = sum over (b, y, x) of
//   X[b, y*sh + kh - top, x*sw + kw - left, ci] * dY[b, y, x, co]
// (NHWC, dilation 1). The loops run over (b, y, x, kh, kw, ci) outside and co
// inside, so the innermost loop walks dY's channels and dW's last axis, both
// contiguous; every input value is loaded once per filter tap. Accumulation is in
// float64 (a Float64Array) and rounded to float32 at the end, which is at least as
// accurate as tfjs' float32 accumulation.
//
// Only channels-last is handled here; anything else goes to tfjs' own kernel.
import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelFunc>[0];
interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return false;
  return true;
}

export function conv2dBackpropFilterNhwc(
  x: Float32Array,
  dy: Float32Array,
  info: ReturnType<typeof tf.backend_util.computeConv2DInfo>,
): Float32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dw = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
  // Skipping x === 0 (ReLU outputs often are) saves the whole channel loop for that value
  // (figures: bench/NOTES.md, "Figures behind design choices"). It is exact only
  // while every dy is finite: 0 x NaN and 0 x Inf are NaN, as tfjs' kernel computes them, and a
  // NaN hidden here would slip past the training loop's NaN guard. One pass over dy decides.
  const skipZeros = allFinite(dy);
  for (let b = 0; b < batchSize; b++) {
    for (let y = 0; y < outHeight; y++) {
      for (let xo = 0; xo < outWidth; xo++) {
        const dyBase = ((b * outHeight + y) * outWidth + xo) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const xr = y * strideHeight + kh - top;
          if (xr < 0 || xr >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const xc = xo * strideWidth + kw - left;
            if (xc < 0 || xc >= inWidth) continue;
            const xBase = ((b * inHeight + xr) * inWidth + xc) * inChannels;
            const wBase = (kh * filterWidth + kw) * inChannels * outChannels;
            for (let ci = 0; ci < inChannels; ci++) {
              const xv = x[xBase + ci] as number;
              if (xv === 0 && skipZeros) continue; // adds exactly +-0 when dy is finite
              const row = wBase + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dw[row + co] = (dw[row + co] as number) + xv * (dy[dyBase + co] as number);
            }
          }
        }
      }
    }
  }
  return Float32Array.from(dw);
}

let installed = false;

/** Registers the faster kernel for `cpu` (once); tfjs' own stays as the fallback for NCHW. */
export function installCpuConv2dBackpropFilter(): void {
  if (installed) return;
  const original = tf.getKernel('Conv2DBackpropFilter', 'cpu');
  if (!original) return; // the cpu backend is not registered in this build
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'cpu',
    kernelFunc: (args: KernelArgs) => {
      const { inputs, attrs } = args;
      const backend = args.backend as unknown as CpuBackend;
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
        strides: [number, number] | number;
        pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        filterShape: [number, number, number, number];
      };
      if (dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32') return original.kernelFunc(args);
      const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
      const values = conv2dBackpropFilterNhwc(backend.data.get(x.dataId).values, backend.data.get(dy.dataId).values, info);
      return backend.makeTensorInfo(info.filterShape, 'float32', values);
    },
  });
  installed = true;
}
