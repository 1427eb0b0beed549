// Would Winograd F(2x2, 3x3) pay off on wasm with its transforms in JavaScript? One layer,
// LightCNN-9's group1 3x3 forward at 64 px, batch 16 (x [16, 32, 32, 48] -> 192 channels,
// 'same' padding), timed in its three parts against XNNPACK's direct convolution:
//   input transform   V[xi, t, c] = (B^T d_t B)[xi] for every 4x4 input tile d_t (stride 2)
//   16 products       M[xi] = V[xi] U[xi], [tiles, 48] x [48, 192], in XNNPACK (fresh weights)
//   output transform  y_t = A^T M_t A, the 2x2 outputs of each tile
// B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]], A^T = [[1,1,1,0],[0,1,-1,-1]] (Lavin &
// Gray 2016). Only the costs are measured: the filter transform is left out (its products use
// random weights) and the outputs are not checked. tsx bench/winograd-probe.ts
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../models/backend';

await selectBackend({ purpose: 'train', force: 'wasm' });
const N = 16, H = 32, W = 32, C = 48, CO = 192;
const TH = H / 2, TW = W / 2, T = N * TH * TW;
const x = Float32Array.from({ length: N * H * W * C }, () => Math.random() - 0.5);
const V = new Float32Array(16 * T * C);
const M = Float32Array.from({ length: 16 * T * CO }, () => Math.random());
const Y = new Float32Array(N * H * W * CO);

/** x at (b, row, col, c), 0 in the padding. */
function at(b: number, row: number, col: number, c: number): number {
  return row < 0 || row >= H || col < 0 || col >= W ? 0 : (x[((b * H + row) * W + col) * C + c] as number);
}

// Plain loops with locals: a closure or an array made per element costs 10-20x here.
const u = new Float64Array(16);

function inputTransform(): void {
  const S = T * C;
  for (let b = 0; b < N; b++) {
    for (let ty = 0; ty < TH; ty++) {
      for (let tx = 0; tx < TW; tx++) {
        const base = ((b * TH + ty) * TW + tx) * C;
        const r0 = ty * 2 - 1;
        const c0 = tx * 2 - 1;
        for (let c = 0; c < C; c++) {
          // Columns first: u[i][j] = (B^T d)[i][j].
          for (let j = 0; j < 4; j++) {
            const d0 = at(b, r0, c0 + j, c), d1 = at(b, r0 + 1, c0 + j, c), d2 = at(b, r0 + 2, c0 + j, c), d3 = at(b, r0 + 3, c0 + j, c);
            u[j] = d0 - d2;
            u[4 + j] = d1 + d2;
            u[8 + j] = d2 - d1;
            u[12 + j] = d1 - d3;
          }
          for (let i = 0; i < 4; i++) {
            const u0 = u[i * 4] as number, u1 = u[i * 4 + 1] as number, u2 = u[i * 4 + 2] as number, u3 = u[i * 4 + 3] as number;
            const q = (i * 4) * S + base + c;
            V[q] = u0 - u2;
            V[q + S] = u1 + u2;
            V[q + 2 * S] = u2 - u1;
            V[q + 3 * S] = u1 - u3;
          }
        }
      }
    }
  }
}

function outputTransform(): void {
  const S = T * CO;
  for (let b = 0; b < N; b++) {
    for (let ty = 0; ty < TH; ty++) {
      for (let tx = 0; tx < TW; tx++) {
        const base = ((b * TH + ty) * TW + tx) * CO;
        const o0 = ((b * H + ty * 2) * W + tx * 2) * CO;
        const o1 = o0 + W * CO;
        for (let c = 0; c < CO; c++) {
          const q = base + c;
          const m0 = M[q] as number, m1 = M[q + S] as number, m2 = M[q + 2 * S] as number, m3 = M[q + 3 * S] as number;
          const m4 = M[q + 4 * S] as number, m5 = M[q + 5 * S] as number, m6 = M[q + 6 * S] as number, m7 = M[q + 7 * S] as number;
          const m8 = M[q + 8 * S] as number, m9 = M[q + 9 * S] as number, m10 = M[q + 10 * S] as number, m11 = M[q + 11 * S] as number;
          const m12 = M[q + 12 * S] as number, m13 = M[q + 13 * S] as number, m14 = M[q + 14 * S] as number, m15 = M[q + 15 * S] as number;
          const s0 = m0 + m4 + m8, s1 = m1 + m5 + m9, s2 = m2 + m6 + m10, s3 = m3 + m7 + m11;
          const v0 = m4 - m8 - m12, v1 = m5 - m9 - m13, v2 = m6 - m10 - m14, v3 = m7 - m11 - m15;
          Y[o0 + c] = s0 + s1 + s2;
          Y[o0 + CO + c] = s1 - s2 - s3;
          Y[o1 + c] = v0 + v1 + v2;
          Y[o1 + CO + c] = v1 - v2 - v3;
        }
      }
    }
  }
}

/** Best of 3 after one warm-up. */
function time(f: () => void): number {
  f();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    f();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

const tiles = tf.randomUniform([1, T, C]);
const weights = tf.randomUniform([1, C, CO]);
const xs = tf.randomUniform([N, H, W, C]) as tf.Tensor4D;
const filter = tf.randomUniform([3, 3, C, CO]) as tf.Tensor4D;
const inputMs = time(inputTransform);
const productsMs = time(() => {
  for (let k = 0; k < 16; k++) {
    const fresh = weights.add(0);
    tf.dispose([tf.matMul(tiles as tf.Tensor3D, fresh as tf.Tensor3D), fresh]);
  }
});
const outputMs = time(outputTransform);
const directMs = time(() => {
  const fresh = filter.add(0) as tf.Tensor4D;
  tf.dispose([tf.conv2d(xs, fresh, 1, 'same'), fresh]);
});
console.log(`input transform ${inputMs.toFixed(1)} ms, 16 products ${productsMs.toFixed(1)} ms, output transform ${outputMs.toFixed(1)} ms`);
console.log(`Winograd ${(inputMs + productsMs + outputMs).toFixed(1)} ms against XNNPACK's direct convolution ${directMs.toFixed(1)} ms`);
process.exit(0);
