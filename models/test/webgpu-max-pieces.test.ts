// The WGSL maxout / MFM kernels (models/kernels/webgpu-max-pieces.ts) against the cpu kernels,
// which are bit-identical to the op composition (max-pieces.test.ts). On this machine webgpu is
// Mesa's software adapter (llvmpipe), forced as `--backend webgpu` does.
//
// Equality is exact everywhere: NaN against NaN by NaN-ness only (the kernels promise no NaN
// sign or payload), every other value by Object.is (signed zeros told apart; float32 values
// that are Object.is-equal have the same bits). No tolerance. The one documented exception,
// MFM 3/2's backward summing subnormal gradients on a device that flushes them, is kept out
// of the inputs: subnormal upstream gradients go to maxout only (mask-only, no sum); subnormal
// activations go everywhere (they are compared on integer keys).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { Rng } from '../../datasets/random';
import { createActivation, parseActivation } from '../activations';
import { hasMaxPiecesKernels, MAX_PIECES, MAX_PIECES_GRAD } from '../kernels/max-pieces';
import { registerWebGpuMaxPiecesKernels } from '../kernels/webgpu-max-pieces';
import { onBackend, webGpuReady, type Input } from './backend-compare';

const SPECS = ['maxout:2', 'maxout:3', 'maxout:4', 'maxout:5', 'mfm:2/1', 'mfm:3/2'] as const;
type Spec = (typeof SPECS)[number];

const piecesOf = (spec: Spec): number => (spec === 'mfm:3/2' ? 3 : spec === 'mfm:2/1' ? 2 : Number(spec.slice('maxout:'.length)));
const outChannels = (spec: Spec, channels: number): number => (channels / piecesOf(spec)) * (spec === 'mfm:3/2' ? 2 : 1);

/** The lab's own layer for `spec`, as a model builds it. */
const layerOf = (spec: Spec): tf.layers.Layer => createActivation(parseActivation(spec), `act_${spec.replace(/\W/g, '_')}`);

type Kind = 'integers' | 'floats' | 'specials';
const SUBNORMALS = [1e-40, -1e-40, 1.4e-45, -1.4e-45, 2e-39];
const SPECIALS = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 0, -0, ...SUBNORMALS];
/** NaNs of either sign, quiet or signalling, any payload. */
const NAN_BITS = [0x7fc00000, 0xffc00000 | 0, 0x7f800001, 0xff800001 | 0, 0x7fffffff, -1];

function values(size: number, kind: Kind, rng: Rng, subnormals = true): Float32Array {
  const pool = subnormals ? SPECIALS : SPECIALS.filter((v) => !SUBNORMALS.includes(v));
  const out = Float32Array.from({ length: size }, () => {
    if (kind === 'floats') return rng.uniform(-1, 1);
    if (kind === 'integers') return rng.int(7) - 3; // [-3, 3]: ties between pieces everywhere
    return rng.next() < 0.7 ? (pool[rng.int(pool.length)] as number) : rng.int(5) - 2;
  });
  const bits = new Int32Array(out.buffer);
  for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i])) bits[i] = NAN_BITS[rng.int(NAN_BITS.length)] as number;
  return out;
}

/** Dense [B, C] and conv [B, H, W, C], odd widths and row counts; the last spans many workgroups. */
const shapes = (p: number): number[][] => [
  [5, p * 7],
  [3, p],
  [2, 3, 5, p * 13],
  [1, 4, 3, p * 2],
  [3, 9, 9, p * 11],
];

/** Up to five indices where a and b differ: NaN-ness for NaN, Object.is otherwise. */
function differences(a: Float32Array, b: Float32Array): string[] {
  expect(a.length).toBe(b.length);
  const show = (v: number | undefined) => (Object.is(v, -0) ? '-0' : String(v));
  const out: string[] = [];
  for (let i = 0; i < a.length && out.length < 5; i++) {
    const same = Number.isNaN(a[i]) || Number.isNaN(b[i]) ? Number.isNaN(a[i]) && Number.isNaN(b[i]) : Object.is(a[i], b[i]);
    if (!same) out.push(`[${i}] ${show(a[i])} vs ${show(b[i])}`);
  }
  return out;
}

