import { Rng } from '../../datasets/random';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ActivationSpecError,
  CUSTOM_ACTIVATION_CLASS_NAMES,
  Maxout,
  MFM,
  PReLU,
  RReLU,
  channelFactor,
  createActivation,
  formatActivation,
  inputChannels,
  isStochastic,
  parseActivation,
  preluSlopes,
  type ActivationSpec,
} from '../activations';
import { setTrainingStep } from '../step-random';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// ---------------------------------------------------------------- helpers

/** Every activation, with every maxout k and both MFM variants. */
const ALL_SPECS: readonly ActivationSpec[] = [
  'sigmoid', 'tanh', 'relu', 'leaky_relu', 'leaky_relu:0.2', 'prelu', 'rrelu', 'elu', 'selu', 'gelu', 'swish', 'mish',
  'maxout:2', 'maxout:3', 'maxout:4', 'maxout:5', 'mfm:2/1', 'mfm:3/2',
].map(parseActivation);

/** Seeded uniform numbers in [0, 1) from the project's generator, so random cases reproduce. */
function rng(seed: number): () => number {
  const generator = new Rng(seed);
  return () => generator.next();
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Values in +-[0.05, 2.5]: away from the kink at 0 of relu-like functions. */
function awayFromZero(n: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() < 0.5 ? -1 : 1) * (0.05 + 2.45 * random());
  return out;
}

/**
 * Channels-last input whose channels form `groups` blocks (maxout pieces / MFM
 * thirds): the values a max compares (same position, same unit, different
 * block) differ by at least 0.2, so no finite-difference step can create a tie.
 */
function distinctPieces(shape: readonly number[], groups: number, random: () => number): Float32Array {
  const channels = shape[shape.length - 1]!;
  const unitsPerGroup = channels / groups;
  const out = new Float32Array(size(shape));
  for (let base = 0; base < out.length; base += channels) {
    for (let c = 0; c < unitsPerGroup; c++) {
      const levels = Array.from({ length: groups }, (_, j) => -1 + 0.4 * j + 0.15 * random());
      for (let j = groups - 1; j > 0; j--) {
        const r = Math.floor(random() * (j + 1));
        [levels[j], levels[r]] = [levels[r]!, levels[j]!];
      }
      for (let j = 0; j < groups; j++) out[base + j * unitsPerGroup + c] = levels[j]!;
    }
  }
  return out;
}

/** Input channels that make the activation produce `outputs` channels. */
const inChannels = (spec: ActivationSpec, outputs: number): number => inputChannels(spec, outputs);

function inputFor(spec: ActivationSpec, shape: readonly number[], random: () => number): Float32Array {
  if (spec.name === 'maxout') return distinctPieces(shape, spec.k, random);
  if (spec.name === 'mfm') return distinctPieces(shape, spec.variant === '2/1' ? 2 : 3, random);
  return awayFromZero(size(shape), random);
}

/** Random loss weights in +-[0.5, 1.5]: no symmetric cancellation, no tiny terms. */
function lossWeights(n: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() < 0.5 ? -1 : 1) * (0.5 + random());
  return out;
}

/** sum(w * y) in float64. */
function weightedSum(y: tf.Tensor, w: Float32Array): number {
  const values = y.dataSync();
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]! * w[i]!;
  return s;
}

/**
 * Largest relative error between an analytic gradient and central finite
 * differences of `loss` in each coordinate of `x` (float32 values; the actual
 * float32 step is used, not the nominal one).
 *
 * Loss weights are >= 0.5 in size, so gradients are O(1); a coordinate whose
 * gradient is below 1e-2 (near a stationary point of gelu, swish, mish, where
 * a relative error means nothing) is held to an absolute 1e-4 instead: the
 * denominator is max(|analytic|, |numeric|, 1e-2).
 */
