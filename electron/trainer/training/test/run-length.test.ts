// The protocol's step count (what the Experiment view estimates a run's length with) is the
// one the trainer trains by: the batcher's batches per epoch, with the last partial batch
// dropped unless the training images do not fill one.
import { expect, test } from 'vitest';
import { epochBatchCount } from '../../../../datasets/batches';
import { stepsPerEpoch, totalSteps } from '#protocol/train-config';

test('stepsPerEpoch is the batcher’s count for every size of split and batch', () => {
  for (let images = 0; images <= 70; images++) {
    for (const batch of [1, 2, 3, 7, 16, 64, 128]) expect(stepsPerEpoch(images, batch), `${images} images, batch ${batch}`).toBe(epochBatchCount(images, batch, images >= batch));
  }
});

test('totalSteps: every epoch, or maxSteps when smaller; 0 is no limit', () => {
  expect(totalSteps(9, 5, 0)).toBe(45);
  expect(totalSteps(9, 5, 20)).toBe(20);
  expect(totalSteps(9, 5, 100)).toBe(45);
});