/** [y, dx] of the layer at x for the upstream gradient dy (through tfjs' gradient machinery, as in training). */
function forwardAndGradient(spec: Spec): (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor[] {
  const layer = layerOf(spec);
  const f = (x: tf.Tensor) => layer.apply(x) as tf.Tensor;
  return (x, dy) => [f(x), tf.grad(f)(x, dy)];
}

async function expectSameAsCpu(spec: Spec, inputs: Input[], what: string): Promise<void> {
  const f = forwardAndGradient(spec);
  const [gy, gdx] = await onBackend('webgpu', inputs, f);
  const [cy, cdx] = await onBackend('cpu', inputs, f);
  expect(differences(gy as Float32Array, cy as Float32Array), `${spec} ${what} forward`).toEqual([]);
  expect(differences(gdx as Float32Array, cdx as Float32Array), `${spec} ${what} gradient`).toEqual([]);
}

beforeAll(async () => {
  await webGpuReady();
  registerWebGpuMaxPiecesKernels();
});

describe('registration', () => {
  test('both kernels exist for webgpu; registering again changes nothing', () => {
    const kernels = () => [tf.getKernel(MAX_PIECES, 'webgpu')?.kernelFunc, tf.getKernel(MAX_PIECES_GRAD, 'webgpu')?.kernelFunc];
    const before = kernels();
    expect(before.every((k) => k !== undefined)).toBe(true);
    registerWebGpuMaxPiecesKernels();
    expect(kernels()).toEqual(before);
  });

  test('on webgpu the layers run the fused kernels, not the composition', async () => {
    await tf.setBackend('webgpu');
    expect(hasMaxPiecesKernels()).toBe(true);
    const engine = tf.engine();
    for (const spec of SPECS) {
      const names: string[] = [];
      const original = engine.runKernel.bind(engine);
      const spy = vi.spyOn(engine, 'runKernel').mockImplementation((name, inputs, attrs) => (names.push(name), original(name, inputs, attrs)));
      try {
        const layer = layerOf(spec);
        const x = tf.randomUniform([2, 3, 3, piecesOf(spec) * 4], -1, 1);
        const dx = tf.grad((t: tf.Tensor) => layer.apply(t) as tf.Tensor)(x);
        await dx.data();
        tf.dispose([x, dx]);
      } finally {
        spy.mockRestore();
      }
      expect(names, spec).toContain(MAX_PIECES);
      expect(names, spec).toContain(MAX_PIECES_GRAD);
      expect(names, spec).not.toContain('Maximum');
      expect(names, spec).not.toContain('SplitV');
    }
  });
});

describe('webgpu = cpu, bit for bit (NaN by NaN-ness)', () => {
  let seed = 1;
  for (const spec of SPECS) {
    for (const kind of ['integers', 'floats', 'specials'] as const) {
      test(`${spec}, ${kind}`, async () => {
        for (const shape of shapes(piecesOf(spec))) {
          const rng = new Rng(seed++);
          const channels = shape[shape.length - 1] as number;
          const outShape = [...shape.slice(0, -1), outChannels(spec, channels)];
          const x = values(tf.util.sizeFromShape(shape), kind, rng);
          // Upstream: floats; with the specials also NaN, infinities, signed zeros (subnormal only for maxout, see the top).
          const dy = values(tf.util.sizeFromShape(outShape), kind === 'specials' ? 'specials' : 'floats', rng, spec !== 'mfm:3/2');
          await expectSameAsCpu(spec, [{ shape, values: x }, { shape: outShape, values: dy }], `[${shape.join(', ')}]`);
        }
      });
    }
  }

  test('MFM 3/2 on every ordering and tie of three values, signed zeros and NaN among them', async () => {
    const pool = [-Infinity, -1, -0, 0, 1e-40, 1, Infinity, NaN];
    const upstream = [
      [1.5, -2.25],
      [-0, 0],
      [-0, -0],
      [0.75, -0.75],
      [Infinity, -1],
      [Infinity, -Infinity],
      [NaN, 3],
      [3, -Infinity],
    ];
    const triples: number[][] = [];
    for (const a of pool) for (const b of pool) for (const c of pool) triples.push([a, b, c]);
    const m = triples.length * upstream.length;
    const x = new Float32Array(3 * m);
    const dy = new Float32Array(2 * m);
    let i = 0;
    for (const [gT, gM] of upstream) {
      for (const [a, b, c] of triples) {
        [x[i], x[m + i], x[2 * m + i]] = [a as number, b as number, c as number];
        [dy[i], dy[m + i]] = [gT as number, gM as number];
        i++;
      }
    }
    await expectSameAsCpu('mfm:3/2', [{ shape: [1, 3 * m], values: x }, { shape: [1, 2 * m], values: dy }], 'orderings');
  });

  test('maxout 3 on every ordering and tie of three values, signed zeros and NaN among them', async () => {
    const pool = [-Infinity, -1, -0, 0, 1e-40, 1, Infinity, NaN];
    const m = pool.length ** 3;
    const x = new Float32Array(3 * m);
    let i = 0;
    for (const a of pool) for (const b of pool) for (const c of pool) [x[i], x[m + i], x[2 * m + i++]] = [a, b, c];
    const dy = Float32Array.from({ length: m }, (_, j) => [2.5, -0, 0, -Infinity, NaN, -1e-40][j % 6] as number);
    await expectSameAsCpu('maxout:3', [{ shape: [1, 3 * m], values: x }, { shape: [1, m], values: dy }], 'orderings');
  });

  test('the forward of maxout gives Math.max on signed zeros: max(-0, +0) = +0 whichever piece holds it', async () => {
    const x = Float32Array.from([-0, 0, 0, -0, -0, -0]);
    const [y] = await onBackend('webgpu', [{ shape: [3, 2], values: x }], (t) => layerOf('maxout:2').apply(t) as tf.Tensor);
    expect(Array.from(y as Float32Array).map((v) => Object.is(v, -0))).toEqual([false, false, true]);
  });
});

describe('training', () => {
  test.each(SPECS)('%s: tf.grads of sum(activation(x) * w) for x and w equal cpu', async (spec) => {
    const rng = new Rng(1000 + SPECS.indexOf(spec));
    const shape = [2, 5, 5, piecesOf(spec) * 6];
    const outShape = [2, 5, 5, outChannels(spec, piecesOf(spec) * 6)];
    const x = values(tf.util.sizeFromShape(shape), 'integers', rng);
    const w = values(tf.util.sizeFromShape(outShape), 'floats', rng);
    const layer = layerOf(spec);
    const grads = (xt: tf.Tensor, wt: tf.Tensor) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, b)))([xt, wt]);
    const inputs = [
      { shape, values: x },
      { shape: outShape, values: w },
    ];
    const [gdx, gdw] = await onBackend('webgpu', inputs, grads);
    const [cdx, cdw] = await onBackend('cpu', inputs, grads);
    expect(differences(gdx as Float32Array, cdx as Float32Array), 'dx').toEqual([]);
    expect(differences(gdw as Float32Array, cdw as Float32Array), 'dw').toEqual([]);
  });
});

describe('memory', () => {
  test('tensors and GPU bytes stay flat over repeated forward and gradient passes', async () => {
    await tf.setBackend('webgpu');
    for (const spec of SPECS) {
      const layer = layerOf(spec);
      const f = (t: tf.Tensor) => layer.apply(t) as tf.Tensor;
      const x = tf.randomUniform([2, 5, 5, piecesOf(spec) * 3], -1, 1);
      const pass = async () => {
        const [y, dx] = tf.tidy(() => [f(x), tf.grad(f)(x)]);
        await Promise.all([(y as tf.Tensor).data(), (dx as tf.Tensor).data()]); // a read submits the queue, releasing what was disposed
        tf.dispose([y as tf.Tensor, dx as tf.Tensor]);
      };
      await pass(); // compile and warm the buffer pool
      await pass();
      const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      for (let i = 0; i < 5; i++) await pass();
      const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      expect(after.numTensors, spec).toBe(before.numTensors);
      expect(after.numBytesInGPU, spec).toBeTypeOf('number');
      expect(after.numBytesInGPU, spec).toBe(before.numBytesInGPU);
      x.dispose();
    }
  });
});
