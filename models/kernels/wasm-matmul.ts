// BatchMatMul with transposed operands for the wasm backend.
//
// The package's kernel sends a product to XNNPACK (its fully connected operator) only when
// neither operand is transposed and both have batch 1; anything else runs a scalar
// triple loop in C++. A dense layer's gradients are exactly those transposed products:
// for y = a b, da = dy b^T (transposeB) and db = a^T dy (transposeA).
//
// XNNPACK treats the second operand as weights: it packs all K x N of it whenever the
// operator is created, and the package creates one per new tensor, so every step. Packing
// (it reads 8 columns of every row per pass) costs far more than a product with few rows:
// da = dy W^T for a 2,048 -> 512 dense layer at batch 16 is 17M multiply-adds behind 1M
// floats of packing, and the packing takes many times the product (figures: bench/NOTES.md,
// "Figures behind design choices"). So, for batch 1:
//   - a b^T with fewer rows in a than in b (M < N): computed as (b a^T)^T. b, stored as
//     [N, K], is the first operand as it lies in memory; a^T [K, M] (small) is the packed one;
//     the [N, M] result is transposed back: out[m, n] = sum_k b[n, k] a[m, k], the same sums.
//   - otherwise a transposed operand is first materialised with the wasm Transpose kernel
//     (op(a) = a^T as a new [M, K] matrix) and the product goes to the fast path:
//     out[m, n] = sum_k op(a)[m, k] op(b)[k, n].
// Batched products (batch > 1) keep the package's kernel, which is correct for them.
import * as tf from '@tensorflow/tfjs';
import { free, registerWasmKernel, run, wasmBackend, type KernelArgs, type WasmBackend } from './wasm-heap';

function batchOf(shape: number[]): number {
  return shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

/** The product of two [r, c] matrices through the package's fast path (no transposes, batch 1): returns [1, M, N]. */
function plainProduct(original: tf.KernelConfig, args: KernelArgs, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return original.kernelFunc({ ...args, inputs: { a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
}

/** a b^T as (b a^T)^T, for a [M, K] and b [N, K] with M < N; returns [M, N]. */
function productBySwapping(original: tf.KernelConfig, args: KernelArgs, backend: WasmBackend, a2: tf.TensorInfo, b2: tf.TensorInfo): tf.TensorInfo {
  const [M] = a2.shape as [number, number];
  const [N] = b2.shape as [number, number];
  const at = run(backend, 'Transpose', { x: a2 }, { perm: [1, 0] }); // [K, M]
  const swapped = plainProduct(original, args, b2, at); // [1, N, M]
  const flat = run(backend, 'Reshape', { x: swapped }, { shape: [N, M] });
  const out = run(backend, 'Transpose', { x: flat }, { perm: [1, 0] }); // [M, N]
  free(backend, at, swapped, flat);
  return out;
}

export function registerWasmMatMul(): void {
  registerWasmKernel('BatchMatMul', (original) => {
    if (original === undefined) throw new Error('internal: the wasm backend has no BatchMatMul kernel');
    return (args: KernelArgs) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if ((!transposeA && !transposeB) || batchOf(a.shape) !== 1 || batchOf(b.shape) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
        return original.kernelFunc(args);
      }
      const backend = wasmBackend(args);
      const [ar, ac] = a.shape.slice(-2) as [number, number];
      const [br, bc] = b.shape.slice(-2) as [number, number];
      const a2 = run(backend, 'Reshape', { x: a }, { shape: [ar, ac] });
      const b2 = run(backend, 'Reshape', { x: b }, { shape: [br, bc] });
      let product: tf.TensorInfo;
      if (!transposeA && transposeB && ar < br) {
        product = productBySwapping(original, args, backend, a2, b2);
      } else {
        const at = transposeA ? run(backend, 'Transpose', { x: a2 }, { perm: [1, 0] }) : a2;
        const bt = transposeB ? run(backend, 'Transpose', { x: b2 }, { perm: [1, 0] }) : b2;
        product = plainProduct(original, args, at, bt);
        if (transposeA) free(backend, at);
        if (transposeB) free(backend, bt);
      }
      free(backend, a2, b2);
      // The package's kernel returns [1, M, N]; keep the rank the op asked for.
      const rank = Math.max(a.shape.length, b.shape.length);
      const shape = [...Array.from({ length: rank - 2 }, () => 1), product.shape[product.shape.length - 2] as number, product.shape[product.shape.length - 1] as number];
      const out = run(backend, 'Reshape', { x: product }, { shape });
      free(backend, product);
      return out;
    };
  });
}