function maxRelativeError(analytic: ArrayLike<number>, x: Float32Array, loss: (x: Float32Array) => number, eps = 1e-2): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const plus = Float32Array.from(x);
    const minus = Float32Array.from(x);
    plus[i] = Math.fround(x[i]! + eps);
    minus[i] = Math.fround(x[i]! - eps);
    const numeric = (loss(plus) - loss(minus)) / (plus[i]! - minus[i]!);
    const a = analytic[i]!;
    const err = Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), 1e-2);
    worst = Math.max(worst, err);
  }
  return worst;
}

type Apply = (layer: tf.layers.Layer, x: tf.Tensor) => tf.Tensor;
const inference: Apply = (layer, x) => layer.apply(x) as tf.Tensor;
const training: Apply = (layer, x) => layer.apply(x, { training: true }) as tf.Tensor;

/** Gradient check of sum(w * f(x)) with respect to x. */
function checkInputGradient(layer: tf.layers.Layer, shape: number[], x: Float32Array, apply: Apply, random: () => number): number {
  const outShape = tf.tidy(() => apply(layer, tf.tensor(x, shape)).shape);
  const w = lossWeights(size(outShape), random);
  const analytic = tf.tidy(() => {
    const wt = tf.tensor(w, outShape);
    return tf.grad((xt: tf.Tensor) => tf.sum(tf.mul(apply(layer, xt), wt)))(tf.tensor(x, shape)).dataSync();
  });
  return maxRelativeError(analytic, x, (xv) => tf.tidy(() => weightedSum(apply(layer, tf.tensor(xv, shape)), w)));
}

const SHAPES = { conv: (c: number) => [2, 2, 2, c], dense: (c: number) => [3, c] } as const;

// ---------------------------------------------------------------- 1. gradients

describe('gradients match central finite differences (float32, rel. error < 1e-2)', () => {
  for (const spec of ALL_SPECS) {
    for (const [kind, shapeOf] of Object.entries(SHAPES)) {
      it(`${formatActivation(spec)} on a ${kind} output`, () => {
        const random = rng(7 + kind.length);
        const shape = shapeOf(inChannels(spec, 2));
        const layer = createActivation(spec, 'act');
        if (spec.name === 'prelu') {
          tf.dispose(layer.apply(tf.zeros(shape)) as tf.Tensor); // build, then set non-trivial slopes
          layer.setWeights([tf.tensor1d([0.1, 0.4])]);
        }
        expect(checkInputGradient(layer, shape, inputFor(spec, shape, random), inference, random)).toBeLessThan(1e-2);
      });
    }
  }

  it('the check catches a gradient that is 3% off', () => {
    const random = rng(3);
    const wrong = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const y = tf.sigmoid(x);
      save([y]);
      return { value: y, gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, tf.mul(1.03, tf.mul(s!, tf.sub(1, s!)))) };
    });
    const layer = { apply: (x: tf.Tensor) => wrong(x) } as unknown as tf.layers.Layer;
    const shape = SHAPES.dense(4);
    expect(checkInputGradient(layer, shape, awayFromZero(size(shape), random), inference, random)).toBeGreaterThan(2e-2);
  });

  it('rrelu in training mode, with a fixed step seed (one set of slopes for every evaluation)', () => {
    const random = rng(11);
    const spec = parseActivation('rrelu');
    const layer = createActivation(spec, 'conv1_act');
    for (const shape of [SHAPES.conv(3), SHAPES.dense(4)]) {
      setTrainingStep(42, 3);
      const x = inputFor(spec, shape, random);
      expect(checkInputGradient(layer, shape, x, training, random)).toBeLessThan(1e-2);
    }
  });

  it('prelu: gradient with respect to its slopes', () => {
    const random = rng(13);
    for (const shape of [SHAPES.conv(3), SHAPES.dense(3)]) {
      const layer = createActivation(parseActivation('prelu'), 'act');
      const x = tf.tensor(awayFromZero(size(shape), random), shape);
      const slopes = Float32Array.from([0.1, 0.3, 0.6]);
      layer.apply(x);
      layer.setWeights([tf.tensor1d(slopes)]);
      const w = lossWeights(size(shape), random);
      const wt = tf.tensor(w, shape);
      const variable = layer.weights[0]!.read() as tf.Variable;
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, wt)) as tf.Scalar, [variable]);
      const analytic = grads[variable.name]!.dataSync();
      const loss = (a: Float32Array): number =>
        tf.tidy(() => {
          layer.setWeights([tf.tensor1d(a)]);
          return weightedSum(layer.apply(x) as tf.Tensor, w);
        });
      expect(maxRelativeError(analytic, slopes, loss)).toBeLessThan(1e-2);
      tf.dispose([x, wt, value, grads[variable.name]!]);
    }
  });
});

