// The kernels the lab adds to (or replaces in) @tensorflow/tfjs-backend-wasm 4.22 so that
// a training step of every model and activation in models/ runs on it at XNNPACK speed.
// Each module beside this one holds the math of its kernels in its header:
//   wasm-conv2d-backprop.ts  Conv2DBackpropFilter (missing in the package), Conv2DBackpropInput
//                            (the package's is a scalar loop): both as XNNPACK products
//   wasm-matmul.ts           BatchMatMul with a transposed operand (a dense layer's gradients)
//   wasm-pool-grad.ts        MaxPoolGrad (the package's sends the gradient of an all-negative
//                            window to the tensor's first element)
//   wasm-elementwise.ts      Maximum, Minimum, comparisons, bool->float Cast, last-axis SplitV and
//                            Concat, Sum over leading axes: MFM/maxout and bias gradients, which
//                            the package runs through slow generic loops
//                            Identity shares memory instead of copying (the engine clones every
//                            tensor a gradient saves)
//   max-pieces.ts            LabMaxPieces and LabMaxPiecesGrad: new kernels (not replacements), maxout
//                            and MFM forward and backward in one pass each, for wasm and cpu. They
//                            register when the module is imported (the Maxout and MFM layers import
//                            it), not through installWasmTrainingKernels, and are not in
//                            LAB_WASM_KERNELS. The element-wise kernels above still serve the bias
//                            gradients and any other max/min/split/concat.
// Everything else a step runs is the package's own kernel (see models/test/wasm-kernels.test.ts,
// which runs a step of every architecture with every activation on wasm against cpu).
import { registerWasmConvGradients } from './wasm-conv2d-backprop';
import { registerWasmElementwise } from './wasm-elementwise';
import { isLabKernel } from './wasm-heap';
import { registerWasmMatMul } from './wasm-matmul';
import { registerWasmPoolGradients } from './wasm-pool-grad';

/** Kernels the lab registers for the 'wasm' backend. */
export const LAB_WASM_KERNELS: readonly string[] = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'MaxPoolGrad',
  'Maximum', 'Minimum', 'GreaterEqual', 'Greater', 'Less', 'LessEqual', 'Cast', 'SplitV', 'Concat', 'Sum', 'Identity',
];

/**
 * Registers the lab's wasm kernels. Harmless to call again (in one process, or from a second
 * copy of this module): a kernel already ours is left alone. Works before or after the wasm
 * backend initialises.
 */
export function installWasmTrainingKernels(): void {
  registerWasmConvGradients();
  registerWasmMatMul();
  registerWasmPoolGradients();
  registerWasmElementwise();
}

/** True when every lab kernel is registered for 'wasm'. */
export function wasmTrainingKernelsInstalled(): boolean {
  return LAB_WASM_KERNELS.every(isLabKernel);
}
