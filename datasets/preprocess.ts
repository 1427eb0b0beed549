// Preprocessing as the Light CNN reference does it: faces are stored once, grey,
// at storedSize = inputSize * 144/128 (144 px for the 128 px models); training
// takes a random inputSize crop plus a random horizontal flip, evaluation the
// centre crop; pixel values are scaled to [0, 1].
//
// The per-image crop loop lives in batch-kernel.js (plain JavaScript, shared with
// the batch worker thread) and is re-exported here so there is one implementation.

export { centreOffset, cropInto } from './batch-kernel';

/** The reference stores 144 px faces and crops 128 px. */
export const REFERENCE_STORED_SIZE = 144;
export const REFERENCE_INPUT_SIZE = 128;

/** Side of the stored square face for a network input of `inputSize`: round(inputSize * 144 / 128). */
export function storedSizeFor(inputSize: number): number {
  if (!Number.isInteger(inputSize) || inputSize < 1) {
    throw new RangeError(`inputSize must be a positive integer, not ${inputSize}`);
  }
  return Math.round((inputSize * REFERENCE_STORED_SIZE) / REFERENCE_INPUT_SIZE);
}
