// Batch assembly: stored uint8 faces -> float32 NHWC crops in [0, 1].
//
// Plain ESM JavaScript on purpose: `batch-worker.js` loads this file natively in a
// worker_thread, where no TypeScript loader runs. Types live in batch-kernel.d.ts.
// The in-thread path (datasets/batches.ts, datasets/preprocess.ts) imports the same
// file, so there is exactly one implementation and both modes give identical bytes.
//
// The kernel draws no random numbers: the caller decides every crop offset and flip
// (from the seeded Rng in datasets/random.ts) and passes them in `crops`.
//
// Packaging: the app's bundler must ship this file and batch-worker.js next to the
// trainer bundle (see the comment at the top of datasets/batches.ts).

/** uint8 -> float32 in [0, 1]; a table so both modes round identically (= fround(v / 255)). */
const SCALE = new Float32Array(256);
for (let v = 0; v < 256; v++) SCALE[v] = v / 255;

/**
 * Offset (same in x and y) of the centre crop of `inputSize` inside a stored
 * face of `storedSize`: floor((storedSize - inputSize) / 2), 8 for 144 -> 128.
 * @param {number} storedSize
 * @param {number} inputSize
 * @returns {number}
 */
export function centreOffset(storedSize, inputSize) {
  if (!(inputSize >= 1 && inputSize <= storedSize)) {
    throw new RangeError(`inputSize ${inputSize} must be between 1 and storedSize ${storedSize}`);
  }
  return (storedSize - inputSize) >> 1;
}

/**
 * Writes the `inputSize` x `inputSize` crop at column `x0`, row `y0` of image
 * `imageIndex` (mirrored left-right when `flip`) to `out` from `outOffset`, as
 * float32 in [0, 1], row-major (one NHWC image with C = 1). No allocation; the
 * inner loop walks one contiguous source row.
 * @param {Uint8Array} pixels all stored images back to back, storedSize^2 bytes each
 * @param {number} imageIndex
 * @param {number} storedSize
 * @param {number} inputSize
 * @param {number} x0 column of the crop's left edge, 0 ..= storedSize - inputSize
 * @param {number} y0 row of the crop's top edge, 0 ..= storedSize - inputSize
 * @param {boolean} flip
 * @param {Float32Array} out
 * @param {number} outOffset
 */
export function cropInto(pixels, imageIndex, storedSize, inputSize, x0, y0, flip, out, outOffset) {
  const area = storedSize * storedSize;
  const maxOffset = storedSize - inputSize;
  if (!(imageIndex >= 0 && (imageIndex + 1) * area <= pixels.length) || !Number.isInteger(imageIndex)) {
    throw new RangeError(`image ${imageIndex} is outside the ${Math.floor(pixels.length / area)} stored images`);
  }
  if (!(maxOffset >= 0 && x0 >= 0 && y0 >= 0 && x0 <= maxOffset && y0 <= maxOffset)) {
    throw new RangeError(
      `crop ${inputSize}px at (${x0}, ${y0}) does not fit in a ${storedSize}px stored image`,
    );
  }
  if (!(outOffset >= 0 && outOffset + inputSize * inputSize <= out.length)) {
    throw new RangeError(`output offset ${outOffset} leaves no room for a ${inputSize}px crop`);
  }
  let o = outOffset;
  let rowStart = imageIndex * area + y0 * storedSize + x0;
  if (flip) {
    for (let y = 0; y < inputSize; y++, rowStart += storedSize) {
      for (let s = rowStart + inputSize - 1; s >= rowStart; s--) out[o++] = SCALE[pixels[s]];
    }
  } else {
    for (let y = 0; y < inputSize; y++, rowStart += storedSize) {
      const end = rowStart + inputSize;
      for (let s = rowStart; s < end; s++) out[o++] = SCALE[pixels[s]];
    }
  }
}

/**
 * Assembles one batch. `crops` holds (x0, y0, flip 0|1) per image of the batch, or
 * is null for the evaluation crop (centre, no flip). Writes into `xs` / `ys` when
 * given (they must be exactly B * inputSize^2 and B long), else allocates them.
 * @param {Uint8Array} pixels
 * @param {number} storedSize
 * @param {number} inputSize
 * @param {Int32Array} images dataset indices of the images of this batch
 * @param {Int32Array} labels identity label of every stored image
 * @param {Int32Array | null} crops
 * @param {Float32Array} [xs]
 * @param {Int32Array} [ys]
 * @returns {{ xs: Float32Array, ys: Int32Array }}
 */
export function assembleBatch(pixels, storedSize, inputSize, images, labels, crops, xs, ys) {
  const count = images.length;
  const plane = inputSize * inputSize;
  if (crops !== null && crops.length !== 3 * count) {
    throw new RangeError(`crops must hold 3 numbers per image: ${crops.length} for ${count} images`);
  }
  const outXs = xs ?? new Float32Array(count * plane);
  const outYs = ys ?? new Int32Array(count);
  if (outXs.length !== count * plane || outYs.length !== count) {
    throw new RangeError(`output buffers do not match a batch of ${count} x ${inputSize}px`);
  }
  const centre = centreOffset(storedSize, inputSize);
  for (let k = 0; k < count; k++) {
    const image = images[k];
    if (!(image >= 0 && image < labels.length)) {
      throw new RangeError(`image ${image} has no label (${labels.length} labels)`);
    }
    if (crops === null) {
      cropInto(pixels, image, storedSize, inputSize, centre, centre, false, outXs, k * plane);
    } else {
      const c = 3 * k;
      cropInto(pixels, image, storedSize, inputSize, crops[c], crops[c + 1], crops[c + 2] !== 0, outXs, k * plane);
    }
    outYs[k] = labels[image];
  }
  return { xs: outXs, ys: outYs };
}
