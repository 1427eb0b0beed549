// A bounded history of rows recorded every few steps (the histograms stream), like
// TensorBoard's reservoir: at most `capacity` rows spread evenly over the whole run, not only
// its recent end, and always the newest. Past the capacity every other row goes and from then
// on only every `grain`-th arriving row is kept (the newest one is held apart until then).

export class StepHistory<T extends { step: number }> {
  private kept: T[] = [];
  /** The newest row when it was not kept on the grain. */
  private newest: T | null = null;
  /** Arriving rows each kept row stands for (a power of two). */
  grain = 1;
  private sinceKept = 0;

  readonly capacity: number;

  /** `capacity` rounded up to even: halving an odd count from the newest back would drop the oldest row. */
  constructor(capacity = 500) {
    this.capacity = capacity + (capacity % 2);
  }

  /** The rows, oldest first, the newest included. */
  rows(): T[] {
    return this.newest ? [...this.kept, this.newest] : [...this.kept];
  }

  get length(): number {
    return this.kept.length + (this.newest ? 1 : 0);
  }

  /** The first step held, or NaN when empty. */
  get firstStep(): number {
    return this.kept[0]?.step ?? this.newest?.step ?? NaN;
  }

  get last(): T | null {
    return this.newest ?? this.kept.at(-1) ?? null;
  }

  /**
   * Adds a row. A step at or before the newest held means the run went back (resumed from a
   * checkpoint): the rows from that step on are replaced.
   */
  push(row: T): void {
    if (this.length > 0 && row.step <= (this.last as T).step) this.truncateAfter(row.step - 1);
    this.sinceKept++;
    if (this.sinceKept < this.grain) {
      this.newest = row;
      return;
    }
    this.sinceKept = 0;
    this.newest = null;
    this.kept.push(row);
    if (this.kept.length > this.capacity) {
      // Every other row from the oldest, so what stays is still even (the newest stays too).
      const lastIndex = this.kept.length - 1;
      this.kept = this.kept.filter((_, i) => i % 2 === lastIndex % 2);
      this.grain *= 2;
    }
  }

  /** Drops the rows after `step`. */
  truncateAfter(step: number): void {
    this.kept = this.kept.filter((r) => r.step <= step);
    if (this.newest && this.newest.step > step) this.newest = null;
  }

  clear(): void {
    this.kept = [];
    this.newest = null;
    this.grain = 1;
    this.sinceKept = 0;
  }
}
