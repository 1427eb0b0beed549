// Types of batch-kernel.js (plain JavaScript so a worker_thread loads it natively).

/** Offset (same in x and y) of the centre crop: floor((storedSize - inputSize) / 2). */
export function centreOffset(storedSize: number, inputSize: number): number;

/**
 * Writes the `inputSize` x `inputSize` crop at column `x0`, row `y0` of stored image
 * `imageIndex` (mirrored left-right when `flip`) into `out` from `outOffset`, as
 * float32 in [0, 1], row-major. No allocation. Throws RangeError when the image,
 * the crop or the output range is out of bounds.
 */
export function cropInto(
  pixels: Uint8Array,
  imageIndex: number,
  storedSize: number,
  inputSize: number,
  x0: number,
  y0: number,
  flip: boolean,
  out: Float32Array,
  outOffset: number,
): void;

export interface AssembledBatch {
  /** B * inputSize * inputSize floats in [0, 1], NHWC with C = 1. */
  xs: Float32Array;
  /** B identity labels. */
  ys: Int32Array;
}

/**
 * Assembles one batch. `crops` holds (x0, y0, flip 0|1) per image, or null for the
 * evaluation crop (centre, no flip). Writes into `xs` / `ys` when given.
 */
export function assembleBatch(
  pixels: Uint8Array,
  storedSize: number,
  inputSize: number,
  images: Int32Array,
  labels: Int32Array,
  crops: Int32Array | null,
  xs?: Float32Array,
  ys?: Int32Array,
): AssembledBatch;