// ---------------------------------------------------------------- 2. semantics

/** Forward pass of a fresh layer on the given values, as plain numbers. */
function forward(spec: ActivationSpec, values: Float32Array, shape: number[], kwargs: { training?: boolean } = {}): Float32Array {
  const layer = createActivation(spec, 'probe_act');
  return tf.tidy(() => (layer.apply(tf.tensor(values, shape), kwargs) as tf.Tensor).dataSync() as Float32Array);
}

describe('forward semantics', () => {
  const random = rng(21);

  it('mfm 2/1 is the elementwise max of the first and last halves of the channels', () => {
    const n = 5;
    const shape = [2, 3, 3, 2 * n];
    const x = awayFromZero(size(shape), random);
    const y = forward(parseActivation('mfm:2/1'), x, shape);
    expect(y.length).toBe(size(shape) / 2);
    for (let p = 0; p < size(shape) / (2 * n); p++) {
      for (let c = 0; c < n; c++) expect(y[p * n + c]).toBe(Math.max(x[p * 2 * n + c]!, x[p * 2 * n + n + c]!));
    }
  });

  it('mfm 3/2 is [max, median] of the three thirds, in that order', () => {
    const m = 4;
    const shape = [3, 2, 2, 3 * m];
    const x = awayFromZero(size(shape), random);
    const y = forward(parseActivation('mfm:3/2'), x, shape);
    for (let p = 0; p < size(shape) / (3 * m); p++) {
      for (let c = 0; c < m; c++) {
        const three = [0, 1, 2].map((j) => x[p * 3 * m + j * m + c]!).sort((a, b) => b - a);
        expect(y[p * 2 * m + c]).toBe(three[0]);
        expect(y[p * 2 * m + m + c]).toBe(three[1]);
      }
    }
  });

  it('maxout k=3: unit c is the max of channels c, N + c, 2N + c', () => {
    const n = 4;
    const shape = [2, 3, 2, 3 * n];
    const x = awayFromZero(size(shape), random);
    const y = forward(parseActivation('maxout:3'), x, shape);
    for (let p = 0; p < size(shape) / (3 * n); p++) {
      for (let c = 0; c < n; c++) expect(y[p * n + c]).toBe(Math.max(x[p * 3 * n + c]!, x[p * 3 * n + n + c]!, x[p * 3 * n + 2 * n + c]!));
    }
  });

  it('maxout k=2 equals mfm 2/1', () => {
    const shape = [5, 8];
    const x = awayFromZero(size(shape), random);
    expect(forward(parseActivation('maxout:2'), x, shape)).toEqual(forward(parseActivation('mfm'), x, shape));
  });

  it('rrelu in training: per-element slopes within [lower, upper], new at each step, replayed for the same step', () => {
    const spec = parseActivation('rrelu');
    if (spec.name !== 'rrelu') throw new Error('unreachable');
    const shape = [4, 8, 8, 16];
    const x = awayFromZero(size(shape), random);
    setTrainingStep(7, 100);
    const a = forward(spec, x, shape, { training: true });
    const again = forward(spec, x, shape, { training: true });
    setTrainingStep(7, 101);
    const b = forward(spec, x, shape, { training: true });
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
    const slopes: number[] = [];
    for (let i = 0; i < x.length; i++) {
      if (x[i]! > 0) {
        expect(a[i]).toBe(x[i]);
        continue;
      }
      const slope = a[i]! / x[i]!;
      expect(slope).toBeGreaterThanOrEqual(spec.lower - 1e-6);
      expect(slope).toBeLessThanOrEqual(spec.upper + 1e-6);
      slopes.push(slope);
    }
    const mean = slopes.reduce((s, v) => s + v, 0) / slopes.length;
    const spread = Math.max(...slopes) - Math.min(...slopes);
    expect(mean).toBeCloseTo((spec.lower + spec.upper) / 2, 2); // U(lower, upper) has mean (lower + upper) / 2
    expect(spread).toBeGreaterThan(0.9 * (spec.upper - spec.lower)); // per element, not one slope for all
  });

  it('rrelu in inference: the fixed slope (lower + upper) / 2, whatever the step', () => {
    const shape = [3, 20];
    const x = awayFromZero(size(shape), random);
    const mid = (1 / 8 + 1 / 3) / 2;
    setTrainingStep(1, 1);
    const a = forward(parseActivation('rrelu'), x, shape);
    setTrainingStep(1, 2);
    const b = forward(parseActivation('rrelu'), x, shape, { training: false });
    expect(b).toEqual(a);
    for (let i = 0; i < x.length; i++) {
      if (x[i]! > 0) expect(a[i]).toBe(x[i]);
      // the float32 product with the slope (the cpu kernel multiplies by the slope in float64; a GPU in float32)
      else expect([Math.fround(x[i]! * mid), Math.fround(x[i]! * Math.fround(mid))]).toContain(a[i]);
    }
    const layer = new RReLU({ lower: 0.1, upper: 0.3 });
    expect(layer.evaluationSlope).toBeCloseTo(0.2, 12);
    expect(isStochastic(parseActivation('rrelu'))).toBe(true);
    expect(ALL_SPECS.filter(isStochastic).map(formatActivation)).toEqual([formatActivation(parseActivation('rrelu'))]);
  });

  it('leaky_relu defaults to slope 0.01 (not tfjs 0.3)', () => {
    const x = Float32Array.from([-2, -0.5, 0.5, 3]);
    expect(forward(parseActivation('leaky_relu'), x, [1, 4])).toEqual(Float32Array.from([-0.02, -0.005, 0.5, 3]));
    expect(forward(parseActivation('leaky_relu:0.2'), x, [1, 4])).toEqual(Float32Array.from([-0.4, -0.1, 0.5, 3]));
  });

  it('gelu is the exact x * Phi(x) (erf), swish is x * sigmoid(x), mish is x * tanh(softplus(x))', () => {
    const xs = [-3, -1, -0.3, 0.2, 1, 2.5];
    const x = Float32Array.from(xs);
    // erf via a high-precision series (|x| small enough here)
    const erf = (z: number): number => {
      let sum = 0;
      let term = z;
      for (let n = 0; n < 60; n++) {
        sum += term / (2 * n + 1);
        term *= (-z * z) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const close = (got: Float32Array, want: (v: number) => number): void => {
      xs.forEach((v, i) => expect(got[i]).toBeCloseTo(want(v), 5));
    };
    close(forward(parseActivation('gelu'), x, [1, 6]), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    close(forward(parseActivation('swish'), x, [1, 6]), (v) => v / (1 + Math.exp(-v)));
    close(forward(parseActivation('mish'), x, [1, 6]), (v) => v * Math.tanh(Math.log1p(Math.exp(v))));
    close(forward(parseActivation('elu'), x, [1, 6]), (v) => (v > 0 ? v : Math.expm1(v)));
    close(forward(parseActivation('selu'), x, [1, 6]), (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)));
    // the tanh approximation differs from the exact gelu by ~1e-3 at x = -3: we are not using it
    const tanhApprox = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const gelu = forward(parseActivation('gelu'), x, [1, 6]);
    expect(Math.abs(gelu[0]! - tanhApprox(-3))).toBeGreaterThan(1e-4);
  });

  it('prelu: one slope per channel starting at 0.25, and the slopes move under SGD', async () => {
    for (const shape of [[8, 3, 3, 4], [32, 4]]) {
      const layer = createActivation(parseActivation('prelu'), 'fc1_act');
      const x = tf.tensor(awayFromZero(size(shape), rng(5)), shape);
      const target = tf.tidy(() => tf.where(tf.greater(x, 0), x, tf.mul(x, tf.tensor1d([0.8, 0.6, -0.2, 0.05]))));
      layer.apply(x);
      expect(Array.from(await preluSlopes(layer))).toEqual([0.25, 0.25, 0.25, 0.25]);
      const optimizer = tf.train.sgd(0.2);
      const mse = (): tf.Scalar => tf.losses.meanSquaredError(target, layer.apply(x) as tf.Tensor) as tf.Scalar;
      const before = tf.tidy(() => mse().dataSync()[0]!);
      for (let step = 0; step < 20; step++) optimizer.minimize(mse, false, layer.trainableWeights.map((w) => w.read() as tf.Variable))?.dispose();
      const after = tf.tidy(() => mse().dataSync()[0]!);
      const slopes = await preluSlopes(layer);
      expect(after).toBeLessThan(before / 2);
      // every slope moved towards its target, away from 0.25
      [0.8, 0.6, -0.2, 0.05].forEach((goal, c) => {
        expect(Math.abs(slopes[c]! - 0.25)).toBeGreaterThan(0.05);
        expect(Math.abs(slopes[c]! - goal)).toBeLessThan(Math.abs(0.25 - goal));
      });
      optimizer.dispose();
      tf.dispose([x, target]);
    }
  });

  it('preluSlopes refuses other layers and unbuilt ones', async () => {
    await expect(preluSlopes(createActivation(parseActivation('relu'), 'a'))).rejects.toThrow(/not a PReLU/);
    await expect(preluSlopes(createActivation(parseActivation('prelu'), 'b'))).rejects.toThrow(/built/);
    const builtin = tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.25 }), sharedAxes: [1, 2] });
    builtin.apply(tf.zeros([1, 2, 2, 3]));
    expect(Array.from(await preluSlopes(builtin))).toEqual([0.25, 0.25, 0.25]);
  });
});

