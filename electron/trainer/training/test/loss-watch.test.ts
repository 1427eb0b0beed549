import { describe, expect, test } from 'vitest';
import { chanceLoss, explodedLoss, HIGH_STREAK_LIMIT, highLoss, LEARNING_GRACE_STEPS, LossWatch } from '../loss-watch';

describe('thresholds against chance level', () => {
  test('chance is ln(classes); high is 3x chance (at least chance + 3); exploded 10x (at least chance + 20)', () => {
    expect(chanceLoss(40)).toBeCloseTo(3.689, 3);
    expect(highLoss(40)).toBeCloseTo(3 * Math.log(40), 10);
    expect(explodedLoss(40)).toBeCloseTo(10 * Math.log(40), 10);
    expect(highLoss(2)).toBeCloseTo(Math.log(2) + 3, 10);
    expect(explodedLoss(2)).toBeCloseTo(Math.log(2) + 20, 10);
  });
});

describe('LossWatch', () => {
  test("the issue's first run (16.4, 80.2, 83.7, 8,629 on ORL's 40 people) is a divergence at step 3, before any NaN", () => {
    const watch = new LossWatch(40, 0);
    // Its first loss (He-normal weights) sets the floor: 1.5 x 16.4 is "high", 5 x 16.4 "exploded".
    expect(watch.observe(1, 16.4)).toEqual({ kind: 'ok' });
    expect(watch.observe(2, 80.2)).toEqual({ kind: 'high', first: true, streak: 1 });
    const verdict = watch.observe(3, 83.7);
    expect(verdict.kind).toBe('exploded');
    expect(verdict.kind === 'exploded' && verdict.reason).toMatch(/83\.70, 23 x chance level \(ln 40 = 3\.69\)/);
  });

  test('from chance level (PyTorch init), 10x chance at once is a divergence', () => {
    const watch = new LossWatch(40, 0);
    expect(watch.observe(1, 3.69)).toEqual({ kind: 'ok' });
    expect(watch.observe(2, 16.4)).toEqual({ kind: 'high', first: true, streak: 1 });
    expect(watch.observe(3, 80.2).kind).toBe('exploded');
  });

  test('an initialisation above chance is a start, not a divergence: it may come down', () => {
    const watch = new LossWatch(40, 0);
    for (const [step, loss] of [[1, 16.4], [2, 14], [3, 12], [4, 11.5], [5, 9], [6, 6], [7, 4]] as const) expect(watch.observe(step, loss).kind).toBe('ok');
  });

  test('a loss that stays above 3x chance for HIGH_STREAK_LIMIT steps is a divergence even below 10x', () => {
    const watch = new LossWatch(40, 0);
    watch.observe(1, 3.7);
    for (let step = 2; step <= HIGH_STREAK_LIMIT; step++) expect(watch.observe(step, 12).kind).toBe('high');
    expect(watch.highSince).toBe(2);
    expect(watch.observe(HIGH_STREAK_LIMIT + 1, 12).kind).toBe('exploded');
  });

  test('a spike that comes back down ends the streak: checkpoints resume, the next spike is "first" again', () => {
    const watch = new LossWatch(40, 0);
    expect(watch.observe(1, 3.7)).toEqual({ kind: 'ok' });
    expect(watch.observe(2, 13)).toMatchObject({ kind: 'high', first: true });
    expect(watch.observe(3, 14)).toMatchObject({ kind: 'high', first: false, streak: 2 });
    expect(watch.observe(4, 3.5)).toEqual({ kind: 'ok' });
    expect(watch.isHigh).toBe(false);
    expect(watch.observe(5, 13)).toMatchObject({ kind: 'high', first: true, streak: 1 });
  });

  test('"has not started learning" is said once, after the warm-up and the grace steps, only while the loss is at chance', () => {
    const flat = new LossWatch(40, 10);
    const said: Array<[number, string]> = [];
    for (let step = 1; step <= 200; step++) {
      flat.observe(step, Math.log(40) + 0.001 * Math.sin(step));
      const message = flat.notLearning(step);
      if (message) said.push([step, message]);
    }
    expect(said).toHaveLength(1);
    expect(said[0]?.[0]).toBe(10 + LEARNING_GRACE_STEPS);
    expect(said[0]?.[1]).toMatch(/has not started learning: 110 steps in \(10 of warm-up\).*still chance level \(ln 40 = 3\.689\)/);

    const learning = new LossWatch(40, 10);
    for (let step = 1; step <= 200; step++) {
      learning.observe(step, Math.log(40) * Math.exp(-step / 30));
      expect(learning.notLearning(step)).toBeUndefined();
    }
  });
});
