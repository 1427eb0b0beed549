// StepDropout: inverted dropout whose mask is drawn from (run seed, step, layer name), so it
// changes every step, replays after a resume, and differs between layers.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { StepDropout } from '../dropout';
import { setTrainingStep } from '../step-random';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => setTrainingStep(0, 0));

/** Values 0.5, 1, ..., never 0, so a 0 in the output is a dropped unit. */
function input(shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, (_, i) => 0.5 + (i % 13) * 0.5 - (i % 2 === 0 ? 0 : 7)), shape);
}

function run(layer: StepDropout, x: tf.Tensor, training: boolean): Float32Array {
  return tf.tidy(() => (layer.apply(x, { training }) as tf.Tensor).dataSync() as Float32Array);
}

/** Which units were kept (true) in one training pass over `x`. */
function mask(layer: StepDropout, x: tf.Tensor): boolean[] {
  return Array.from(run(layer, x, true), (v) => v !== 0);
}

describe('StepDropout', () => {
  test('inference returns the input unchanged, as a new tensor', () => {
    const layer = new StepDropout({ rate: 0.5, name: 'drop_infer' });
    const x = input([4, 6, 6, 3]);
    for (const training of [false, undefined]) {
      const y = layer.apply(x, training === undefined ? {} : { training }) as tf.Tensor;
      expect(y).not.toBe(x);
      expect(y.shape).toEqual(x.shape);
      expect(y.dataSync()).toEqual(x.dataSync());
      y.dispose();
    }
    x.dispose();
  });

  test.each([0.25, 0.5, 0.9])('training with rate %s: kept units are scaled by exactly 1/(1-rate), dropped ones are 0', (rate) => {
    setTrainingStep(3, 10);
    const layer = new StepDropout({ rate, name: 'drop_scale' });
    const x = input([8, 50]);
    const xs = x.dataSync();
    const y = run(layer, x, true);
    let kept = 0;
    let dropped = 0;
    for (let i = 0; i < y.length; i++) {
      if (y[i] === 0) {
        dropped++;
      } else {
        kept++;
        expect(y[i]).toBe(Math.fround(xs[i]! / Math.fround(1 - rate)));
      }
    }
    expect(kept).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    x.dispose();
  });

  test.each([0.1, 0.5, 0.7])('rate %s: the fraction dropped on a large tensor is close to the rate', (rate) => {
    setTrainingStep(11, 5);
    const layer = new StepDropout({ rate, name: 'drop_fraction' });
    const x = tf.ones([200, 1000]);
    const y = run(layer, x, true);
    const fraction = y.filter((v) => v === 0).length / y.length;
    // 200,000 draws: the standard deviation of the fraction is at most 0.0012
    expect(Math.abs(fraction - rate)).toBeLessThan(0.01);
    x.dispose();
  });

  test('a new step gives a new mask; the same (seed, step) replays the identical mask', () => {
    const layer = new StepDropout({ rate: 0.5, name: 'drop_steps' });
    const x = tf.ones([16, 64]);
    setTrainingStep(7, 100);
    const first = mask(layer, x);
    setTrainingStep(7, 101);
    const next = mask(layer, x);
    setTrainingStep(8, 100);
    const otherSeed = mask(layer, x);
    setTrainingStep(7, 100);
    const replay = mask(layer, x);
    expect(replay).toEqual(first);
    expect(next).not.toEqual(first);
    expect(otherSeed).not.toEqual(first);
    // a second layer object with the same name (a reloaded model) draws the same mask too
    expect(mask(new StepDropout({ rate: 0.5, name: 'drop_steps' }), x)).toEqual(first);
    x.dispose();
  });

  test('within one step, the mask does not change between calls (what a resume relies on)', () => {
    const layer = new StepDropout({ rate: 0.3, name: 'drop_same_step' });
    const x = tf.ones([10, 40]);
    setTrainingStep(1, 42);
    expect(mask(layer, x)).toEqual(mask(layer, x));
    x.dispose();
  });

  test('two layers with different names get different masks in the same step', () => {
    const a = new StepDropout({ rate: 0.5, name: 'dropout_a' });
    const b = new StepDropout({ rate: 0.5, name: 'dropout_b' });
    const x = tf.ones([16, 64]);
    setTrainingStep(5, 9);
    const maskA = mask(a, x);
    const maskB = mask(b, x);
    expect(maskA).not.toEqual(maskB);
    // and not merely shifted copies of each other: they agree on about half the units
    const agree = maskA.filter((kept, i) => kept === maskB[i]).length / maskA.length;
    expect(agree).toBeGreaterThan(0.4);
    expect(agree).toBeLessThan(0.6);
    x.dispose();
  });

  test('rate 0 is the identity, in training too', () => {
    const layer = new StepDropout({ rate: 0, name: 'drop_zero' });
    const x = input([5, 7]);
    setTrainingStep(1, 1);
    expect(run(layer, x, true)).toEqual(x.dataSync());
    expect(run(layer, x, false)).toEqual(x.dataSync());
    x.dispose();
  });

  test('a rate outside [0, 1) is refused', () => {
    expect(() => new StepDropout({ rate: 1 })).toThrow(RangeError);
    expect(() => new StepDropout({ rate: -0.1 })).toThrow(/dropout rate must be in \[0, 1\), got -0\.1/);
    expect(() => new StepDropout({ rate: Number.NaN })).toThrow(RangeError);
  });

  test('getConfig -> fromConfig round trip, under its registered class name', () => {
    const layer = new StepDropout({ rate: 0.35, name: 'drop_config' });
    const config = layer.getConfig();
    expect(config['rate']).toBe(0.35);
    expect(config['name']).toBe('drop_config');
    expect(layer.getClassName()).toBe('FclStepDropout');
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap['FclStepDropout']!;
    const copy = fromConfig(cls, config) as tf.layers.Layer;
    expect(copy).toBeInstanceOf(StepDropout);
    expect(copy.getConfig()).toEqual(config);
  });

  test('a model with a StepDropout saves and loads (tf.io.fromMemory), with the same masks', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [6], units: 32, kernelInitializer: 'ones', biasInitializer: 'ones', name: 'dense' }), new StepDropout({ rate: 0.4, name: 'dropout' })],
    });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (artifacts === undefined) throw new Error('not saved');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const original = model.getLayer('dropout');
    const restored = loaded.getLayer('dropout');
    expect(restored).toBeInstanceOf(StepDropout);
    expect((restored as StepDropout).rate).toBe(0.4);
    expect(restored.getConfig()).toEqual(original.getConfig());

    const x = tf.ones([4, 6]);
    const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(b.dataSync()).toEqual(a.dataSync()); // inference: no dropout
    setTrainingStep(2, 30);
    const h = model.getLayer('dense').apply(x) as tf.Tensor;
    expect(mask(restored as StepDropout, h)).toEqual(mask(original as StepDropout, h));
    tf.dispose([x, a, b, h]);
    model.dispose();
    loaded.dispose();
  });

  test('no tensor leaks, in training and in inference', () => {
    const layer = new StepDropout({ rate: 0.5, name: 'drop_leak' });
    const x = tf.ones([8, 8, 4]);
    tf.dispose(layer.apply(x, { training: true }) as tf.Tensor); // builds the layer before counting
    const before = tf.memory().numTensors;
    for (let step = 0; step < 50; step++) {
      setTrainingStep(1, step);
      tf.dispose(layer.apply(x, { training: step % 2 === 0 }) as tf.Tensor);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
