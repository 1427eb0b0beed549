// BatchMatMul with transposed operands for the wasm backend.
//
// The package's kernel sends a product to XNNPACK (its fully connected operator) only when
// neither operand is transposed and both have batch 1; anything else runs a scalar
// triple loop in C++. A dense layer's gradients are exactly those transposed products:
// for y = a b, da = dy b^T (transposeB) and db = a^T dy (transposeA). Here, for batch 1,
// a transposed operand is first materialised with the wasm Transpose kernel
// (op(a) = a^T as a new [M, K] matrix) and the product goes to the fast path:
//   out[m, n] = sum_k op(a)[m, k] op(b)[k, n], the same sums, now in XNNPACK.
// Batched products (batch > 1) keep the package's kernel, which is correct for them.
import * as tf from '@tensorflow/tfjs';
import { free, registerWasmKernel, run, wasmBackend, type KernelArgs } from './wasm-heap';

function batchOf(shape: number[]): number {
  return shape.slice(0, -2).reduce((p, d) => p * d, 1);
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
      const at = transposeA ? run(backend, 'Transpose', { x: a2 }, { perm: [1, 0] }) : a2;
      const bt = transposeB ? run(backend, 'Transpose', { x: b2 }, { perm: [1, 0] }) : b2;
      const out = original.kernelFunc({ ...args, inputs: { a: at, b: bt }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      free(backend, a2, b2);
      if (transposeA) free(backend, at);
      if (transposeB) free(backend, bt);
      // The package's kernel returns [1, M, N]; keep the rank the op asked for.
      const rank = Math.max(a.shape.length, b.shape.length);
      const shape = [...Array.from({ length: rank - 2 }, () => 1), out.shape[out.shape.length - 2] as number, out.shape[out.shape.length - 1] as number];
      return { ...out, shape };
    };
  });
}
