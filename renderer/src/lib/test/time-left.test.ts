import { describe, expect, it } from 'vitest';
import { formatTimeLeft, timeLeftTracker } from '../time-left';

describe('time left (issue 14, 4)', () => {
  it('says nothing until a few updates have come, then estimates from the rate so far', () => {
    const t = timeLeftTracker();
    expect(t.update(0, 100, '', 0)).toBeNull();
    expect(t.update(1, 100, '', 6_000)).toBeNull();
    expect(t.update(2, 100, '', 12_000)).toBeNull();
    // 3 items in 18 s: 6 s each, 97 left → 582 s ≈ 10 min
    expect(t.update(3, 100, '', 18_000)).toBe('about 10 min left');
  });

  it('says nothing without a total, and nothing once done', () => {
    const t = timeLeftTracker();
    expect(t.update(5, null, '', 0)).toBeNull();
    for (let i = 0; i <= 4; i += 1) t.update(i * 10, 40, '', i * 1000);
    expect(t.update(40, 40, '', 5000)).toBeNull();
  });

  it('starts over on a new phase or when progress goes back', () => {
    const t = timeLeftTracker();
    for (let i = 0; i <= 3; i += 1) t.update(i, 100, 'download', i * 1000);
    expect(t.update(4, 100, 'download', 4000)).not.toBeNull();
    expect(t.update(5, 100, 'decode', 5000)).toBeNull();
    expect(t.update(6, 100, 'decode', 6000)).toBeNull();
    // Back to 0 (a retried download): the pace so far is thrown away.
    expect(t.update(0, 100, 'decode', 7000)).toBeNull();
    expect(t.update(1, 100, 'decode', 8000)).toBeNull();
    expect(t.update(2, 100, 'decode', 9000)).toBeNull();
    expect(t.update(3, 100, 'decode', 10000)).toBe('about 2 min left');
  });

  it('repeated updates without progress do not count as updates', () => {
    const t = timeLeftTracker();
    t.update(0, 100, '', 0);
    t.update(1, 100, '', 1000);
    t.update(1, 100, '', 2000);
    t.update(1, 100, '', 3000);
    expect(t.update(1, 100, '', 4000)).toBeNull();
  });

  it('words the time left', () => {
    expect(formatTimeLeft(30)).toBe('less than a minute left');
    expect(formatTimeLeft(4 * 60 + 10)).toBe('about 4 min left');
    expect(formatTimeLeft(130 * 60)).toBe('about 2 h 10 min left');
    expect(formatTimeLeft(120 * 60)).toBe('about 2 h left');
    expect(formatTimeLeft(Number.NaN)).toBeNull();
  });
});
