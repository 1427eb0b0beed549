// The conv-gradient kernels' tuning knobs, A/B in one process, with a fresh dy (or filter)
// every call as in a training step (XNNPACK re-packs its weight operand for every new tensor,
// which is most of what the knobs are about; see models/kernels/wasm-conv2d-backprop.ts).
//   tsx bench/conv-gradient-ab.ts filter [rows,rows,...]   filter gradients by filterChunkRows
//   tsx bench/conv-gradient-ab.ts input [waste,waste,...]  input gradients by scatterAboveWaste
// Shapes: the largest layers of LightCNN-9 and Model A at 64 px, batch 16. Prints the mean of
// the middle two of 4 timed rounds (after one warm-up round) for each value, rounds interleaved.
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../models/backend';
import { wasmConvTuning } from '../models/kernels/wasm-conv2d-backprop';

type Pad = 'same' | 'valid';
const CASES: Array<[number[], number[], Pad]> = [
  [[16, 64, 64, 1], [5, 5, 1, 96], 'same'],
  [[16, 32, 32, 48], [1, 1, 48, 96], 'same'],
  [[16, 32, 32, 48], [3, 3, 48, 192], 'same'],
  [[16, 16, 16, 96], [3, 3, 96, 384], 'same'],
  [[16, 8, 8, 192], [3, 3, 192, 256], 'same'],
  [[16, 64, 64, 1], [9, 9, 1, 96], 'valid'],
  [[16, 28, 28, 48], [5, 5, 48, 192], 'valid'],
  [[16, 12, 12, 96], [5, 5, 96, 256], 'valid'],
  [[16, 4, 4, 128], [4, 4, 128, 384], 'valid'],
];

const [which, valuesArg] = process.argv.slice(2);
if (which !== 'filter' && which !== 'input') throw new Error('usage: conv-gradient-ab.ts filter|input [v1,v2,...]');
const values = (valuesArg ?? (which === 'filter' ? '1000000,4096' : '1000,2')).split(',').map(Number);
await selectBackend({ purpose: 'train', force: 'wasm' });

function once(x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, pad: Pad): number {
  const started = performance.now();
  const out =
    which === 'filter'
      ? (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: w.shape } as unknown as tf.NamedAttrMap) as tf.Tensor)
      : (tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad, dataFormat: 'NHWC', inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor);
  const ms = performance.now() - started;
  out.dispose();
  return ms;
}

const totals = new Map<number, number>();
for (const [xShape, wShape, pad] of CASES) {
  const x = tf.randomUniform(xShape);
  const w = tf.randomUniform(wShape);
  const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, pad);
  const dy = tf.randomUniform(y.shape);
  y.dispose();
  const times = new Map<number, number[]>();
  for (let round = 0; round < 5; round++) {
    for (const v of values) {
      if (which === 'filter') wasmConvTuning.filterChunkRows = v;
      else wasmConvTuning.scatterAboveWaste = v;
      // A new tensor of the same values: what a step hands the kernel.
      const fresh = which === 'filter' ? dy.add(0) : w.add(0);
      const ms = which === 'filter' ? once(x, w, fresh, pad) : once(x, fresh, dy, pad);
      fresh.dispose();
      if (round > 0) times.set(v, [...(times.get(v) ?? []), ms]);
    }
  }
  const cells = values.map((v) => {
    const sorted = (times.get(v) ?? []).sort((a, b) => a - b);
    const mid = ((sorted[1] ?? 0) + (sorted[2] ?? 0)) / 2;
    totals.set(v, (totals.get(v) ?? 0) + mid);
    return `${v}: ${mid.toFixed(1)} ms`;
  });
  console.log(`${JSON.stringify(xShape)} * ${JSON.stringify(wShape)} ${pad}`.padEnd(40), cells.join('   '));
  tf.dispose([x, w, dy]);
}
console.log('total'.padEnd(40), values.map((v) => `${v}: ${(totals.get(v) ?? 0).toFixed(0)} ms`).join('   '));
process.exit(0);
