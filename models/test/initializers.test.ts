// Initial weights: PyTorch's default by default (as the reference trains), He and Glorot on
// request; and what that means for a deep MFM network's first loss.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, type BuiltModel, type ModelConfig } from '../lightcnn';
import { layerInitializers } from '../initializers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function withModel<T>(config: ModelConfig, fn: (built: BuiltModel) => T): T {
  const built = buildModel(config);
  try {
    return fn(built);
  } finally {
    built.model.dispose();
  }
}

const valuesOf = (built: BuiltModel, name: string): Float32Array => {
  const weight = built.model.weights.find((w) => w.originalName === name);
  if (!weight) throw new Error(`no weight ${name}`);
  return weight.read().dataSync() as Float32Array;
};

function moments(values: Float32Array): { std: number; maxAbs: number } {
  let sum = 0;
  let sq = 0;
  let maxAbs = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const mean = sum / values.length;
  return { std: Math.sqrt(sq / values.length - mean * mean), maxAbs };
}

/** Mean softmax cross-entropy of the untrained network on random faces (inference mode). */
function initialLoss(config: ModelConfig): number {
  return withModel(config, (built) =>
    tf.tidy(() => {
      const size = config.inputSize ?? 128;
      const x = tf.randomUniform([8, size, size, 1], 0, 1, 'float32', 5);
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), config.numClasses);
      return tf.losses.softmaxCrossEntropy(labels, built.model.predict(x) as tf.Tensor).dataSync()[0] as number;
    }),
  );
}

describe('PyTorch default initialisation (nn.Conv2d / nn.Linear reset_parameters)', () => {
  it('kernels and biases are uniform in ±1/sqrt(fan_in): std 1/sqrt(3 fan_in)', () => {
    withModel({ architecture: 'lightcnn9', inputSize: 32, numClasses: 10, seed: 3 }, (built) => {
      // conv1: 5x5 over 1 channel -> fan_in 25; group1.b: 3x3 over 48 -> 432; fc: 2x2x128 (32 px) -> 512; classifier: 256.
      for (const [layer, fanIn] of [['conv1', 25], ['group1.b', 432], ['fc', 512], ['classifier', 256]] as const) {
        const bound = 1 / Math.sqrt(fanIn);
        const kernel = moments(valuesOf(built, `${layer}/kernel`));
        expect(kernel.maxAbs, layer).toBeLessThanOrEqual(bound);
        expect(kernel.std / (bound / Math.sqrt(3)), layer).toBeGreaterThan(0.9);
        expect(kernel.std / (bound / Math.sqrt(3)), layer).toBeLessThan(1.1);
        const bias = valuesOf(built, `${layer}/bias`);
        expect(moments(bias).maxAbs, layer).toBeLessThanOrEqual(bound);
        expect(bias.some((v) => v !== 0), layer).toBe(true);
      }
    });
  });

  it('kernel and bias draw from different seeds, and the same seed gives the same weights', () => {
    const init = layerInitializers('pytorch', 16, undefined, 99);
    const a = tf.tidy(() => Array.from(init.kernelInitializer.apply([16], 'float32').dataSync()));
    const b = tf.tidy(() => Array.from(init.biasInitializer.apply([16], 'float32').dataSync()).map((v) => v));
    const again = tf.tidy(() => Array.from(layerInitializers('pytorch', 16, undefined, 99).kernelInitializer.apply([16], 'float32').dataSync()));
    expect(a).toEqual(again);
    expect(a).not.toEqual(b);
  });

  it.each(['lightcnn9', 'lightcnn29'] as const)('%s starts at chance level: its first loss is within 5 percent of ln(classes)', (architecture) => {
    const loss = initialLoss({ architecture, inputSize: 32, numClasses: 40, seed: 1 });
    expect(Math.abs(loss - Math.log(40)) / Math.log(40)).toBeLessThan(0.05);
  });

  it('He-normal (the lab before) starts LightCNN-9 far above chance: the loss the issue saw at step 1', () => {
    const loss = initialLoss({ architecture: 'lightcnn9', inputSize: 64, numClasses: 40, seed: 1, initializer: 'he' });
    expect(loss).toBeGreaterThan(1.5 * Math.log(40));
  });
});

describe('the other schemes', () => {
  it('he: He-normal kernels before MFM, Glorot-uniform classifier, zero biases', () => {
    withModel({ architecture: 'tiny', inputSize: 32, numClasses: 10, seed: 3, initializer: 'he' }, (built) => {
      const conv = moments(valuesOf(built, 'group1.b/kernel'));
      const heStd = Math.sqrt(2 / (3 * 3 * 8));
      expect(conv.std / heStd).toBeGreaterThan(0.8); // truncated normal: a little under sqrt(2/fan_in)
      expect(conv.std / heStd).toBeLessThan(1.05);
      expect(moments(valuesOf(built, 'classifier/kernel')).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / (256 + 10)));
      expect(valuesOf(built, 'conv1/bias').every((v) => v === 0)).toBe(true);
    });
  });

  it('glorot: Glorot-uniform everywhere, zero biases', () => {
    withModel({ architecture: 'tiny', inputSize: 32, numClasses: 10, seed: 3, initializer: 'glorot' }, (built) => {
      // conv1: 5x5, 1 -> 16 filters (MFM 2/1 of 8): limit sqrt(6 / (25 + 400)).
      expect(moments(valuesOf(built, 'conv1/kernel')).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / (25 + 400)));
      expect(valuesOf(built, 'fc/bias').every((v) => v === 0)).toBe(true);
    });
  });
});
