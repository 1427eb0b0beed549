import { describe, expect, test } from 'vitest';
import { StepHistory } from '../step-history';

const steps = (h: StepHistory<{ step: number }>) => h.rows().map((r) => r.step);

describe('step history', () => {
  test('keeps every row up to its capacity', () => {
    const h = new StepHistory<{ step: number }>(4);
    for (let s = 10; s <= 40; s += 10) h.push({ step: s });
    expect(steps(h)).toEqual([10, 20, 30, 40]);
  });

  test('past its capacity, the whole run evenly at a coarser grain, and always the newest', () => {
    const h = new StepHistory<{ step: number }>(4);
    for (let s = 1; s <= 5; s++) h.push({ step: s });
    // 5 rows over a capacity of 4: every other one stays, from the newest back.
    expect(steps(h)).toEqual([1, 3, 5]);
    expect(h.grain).toBe(2);
    h.push({ step: 6 });
    expect(steps(h)).toEqual([1, 3, 5, 6]); // the newest, held apart
    h.push({ step: 7 });
    expect(steps(h)).toEqual([1, 3, 5, 7]);
    for (let s = 8; s <= 100; s++) h.push({ step: s });
    expect(h.length).toBeLessThanOrEqual(5);
    const held = steps(h);
    expect(held[0]).toBe(1);
    expect(held.at(-1)).toBe(100);
    // Evenly spaced kept rows (the newest may be closer).
    const gaps = held.slice(1, -1).map((s, i) => s - held[i]!);
    expect(new Set(gaps).size).toBe(1);
  });

  test('an odd capacity is rounded up to even, so halving keeps the oldest row', () => {
    const h = new StepHistory<{ step: number }>(3);
    expect(h.capacity).toBe(4);
    for (let s = 1; s <= 50; s++) h.push({ step: s });
    expect(steps(h)[0]).toBe(1);
    expect(steps(h).at(-1)).toBe(50);
  });

  test('a step at or before the newest replaces the rows from there on (a resumed run)', () => {
    const h = new StepHistory<{ step: number; v: number }>(10);
    for (const step of [10, 20, 30]) h.push({ step, v: 1 });
    h.push({ step: 20, v: 2 });
    expect(h.rows()).toEqual([
      { step: 10, v: 1 },
      { step: 20, v: 2 },
    ]);
    h.truncateAfter(10);
    expect(h.rows().map((r) => r.step)).toEqual([10]);
    h.clear();
    expect(h.length).toBe(0);
    expect(h.firstStep).toBeNaN();
  });
});
