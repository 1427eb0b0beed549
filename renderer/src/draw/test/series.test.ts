import { describe, expect, test } from 'vitest';
import { FrameHistory, SeriesBuffer } from '../series';

describe('SeriesBuffer', () => {
  test('keeps every row below its ceiling, and shows them all when asked for enough points', () => {
    const b = new SeriesBuffer(3, { maxPoints: 100, initialCapacity: 16 });
    for (let s = 1; s <= 50; s++) b.push([s, s * 2, s % 2 ? NaN : 1]);
    expect(b.length).toBe(50);
    expect(b.grain).toBe(1);
    const v = b.view(100);
    expect(v.x).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(v.columns[0]![9]).toBe(20);
    expect(v.columns[1]![0]).toBeNull(); // NaN -> null (a gap)
    expect(v.columns[1]![1]).toBe(1);
  });

  test('a 100k-step run stays within its ceiling and keeps its whole span, averaged', () => {
    const b = new SeriesBuffer(2, { maxPoints: 1000 });
    for (let s = 1; s <= 100_000; s++) b.push([s, s]);
    expect(b.length).toBeLessThanOrEqual(1000);
    expect(b.bytes).toBeLessThanOrEqual(2 * 1000 * 8);
    expect(b.firstStep).toBeLessThanOrEqual(b.grain);
    expect(b.lastStep).toBe(100_000);
    expect(b.grain).toBeGreaterThan(64);
    // Each stored row is the mean of the steps it stands for: y (= step) lags its x by about grain/2.
    const v = b.view(5000);
    for (let i = 0; i < v.x.length - 1; i++) {
      expect(Math.abs((v.columns[0]![i] as number) - (v.x[i] as number) + (b.grain - 1) / 2)).toBeLessThan(1e-6);
    }
  });

  test('view thins to at most the asked-for points, the last one at the newest step', () => {
    const b = new SeriesBuffer(2);
    for (let s = 1; s <= 4999; s++) b.push([s, 1]);
    const v = b.view(100);
    expect(v.x.length).toBeLessThanOrEqual(100);
    expect(v.x.at(-1)).toBe(4999);
    expect(v.columns[0]!.every((y) => y === 1)).toBe(true);
  });

  test("'last' and 'max' columns merge by their rule", () => {
    const b = new SeriesBuffer(3, { maxPoints: 4, reduce: [undefined, 'last', 'max'] });
    const rows = [
      [1, 10, 5],
      [2, 20, 1],
      [3, 30, 7],
      [4, 40, 2],
      [5, 50, 3],
    ];
    for (const r of rows) b.push(r);
    // Four rows fill the four slots and merge pairwise; the fifth waits for its pair.
    expect(b.grain).toBe(2);
    expect([...b.rows()]).toEqual([
      [2, 20, 5],
      [4, 40, 7],
      [5, 50, 3],
    ]);
    b.push([6, 60, 1]);
    expect(b.stored).toBe(3);
    expect([...b.rows()].at(-1)).toEqual([6, 60, 3]);
  });

  test('truncateAfter drops rows after a step (a resume from an earlier checkpoint)', () => {
    const b = new SeriesBuffer(2);
    for (let s = 1; s <= 10; s++) b.push([s, s]);
    b.truncateAfter(6);
    expect(b.lastStep).toBe(6);
    b.push([7, 70]);
    expect(b.view().columns[0]!.at(-1)).toBe(70);
    b.clear();
    expect(b.length).toBe(0);
    expect(Number.isNaN(b.lastStep)).toBe(true);
  });
});

describe('FrameHistory', () => {
  // 2 probes x 3 channels; stats [min, max, mean, maxAbs] per map, mean = step * 10 + probe * 3 + channel.
  const stats = (step: number) => {
    const s = new Float32Array(2 * 3 * 4);
    for (let p = 0; p < 2; p++) for (let c = 0; c < 3; c++) s.set([0, 1, step * 10 + p * 3 + c, step], (p * 3 + c) * 4);
    return s;
  };

  test("one channel's mean and max |x| per probe over the frames", () => {
    const h = new FrameHistory(2, 3, 16);
    for (let step = 1; step <= 3; step++) h.push(step, stats(step));
    const c = h.channel(2);
    expect(c.steps).toEqual([1, 2, 3]);
    expect(c.mean).toEqual([
      [12, 22, 32],
      [15, 25, 35],
    ]);
    expect(c.maxAbs[0]).toEqual([1, 2, 3]);
    expect(() => h.channel(3)).toThrow(RangeError);
  });

  test('a second frame at the same step (probe now, while paused) replaces the first', () => {
    const h = new FrameHistory(2, 3, 16);
    h.push(5, stats(5));
    h.push(5, stats(6));
    expect(h.length).toBe(1);
    expect(h.channel(0).mean[0]).toEqual([60]);
  });

  test('bounded: past its capacity it thins, spans the whole run and ends at the newest frame', () => {
    const h = new FrameHistory(2, 3, 10);
    for (let step = 1; step <= 1000; step++) h.push(step, stats(step));
    expect(h.length).toBeLessThanOrEqual(10);
    const steps = h.channel(0).steps;
    expect(steps.at(-1)).toBe(1000);
    expect(steps[0]).toBeLessThan(300);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
  });

  test('capacity follows a byte budget', () => {
    expect(FrameHistory.capacityFor(4, 256, 8 << 20)).toBe(1022);
    expect(FrameHistory.capacityFor(1, 1)).toBe(2048);
  });
});