// ---------------------------------------------------------------- 3. shapes

describe('output shapes and channel factors', () => {
  const N = 6;
  for (const spec of ALL_SPECS) {
    it(`${formatActivation(spec)}: k x N / 2N / 3m channels in, N out, conv and dense`, () => {
      const { num, den } = channelFactor(spec);
      const cin = inChannels(spec, N);
      expect(cin).toBe((N * num) / den);
      const expected = spec.name === 'maxout' ? spec.k * N : spec.name === 'mfm' ? (spec.variant === '2/1' ? 2 * N : 9) : N;
      expect(cin).toBe(expected);
      for (const shape of [[2, 5, 4, cin], [3, cin]]) {
        const layer = createActivation(spec, 'act');
        const out = tf.tidy(() => (layer.apply(tf.zeros(shape), { training: true }) as tf.Tensor).shape);
        expect(out).toEqual([...shape.slice(0, -1), N]);
        const symbolic = createActivation(spec, 'act').apply(tf.input({ shape: shape.slice(1) })) as tf.SymbolicTensor;
        expect(symbolic.shape).toEqual([null, ...shape.slice(1, -1), N]);
      }
    });
  }

  it('rejects a channel count the activation cannot split, with a clear message', () => {
    expect(() => createActivation(parseActivation('maxout:3'), 'conv2_act').apply(tf.input({ shape: [4, 4, 10] }))).toThrow(/conv2_act: maxout:3 needs .*multiple of 3.* got 10/);
    expect(() => createActivation(parseActivation('mfm'), 'fc_act').apply(tf.input({ shape: [7] }))).toThrow(/fc_act: mfm:2\/1 needs an even/);
    expect(() => createActivation(parseActivation('mfm:3/2'), 'x').apply(tf.input({ shape: [8] }))).toThrow(/multiple of 3/);
    expect(() => inputChannels(parseActivation('mfm:3/2'), 5)).toThrow(ActivationSpecError);
  });

  it('only prelu has weights: one per channel', () => {
    for (const spec of ALL_SPECS) {
      const layer = createActivation(spec, 'act');
      layer.apply(tf.input({ shape: [4, 4, inChannels(spec, N)] }));
      expect(layer.countParams()).toBe(spec.name === 'prelu' ? N : 0);
    }
  });
});

