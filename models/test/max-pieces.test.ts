// The fused maxout / MFM kernels (models/kernels/max-pieces.ts) against the op composition
// they replace, on cpu and on wasm: forward values and gradients must be bit-identical
// (Object.is per element: signed zeros told apart, NaN equal to NaN) for random floats,
// small integers (ties everywhere), NaN, signed zeros and infinities, ranks 2 and 4, odd
// widths, maxout k = 2..5, MFM 2/1 and 3/2. The dead-neuron probes call a piece alive where
// the gradient reaches it, so the tie rule has to be exactly tfjs'.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { Rng } from '../../datasets/random';
import { maxOfPieces, Maxout } from '../activations/maxout';
import { MFM, topTwoOfThirds } from '../activations/mfm';
import { loadWasm } from '../backend-wasm';
import { MAX_PIECES, MAX_PIECES_GRAD, maxPieces, registerMaxPiecesKernels } from '../kernels/max-pieces';
import { registerWasmElementwise } from '../kernels/wasm-elementwise';

type Backend = 'cpu' | 'wasm';
const BACKENDS: readonly Backend[] = ['cpu', 'wasm'];

interface Case {
  readonly name: string;
  /** Pieces per output channel (the input has pieces x width channels). */
  readonly pieces: number;
  readonly layer: () => tf.layers.Layer;
  readonly composition: (x: tf.Tensor) => tf.Tensor;
}

const CASES: readonly Case[] = [
  ...[2, 3, 4, 5].map((k) => ({ name: `maxout:${k}`, pieces: k, layer: () => new Maxout({ k }), composition: (x: tf.Tensor) => maxOfPieces(tf.split(x, k, -1)) })),
  { name: 'mfm:2/1', pieces: 2, layer: () => new MFM({ variant: '2/1' }), composition: (x: tf.Tensor) => maxOfPieces(tf.split(x, 2, -1)) },
  { name: 'mfm:3/2', pieces: 3, layer: () => new MFM({ variant: '3/2' }), composition: topTwoOfThirds },
];

type Kind = 'floats' | 'integers' | 'specials';
const KINDS: readonly Kind[] = ['floats', 'integers', 'specials'];
const SPECIALS = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 2, 0, -0];

/** NaNs as other kernels make them: either sign (x86 makes 0xffc00000), quiet or signalling, any payload. */
const NAN_BITS = [0x7fc00000, 0xffc00000 | 0, 0x7f800001, 0xff800001 | 0, 0x7fffffff, -1, 0x7fa00000];

function values(size: number, kind: Kind, rng: Rng): Float32Array {
  const out = Float32Array.from({ length: size }, () => {
    if (kind === 'floats') return rng.uniform(-1, 1);
    // Integers in [-3, 3]: ties between pieces are common.
    if (kind === 'integers') return rng.int(7) - 3;
    // Mostly NaN, signed zeros and infinities; some small integers to tie with them.
    return rng.next() < 0.7 ? (SPECIALS[rng.int(SPECIALS.length)] as number) : rng.int(5) - 2;
  });
  if (kind === 'specials') {
    const bits = new Int32Array(out.buffer);
    for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i])) bits[i] = NAN_BITS[rng.int(NAN_BITS.length)] as number;
  }
  return out;
}

/** Input shapes: rank 2 and rank 4, odd widths (channels per piece) and row counts. */
function shapes(pieces: number): number[][] {
  return [
    [5, pieces * 7],
    [3, pieces * 1],
    [2, pieces * 8],
    [2, 3, 5, pieces * 13],
    [1, 4, 3, pieces * 2],
  ];
}

interface Outputs {
  readonly y: Float32Array;
  readonly dx: Float32Array;
}

/** y = f(x) and the gradient of f at x for the upstream gradient dy, on `backend`. */
async function run(backend: Backend, f: (x: tf.Tensor) => tf.Tensor, x: Float32Array, shape: number[], dy: Float32Array): Promise<Outputs> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xt = tf.tensor(x, shape, 'float32');
    const y = f(xt);
    const dyt = tf.tensor(dy, y.shape, 'float32');
    const dx = tf.grad(f)(xt, dyt);
    return { y: Float32Array.from(y.dataSync()), dx: Float32Array.from(dx.dataSync()) };
  });
}

