import { describe, expect, test } from 'vitest';
import { LossWatch } from '../../../../electron/trainer/training/loss-watch';
import { AT_CHANCE_FRACTION, chanceLines, LEARNING_GRACE_STEPS, LEARNING_WINDOW, notLearning, type RecentLoss } from '../chance';

describe('chance lines', () => {
  test('ln C on the loss and 1/C on the accuracy, labelled with their arithmetic', () => {
    expect(chanceLines([40])).toEqual({
      loss: [{ label: 'chance (ln 40 = 3.69)', value: Math.log(40) }],
      accuracy: [{ label: 'chance (1/40 = 0.025)', value: 1 / 40 }],
    });
    expect(chanceLines([10_575]).accuracy[0]?.label).toBe('chance (1/10575 = 9.5e-5)');
  });

  test('one line per identity count, named by it when there are several; unknown counts left out', () => {
    const lines = chanceLines([40, undefined, 12, 40, null, 1, 2.5]);
    expect(lines.loss.map((l) => l.label)).toEqual(['chance, 12 identities (ln 12 = 2.48)', 'chance, 40 identities (ln 40 = 3.69)']);
    expect(lines.accuracy.map((l) => l.value)).toEqual([1 / 12, 1 / 40]);
    expect(chanceLines([undefined])).toEqual({ loss: [], accuracy: [] });
  });
});

/** The newest `window` losses of a stream, as LiveRun.recentLoss reads them. */
function recent(losses: readonly number[], window = LEARNING_WINDOW): RecentLoss {
  const last = losses.slice(-window);
  return { step: losses.length, mean: last.reduce((a, b) => a + b, 0) / last.length, full: losses.length >= window };
}

describe('not learning', () => {
  const classes = 40;
  const chance = Math.log(classes);
  const flat = Array.from({ length: 200 }, (_, i) => chance + 0.02 * Math.sin(i));
  const falling = Array.from({ length: 200 }, (_, i) => chance * Math.exp(-i / 60));

  test('is said from the same step as the trainer says it, and for as long as the loss stays at chance', () => {
    for (const warmup of [0, 50]) {
      const watch = new LossWatch(classes, warmup);
      let trainerSaid: number | null = null;
      flat.forEach((loss, i) => {
        watch.observe(i + 1, loss);
        if (trainerSaid === null && watch.notLearning(i + 1) !== undefined) trainerSaid = i + 1;
      });
      expect(trainerSaid).toBe(warmup + LEARNING_GRACE_STEPS);
      expect(notLearning(recent(flat.slice(0, warmup + LEARNING_GRACE_STEPS - 1)), classes, warmup)).toBeNull();
      expect(notLearning(recent(flat.slice(0, warmup + LEARNING_GRACE_STEPS)), classes, warmup)).toMatchObject({ step: warmup + LEARNING_GRACE_STEPS, classes, warmupSteps: warmup });
      expect(notLearning(recent(flat), classes, warmup)?.chance).toBeCloseTo(chance);
    }
  });

  test('is not said of a falling loss, as the trainer does not say it', () => {
    const watch = new LossWatch(classes, 0);
    const said = falling.map((loss, i) => (watch.observe(i + 1, loss), watch.notLearning(i + 1)));
    expect(said.every((s) => s === undefined)).toBe(true);
    for (let n = LEARNING_GRACE_STEPS; n <= falling.length; n += 10) expect(notLearning(recent(falling.slice(0, n)), classes, 0)).toBeNull();
  });

  test('holds at AT_CHANCE_FRACTION x ln C, and needs the whole window and a known C', () => {
    const at = Array.from({ length: LEARNING_GRACE_STEPS + 30 }, () => AT_CHANCE_FRACTION * chance);
    expect(notLearning(recent(at), classes, 0)).not.toBeNull();
    expect(notLearning(recent(at.map((l) => l - 0.01)), classes, 0)).toBeNull();
    expect(notLearning({ ...recent(at), full: false }, classes, 0)).toBeNull();
    expect(notLearning({ ...recent(at), mean: null }, classes, 0)).toBeNull();
    expect(notLearning(recent(at), null, 0)).toBeNull();
    expect(notLearning(null, classes, 0)).toBeNull();
  });
});
