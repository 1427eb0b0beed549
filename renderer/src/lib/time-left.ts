// "About N min left" under a progress bar, from the rate so far. Nothing is said until a few
// updates have come (the first ones are start-up, not the pace), nor when there is no total,
// no progress or the total is done. The estimate starts over when the work changes (a new
// phase, a new total, progress going backwards). One tracker per progress bar.
export const MIN_UPDATES = 3;

export interface TimeLeftTracker {
  /** Record one update (done of total, at now ms) and say the time left, or null. */
  update(done: number, total: number | null, key?: string, now?: number): string | null;
}

export function timeLeftTracker(clock: () => number = () => Date.now(), minUpdates = MIN_UPDATES): TimeLeftTracker {
  let start: { done: number; at: number } | null = null;
  let updates = 0;
  let lastDone = -1;
  let basis = '';
  return {
    update(done, total, key = '', now = clock()) {
      if (total === null || !(total > 0) || !Number.isFinite(done)) return null;
      const work = `${key}|${total}`;
      if (start === null || work !== basis || done < lastDone) {
        start = { done, at: now };
        updates = 0;
        basis = work;
        lastDone = done;
        return null;
      }
      if (done > lastDone) updates += 1;
      lastDone = done;
      if (updates < minUpdates || done >= total) return null;
      const elapsed = now - start.at;
      const rate = (done - start.done) / elapsed;
      if (!(elapsed > 0) || !(rate > 0)) return null;
      return formatTimeLeft((total - done) / rate / 1000);
    },
  };
}

/** Seconds left in words: "less than a minute left", "about 4 min left", "about 2 h 10 min left". */
export function formatTimeLeft(seconds: number): string | null {
  if (!Number.isFinite(seconds) || seconds < 0) return null;
  if (seconds < 60) return 'less than a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${minutes} min left`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `about ${h} h left` : `about ${h} h ${m} min left`;
}