// ---------------------------------------------------------------- 4. serialization

/** A tiny conv + dense model with `spec` after each. */
function tinyModel(spec: ActivationSpec): tf.LayersModel {
  const input = tf.input({ shape: [5, 5, 2] });
  let h = tf.layers.conv2d({ filters: inChannels(spec, 4), kernelSize: 3, name: 'conv1', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  h = createActivation(spec, 'conv1_act').apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: inChannels(spec, 6), name: 'fc1', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }).apply(h) as tf.SymbolicTensor;
  h = createActivation(spec, 'fc1_act').apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: h });
}

describe('serialization', () => {
  const cases: Array<[string, tf.layers.Layer]> = [
    ['rrelu (non-default range)', new RReLU({ lower: 0.05, upper: 0.4, name: 'r' })],
    ['maxout:4', new Maxout({ k: 4, name: 'm' })],
    ['mfm 2/1', new MFM({ variant: '2/1', name: 'f' })],
    ['mfm 3/2', new MFM({ variant: '3/2', name: 'g' })],
    ['prelu (non-default init)', new PReLU({ initialSlope: 0.1, name: 'p' })],
  ];
  for (const [label, layer] of cases) {
    it(`${label}: getConfig -> fromConfig gives the same config and outputs`, () => {
      const config = layer.getConfig();
      // what tf.loadLayersModel does: look the class up by name, then fromConfig
      const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[layer.getClassName()]!;
      const copy = fromConfig(cls, config) as tf.layers.Layer;
      expect(copy).toBeInstanceOf(layer.constructor);
      expect(copy.getConfig()).toEqual(config);
      const x = tf.tensor(distinctPieces([2, 3, 3, 12], 4, rng(3)), [2, 3, 3, 12]);
      tf.tidy(() => {
        expect((copy.apply(x) as tf.Tensor).dataSync()).toEqual((layer.apply(x) as tf.Tensor).dataSync());
      });
      x.dispose();
    });
  }

  it('the custom classes are registered under prefixed names', () => {
    const registered = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const name of CUSTOM_ACTIVATION_CLASS_NAMES) {
      expect(name.startsWith('Fcl')).toBe(true);
      expect(registered[name]).toBeDefined();
    }
  });

  for (const spec of ALL_SPECS) {
    it(`a model with ${formatActivation(spec)} saves and loads with identical outputs`, async () => {
      const model = tinyModel(spec);
      if (spec.name === 'prelu') {
        // learned slopes must survive the trip, not come back as 0.25
        for (const name of ['conv1_act', 'fc1_act']) {
          const layer = model.getLayer(name);
          layer.setWeights([tf.tensor1d(Array.from({ length: layer.weights[0]!.shape[0]! }, (_, i) => 0.1 + 0.05 * i))]);
        }
      }
      let artifacts: tf.io.ModelArtifacts | undefined;
      await model.save(tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }));
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
      for (const name of ['conv1_act', 'fc1_act']) {
        expect(loaded.getLayer(name).getClassName()).toBe(model.getLayer(name).getClassName());
        expect(loaded.getLayer(name).getConfig()).toEqual(model.getLayer(name).getConfig());
      }
      const x = tf.tensor(awayFromZero(2 * 5 * 5 * 2, rng(9)), [2, 5, 5, 2]);
      const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
      expect(b.shape).toEqual([2, 6]);
      expect(b.dataSync()).toEqual(a.dataSync());
      tf.dispose([x, a, b]);
      model.dispose();
      loaded.dispose();
    });
  }
});