/** Indices where a and b differ (Object.is: -0 differs from +0, NaN equals NaN), with their values. */
function differences(a: Float32Array, b: Float32Array): string[] {
  expect(a.length).toBe(b.length);
  const out: string[] = [];
  for (let i = 0; i < a.length && out.length < 5; i++) if (!Object.is(a[i], b[i])) out.push(`[${i}] ${Object.is(a[i], -0) ? '-0' : a[i]} vs ${Object.is(b[i], -0) ? '-0' : b[i]}`);
  return out;
}

function expectIdentical(fused: Outputs, composed: Outputs): void {
  expect(differences(fused.y, composed.y), 'forward').toEqual([]);
  expect(differences(fused.dx, composed.dx), 'gradient').toEqual([]);
}

/** The fused path (the layer, which dispatches to the kernel on cpu and wasm). */
function fusedOf(c: Case): (x: tf.Tensor) => tf.Tensor {
  const layer = c.layer();
  return (x) => layer.apply(x) as tf.Tensor;
}

let previousBackend = 'cpu';
beforeAll(async () => {
  previousBackend = tf.getBackend() ?? 'cpu';
  const load = await loadWasm(undefined);
  if (!load.ok) throw new Error(`wasm did not load: ${load.reason}`);
  // The composition on wasm runs through the lab's element-wise kernels, as in training.
  registerWasmElementwise();
});
afterAll(async () => {
  await tf.setBackend(previousBackend);
});

