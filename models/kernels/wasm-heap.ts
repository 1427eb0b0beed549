// Access to @tensorflow/tfjs-backend-wasm's memory and kernels from the lab's own
// wasm kernels (wasm-*.ts beside this file).
//
// The wasm backend keeps every tensor in the WebAssembly heap: `dataIdMap` maps a
// tensor's dataId to { id, memoryOffset, shape, dtype }, `makeOutput` mallocs a new
// tensor, `typedArrayFromHeap` is a view of a tensor's bytes. Two rules follow:
//   - A view dies when the heap grows (any malloc may grow it and replace the buffer):
//     allocate every tensor a kernel needs, call every other kernel it needs, and only
//     then take views.
//   - XNNPACK operators are cached by the id of their weight tensor, so a tensor's bytes
//     must never change once written: kernels write only into tensors they just made.
// Temporary tensors made here are freed with `free` (backend.disposeData), which also
// drops the XNNPACK operators cached on them.
import * as tf from '@tensorflow/tfjs';

export type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The wasm heap could not give a tensor its memory: the batch, input or model is too large for 4 GiB. */
export class WasmHeapFullError extends Error {
  override readonly name = 'WasmHeapFullError';
}

export interface WasmBackend {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number; shape: number[]; dtype: string } | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * A new tensor in the heap. The package's allocation does not check malloc: once the 4 GiB
 * wasm32 heap is full it registers the tensor at address 0 and kernels overwrite the heap's
 * start. The lab's kernels check, and say so.
 */
export function alloc(backend: WasmBackend, shape: number[], dtype: 'float32' | 'int32' | 'bool'): tf.TensorInfo {
  const out = backend.makeOutput(shape, dtype);
  if (tf.util.sizeFromShape(shape) > 0 && backend.dataIdMap.get(out.dataId)?.memoryOffset === 0) {
    backend.disposeData(out.dataId, true);
    throw new WasmHeapFullError(`the wasm heap is full (4 GiB, the most WebAssembly's 32-bit memory can address): no room for a [${shape.join(', ')}] ${dtype} tensor; use a smaller batch or input size`);
  }
  return out;
}

export function wasmBackend(args: KernelArgs): WasmBackend {
  return args.backend as unknown as WasmBackend;
}

/** A float32 view of a tensor in the heap; valid until the next allocation. */
export function view(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`internal: expected a float32 tensor, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function free(backend: WasmBackend, ...infos: Array<tf.TensorInfo | undefined>): void {
  for (const info of infos) if (info !== undefined) backend.disposeData(info.dataId);
}

/** The wasm backend's own kernel `name` (registered by the package, or our replacement). */
export function wasmKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`internal: the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc;
}

/** Runs another wasm kernel that returns one tensor. */
export function run(backend: WasmBackend, name: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown> = {}): tf.TensorInfo {
  const out = wasmKernel(name)({ inputs, backend: backend as unknown as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`internal: ${name} returned ${out.length} tensors`);
  return out;
}

export function transpose(backend: WasmBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return run(backend, 'Transpose', { x }, { perm });
}

/** A new tensor sharing nothing with `x`: same values, another shape of the same size. */
export function reshapeCopy(backend: WasmBackend, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  const out = alloc(backend, shape, 'float32');
  view(backend, out).set(view(backend, x));
  return out;
}

// ------------------------------------------------------------------ registration

/** Marks the kernel functions registered by the lab, so a second install in one process is a no-op. */
const MARK = Symbol.for('face-cnn-lab.wasm-kernel');

export function isLabKernel(name: string): boolean {
  const kernel = tf.getKernel(name, 'wasm');
  return kernel !== undefined && (kernel.kernelFunc as unknown as Record<symbol, unknown>)[MARK] === true;
}

/**
 * Registers `kernelFunc` as the wasm backend's `name`, replacing (and returning) the
 * package's own kernel if there is one. Registering twice is harmless: the second call
 * finds ours in place and does nothing (returning undefined for `original`).
 */
export function registerWasmKernel(
  name: string,
  make: (original: tf.KernelConfig | undefined) => tf.KernelFunc,
): void {
  if (isLabKernel(name)) return;
  const original = tf.getKernel(name, 'wasm');
  const kernelFunc = make(original);
  Object.defineProperty(kernelFunc, MARK, { value: true });
  if (original !== undefined) tf.unregisterKernel(name, 'wasm');
  // The package's setup (a cwrap of its C++ entry point) must still run if the backend
  // initialises after this: keep it on the replacement, which may delegate to the original.
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, ...(original?.setupFunc ? { setupFunc: original.setupFunc } : {}) });
}
