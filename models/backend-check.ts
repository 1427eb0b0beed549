// Does the current tfjs backend compute right? A 2x2 valid convolution of a 4x4 image, and its
// gradients, against sums written out here (float32, small integers: exact on every backend).
// No Node imports: backend selection runs it in Node, and the app's GPU host page runs it on
// Chromium's WebGPU before it reports the adapter usable.
import * as tf from '@tensorflow/tfjs';
import { errorText, firstLine } from './backend-packages';

const IMAGE = Array.from({ length: 16 }, (_, i) => i + 1); // 4x4, row-major
const FILTER = [1, 2, 3, 4]; // 2x2
const pixel = (r: number, c: number): number => IMAGE[r * 4 + c] ?? Number.NaN;
const weight = (a: number, b: number): number => FILTER[a * 2 + b] ?? Number.NaN;

function expectedConv(): number[] {
  const out: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out.push(pixel(r, c) * weight(0, 0) + pixel(r, c + 1) * weight(0, 1) + pixel(r + 1, c) * weight(1, 0) + pixel(r + 1, c + 1) * weight(1, 1));
  return out;
}

/** d(sum of the output)/d(filter): each weight sees a 3x3 window of the image. */
function expectedFilterGrad(): number[] {
  const out: number[] = [];
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      let s = 0;
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) s += pixel(r + a, c + b);
      out.push(s);
    }
  }
  return out;
}

/** d(sum of the output)/d(image): each pixel collects the weights whose window covers it. */
function expectedInputGrad(): number[] {
  const out: number[] = [];
  for (let p = 0; p < 4; p++) {
    for (let q = 0; q < 4; q++) {
      let s = 0;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) if (p - a >= 0 && p - a < 3 && q - b >= 0 && q - b < 3) s += weight(a, b);
      out.push(s);
    }
  }
  return out;
}

function sameValues(actual: ArrayLike<number>, expected: number[]): boolean {
  if (actual.length !== expected.length) return false;
  return expected.every((value, i) => Math.abs((actual[i] ?? Number.NaN) - value) <= 1e-4 * Math.max(1, Math.abs(value)));
}

/** Runs the test on the current backend; null when right, else what went wrong. Reads with `await data()`: webgpu in Node has no synchronous read. */
export async function computeCheck(purpose: 'train' | 'infer'): Promise<string | null> {
  const made: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => (made.push(t), t);
  try {
    const x = keep(tf.tensor4d(IMAGE, [1, 4, 4, 1]));
    const f = keep(tf.tensor4d(FILTER, [2, 2, 1, 1]));
    const y = keep(tf.conv2d(x, f, 1, 'valid'));
    if (!sameValues(await y.data(), expectedConv())) return 'a test convolution gave wrong values';
    if (purpose === 'infer') return null;
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid')))([x, f]).map(keep);
    if (dx === undefined || df === undefined) return 'a test gradient was not computed';
    if (!sameValues(await df.data(), expectedFilterGrad()) || !sameValues(await dx.data(), expectedInputGrad())) return 'a test gradient gave wrong values';
    return null;
  } catch (error) {
    return `a test convolution failed: ${firstLine(errorText(error).message)}`;
  } finally {
    for (const t of made) t.dispose();
  }
}