describe('registration', () => {
  test('both kernels exist for cpu and wasm, with a gradient; registering again changes nothing and warns nothing', () => {
    const kernels = () => BACKENDS.flatMap((b) => [tf.getKernel(MAX_PIECES, b)?.kernelFunc, tf.getKernel(MAX_PIECES_GRAD, b)?.kernelFunc]);
    const before = kernels();
    expect(before.every((k) => k !== undefined)).toBe(true);
    const gradient = tf.getGradient(MAX_PIECES);
    expect(gradient?.inputsToSave).toEqual(['x']);
    const warn = vi.spyOn(console, 'warn');
    registerMaxPiecesKernels();
    registerMaxPiecesKernels();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    expect(kernels()).toEqual(before);
    expect(tf.getGradient(MAX_PIECES)).toBe(gradient);
  });

  test('a second copy of the module registers nothing and does not throw', async () => {
    const before = tf.getKernel(MAX_PIECES, 'cpu')?.kernelFunc;
    vi.resetModules();
    const copy = await import('../kernels/max-pieces');
    expect(copy.registerMaxPiecesKernels).not.toBe(registerMaxPiecesKernels); // a fresh evaluation, which registered on import
    expect(() => copy.registerMaxPiecesKernels()).not.toThrow();
    expect(tf.getKernel(MAX_PIECES, 'cpu')?.kernelFunc).toBe(before);
  });

  test.each(BACKENDS)('the layers run the fused kernel on %s, not the composition', async (backend) => {
    await tf.setBackend(backend);
    for (const c of CASES) {
      const x = tf.randomUniform([2, 3, 3, c.pieces * 4], -1, 1);
      const f = fusedOf(c);
      const profile = await tf.profile(() => {
        const dx = tf.grad(f)(x);
        dx.dispose();
      });
      expect(profile.kernelNames, c.name).toContain(MAX_PIECES);
      expect(profile.kernelNames, c.name).toContain(MAX_PIECES_GRAD);
      expect(profile.kernelNames, c.name).not.toContain('Maximum');
      expect(profile.kernelNames, c.name).not.toContain('SplitV');
      x.dispose();
    }
  });

  test('int32 input and backends without the kernel use the composition', async () => {
    await tf.setBackend('cpu');
    const x = tf.tensor2d([[1, 5, 3, 2]], [1, 4], 'int32');
    expect(maxPieces(x, { mode: 'maxout', k: 2 })).toBeNull();
    const y = new Maxout({ k: 2 }).apply(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([3, 5]);
    tf.dispose([x, y]);
    // A backend without the kernel (as tensorflow and webgl): the layers fall back, with the same result.
    const forward = tf.getKernel(MAX_PIECES, 'cpu');
    const xf = tf.tensor2d([[1, 5, 3, 2, -1, 7]], [1, 6]);
    tf.unregisterKernel(MAX_PIECES, 'cpu');
    try {
      expect(maxPieces(xf, { mode: 'mfm32' })).toBeNull();
      const profile = await tf.profile(() => new MFM({ variant: '3/2' }).apply(xf) as tf.Tensor);
      expect(profile.kernelNames).toContain('Maximum');
      expect(Array.from((profile.result as tf.Tensor).dataSync())).toEqual([3, 7, 1, 5]);
      tf.dispose(profile.result as tf.Tensor);
    } finally {
      registerMaxPiecesKernels();
    }
    expect(tf.getKernel(MAX_PIECES, 'cpu')?.kernelFunc).toBe(forward?.kernelFunc);
    xf.dispose();
  });
});

describe.each(BACKENDS)('fused = composition, bit for bit, on %s', (backend) => {
  let seed = 1;
  for (const c of CASES) {
    for (const kind of KINDS) {
      test(`${c.name}, ${kind}`, async () => {
        for (const shape of shapes(c.pieces)) {
          const rng = new Rng(seed++);
          const size = shape.reduce((a, b) => a * b, 1);
          const x = values(size, kind, rng);
          const outSize = (size / c.pieces) * (c.name === 'mfm:3/2' ? 2 : 1);
          // dy: random floats; with the specials, also NaN, infinities and signed zeros upstream.
          const dy = values(outSize, kind === 'specials' ? 'specials' : 'floats', rng);
          const fused = await run(backend, fusedOf(c), x, shape, dy);
          const composed = await run(backend, c.composition, x, shape, dy);
          expectIdentical(fused, composed);
        }
      });
    }
  }

  test('MFM 3/2 on every ordering and tie of three values, signed zeros and NaN among them', async () => {
    // Every triple of {-inf, -1, -0, +0, 1, inf, NaN}: 343 positions, each with 4 upstream gradients.
    const pool = [-Infinity, -1, -0, 0, 1, Infinity, NaN];
    const triples: number[][] = [];
    for (const a of pool) for (const b of pool) for (const c of pool) triples.push([a, b, c]);
    const upstream = [
      [1.5, -2.25],
      [-0, 0],
      [Infinity, -1],
      [NaN, 3],
    ];
    const m = triples.length * upstream.length;
    const x = new Float32Array(3 * m);
    const dy = new Float32Array(2 * m);
    let i = 0;
    for (const [gT, gM] of upstream) {
      for (const [a, b, c] of triples) {
        x[i] = a as number;
        x[m + i] = b as number;
        x[2 * m + i] = c as number;
        dy[i] = gT as number;
        dy[m + i] = gM as number;
        i++;
      }
    }
    const c = CASES.find((k) => k.name === 'mfm:3/2') as Case;
    expectIdentical(await run(backend, fusedOf(c), x, [1, 3 * m], dy), await run(backend, c.composition, x, [1, 3 * m], dy));
  });

  test('maxout 3 on every ordering and tie of three values, signed zeros and NaN among them', async () => {
    const pool = [-Infinity, -1, -0, 0, 1, Infinity, NaN];
    const m = pool.length ** 3;
    const x = new Float32Array(3 * m);
    let i = 0;
    for (const a of pool) for (const b of pool) for (const c of pool) [x[i], x[m + i], x[2 * m + i++]] = [a, b, c];
    const dy = Float32Array.from({ length: m }, (_, j) => [2.5, -0, 0, -Infinity, NaN][j % 5] as number);
    const c = CASES.find((k) => k.name === 'maxout:3') as Case;
    expectIdentical(await run(backend, fusedOf(c), x, [1, 3 * m], dy), await run(backend, c.composition, x, [1, 3 * m], dy));
  });

  test('no tensors leak over repeated forward and gradient passes', async () => {
    await tf.setBackend(backend);
    for (const c of CASES) {
      const f = fusedOf(c);
      const x = tf.randomUniform([2, 5, 5, c.pieces * 3], -1, 1);
      tf.dispose(f(x)); // build first
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) {
        tf.tidy(() => {
          f(x);
          tf.grad(f)(x);
          tf.valueAndGrad((t: tf.Tensor) => tf.sum(f(t)))(x);
        });
        tf.dispose(f(x));
      }
      expect(tf.memory().numTensors, c.name).toBe(before);
      x.dispose();
    }
  });
});