// ---------------------------------------------------------------- 5. specs

describe('parse and format', () => {
  it('parses valid strings, with defaults and aliases', () => {
    expect(parseActivation('relu')).toEqual({ name: 'relu' });
    expect(parseActivation('  ReLU ')).toEqual({ name: 'relu' });
    expect(parseActivation('leaky_relu')).toEqual({ name: 'leaky_relu', alpha: 0.01 });
    expect(parseActivation('leaky:0.1')).toEqual({ name: 'leaky_relu', alpha: 0.1 });
    expect(parseActivation('silu')).toEqual({ name: 'swish' });
    expect(parseActivation('rrelu')).toEqual({ name: 'rrelu', lower: 1 / 8, upper: 1 / 3 });
    expect(parseActivation('rrelu:0.1:0.3')).toEqual({ name: 'rrelu', lower: 0.1, upper: 0.3 });
    expect(parseActivation('maxout')).toEqual({ name: 'maxout', k: 2 });
    expect(parseActivation('maxout:5')).toEqual({ name: 'maxout', k: 5 });
    expect(parseActivation('mfm')).toEqual({ name: 'mfm', variant: '2/1' });
    expect(parseActivation('mfm:3/2')).toEqual({ name: 'mfm', variant: '3/2' });
  });

  it('format and parse round trip for every activation', () => {
    for (const spec of ALL_SPECS) expect(parseActivation(formatActivation(spec))).toEqual(spec);
    expect(formatActivation({ name: 'mfm', variant: '3/2' })).toBe('mfm:3/2');
    expect(formatActivation({ name: 'maxout', k: 3 })).toBe('maxout:3');
  });

  it.each([
    ['softmax', /unknown activation "softmax"; choose one of sigmoid, tanh, relu/],
    ['', /unknown activation/],
    ['maxout:6', /maxout takes k = 2\.\.5/],
    ['maxout:2.5', /maxout takes k = 2\.\.5/],
    ['maxout:x', /k must be a number/],
    ['mfm:4/3', /MFM is 2\/1 or 3\/2/],
    ['leaky_relu:2', /between 0 and 1/],
    ['leaky_relu:abc', /the slope must be a number/],
    ['rrelu:0.5:0.2', /0 <= lower < upper < 1/],
    ['relu:3', /relu takes no parameters/],
  ])('rejects %j', (text, message) => {
    expect(() => parseActivation(text)).toThrow(ActivationSpecError);
    expect(() => parseActivation(text)).toThrow(message);
  });
});

// ---------------------------------------------------------------- 6. memory

describe('no tensor leaks', () => {
  for (const spec of ALL_SPECS) {
    it(formatActivation(spec), () => {
      const shape = [2, 3, 3, inChannels(spec, 4)];
      const x = tf.tensor(inputFor(spec, shape, rng(17)), shape);
      const layer = createActivation(spec, 'act');
      tf.dispose(layer.apply(x) as tf.Tensor); // build (creates prelu's weights) before counting
      setTrainingStep(3, 0);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 25; i++) {
        setTrainingStep(3, i);
        tf.tidy(() => {
          layer.apply(x);
          layer.apply(x, { training: true });
          tf.grad((xt: tf.Tensor) => tf.sum(layer.apply(xt, { training: true }) as tf.Tensor))(x);
        });
        // outside tidy, the layer must clean up its own intermediates
        tf.dispose(layer.apply(x, { training: i % 2 === 0 }) as tf.Tensor);
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  }
});
