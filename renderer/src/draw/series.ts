// Bounded stores for what a live run streams, and the thinning that makes them cheap to
// chart. A run can be 100k steps and last days: every store here has a fixed ceiling, and
// past it keeps the whole run at a coarser grain (pairs of points merge) rather than only
// its recent end. Plain TypeScript: live-run.svelte.ts owns the instances, tests check them.

/** How a column's values combine when points merge: the mean of the finite ones, the last, or the largest. */
export type Reduce = 'mean' | 'last' | 'max';

export interface SeriesView {
  /** Column 0 (the step) of each shown point: the last step of the points it stands for. */
  x: number[];
  /** Columns 1.., null where a point has no finite value. */
  columns: (number | null)[][];
}

const finite = (v: number): boolean => Number.isFinite(v);

function combine(reduce: Reduce, a: number, b: number): number {
  if (!finite(a)) return b;
  if (!finite(b)) return a;
  if (reduce === 'mean') return (a + b) / 2;
  if (reduce === 'max') return Math.max(a, b);
  return b;
}

/**
 * Rows of numbers (column 0 is the step, increasing) in growable typed arrays with a
 * ceiling: when `maxPoints` rows are stored, neighbouring pairs merge (each column by its
 * Reduce) and from then on every stored row stands for `grain` incoming rows, the newest
 * partial group kept apart so the latest step is always shown. NaN marks a missing value.
 */
export class SeriesBuffer {
  private data: Float64Array[];
  private size = 0;
  private capacity: number;
  /** Incoming rows each stored row stands for (a power of two). */
  grain = 1;
  /** The group being gathered while grain > 1: summed (mean), last or max per column, with finite counts. */
  private pending: Float64Array;
  private pendingCounts: Float64Array;
  private pendingRows = 0;
  private readonly reduce: Reduce[];
  readonly maxPoints: number;

  constructor(
    readonly columns: number,
    /** `reduce[c]` for column c (column 0, the step, always keeps the last); 'mean' where not given. */
    { maxPoints = 50_000, reduce = [], initialCapacity = 1024 }: { maxPoints?: number; reduce?: readonly (Reduce | undefined)[]; initialCapacity?: number } = {},
  ) {
    if (columns < 1) throw new RangeError('a series needs at least its step column');
    this.maxPoints = Math.max(4, maxPoints - (maxPoints % 2));
    this.capacity = Math.min(this.maxPoints, Math.max(16, initialCapacity));
    this.data = Array.from({ length: columns }, () => new Float64Array(this.capacity));
    this.reduce = Array.from({ length: columns }, (_, c) => (c === 0 ? 'last' : (reduce[c] ?? 'mean')));
    this.pending = new Float64Array(columns);
    this.pendingCounts = new Float64Array(columns);
  }

  /** Rows shown: the stored ones plus the partial group, if any. */
  get length(): number {
    return this.size + (this.pendingRows > 0 ? 1 : 0);
  }

  /** Stored rows (without the partial group). */
  get stored(): number {
    return this.size;
  }

  /** The step of the last row pushed, or NaN when empty. */
  get lastStep(): number {
    if (this.pendingRows > 0) return this.pending[0]!;
    return this.size > 0 ? this.data[0]![this.size - 1]! : NaN;
  }

  /** The step of the first row, or NaN when empty. */
  get firstStep(): number {
    if (this.size > 0) return this.data[0]![0]!;
    return this.pendingRows > 0 ? this.pending[0]! : NaN;
  }

  /** Bytes held by the typed arrays (for tests and the memory note). */
  get bytes(): number {
    return this.columns * this.capacity * 8;
  }

  push(row: ArrayLike<number>): void {
    if (this.grain === 1) {
      this.append(row);
      return;
    }
    for (let c = 0; c < this.columns; c++) {
      const v = row[c] ?? NaN;
      const reduce = this.reduce[c]!;
      if (this.pendingRows === 0) {
        this.pending[c] = finite(v) ? v : NaN;
        this.pendingCounts[c] = finite(v) ? 1 : 0;
      } else if (reduce === 'mean') {
        if (finite(v)) {
          this.pending[c] = this.pendingCounts[c]! > 0 ? this.pending[c]! + v : v;
          this.pendingCounts[c]! += 1;
        }
      } else {
        this.pending[c] = combine(reduce, this.pending[c]!, v);
      }
    }
    this.pendingRows++;
    if (this.pendingRows >= this.grain) {
      const row = this.pendingRow();
      this.pendingRows = 0;
      this.append(row);
    }
  }

  /** Drops the rows after `step` (a run resumed from an earlier checkpoint). */
  truncateAfter(step: number): void {
    if (this.pendingRows > 0 && this.pending[0]! > step) this.pendingRows = 0;
    const x = this.data[0]!;
    while (this.size > 0 && x[this.size - 1]! > step) this.size--;
  }

  clear(): void {
    this.size = 0;
    this.pendingRows = 0;
    this.grain = 1;
  }

  /** The value of column c at row i (stored rows, then the partial group). */
  at(i: number, c: number): number {
    if (i < this.size) return this.data[c]![i]!;
    if (i === this.size && this.pendingRows > 0) return this.pendingRow()[c]!;
    return NaN;
  }

  /** Every row, for copying into another buffer. */
  *rows(): Generator<number[]> {
    for (let i = 0; i < this.length; i++) yield Array.from({ length: this.columns }, (_, c) => this.at(i, c));
  }

  /**
   * At most `maxPoints` points for a chart: consecutive rows are averaged (or reduced by
   * their column's rule) in equal groups, each shown at its last step.
   */
  view(maxPoints = 2000, columns?: readonly number[]): SeriesView {
    const picked = columns ?? Array.from({ length: this.columns - 1 }, (_, i) => i + 1);
    const n = this.length;
    const group = Math.max(1, Math.ceil(n / Math.max(1, maxPoints)));
    const points = Math.ceil(n / group);
    const x: number[] = new Array(points);
    const out = picked.map(() => new Array<number | null>(points));
    for (let p = 0; p < points; p++) {
      const from = p * group;
      const to = Math.min(n, from + group);
      x[p] = this.at(to - 1, 0);
      picked.forEach((c, k) => {
        const reduce = this.reduce[c]!;
        let value = NaN;
        let sum = 0;
        let count = 0;
        for (let i = from; i < to; i++) {
          const v = this.at(i, c);
          if (!finite(v)) continue;
          if (reduce === 'mean') {
            sum += v;
            count++;
          } else value = combine(reduce, value, v);
        }
        if (reduce === 'mean') value = count > 0 ? sum / count : NaN;
        out[k]![p] = finite(value) ? value : null;
      });
    }
    return { x, columns: out };
  }

  private pendingRow(): Float64Array {
    const row = new Float64Array(this.columns);
    for (let c = 0; c < this.columns; c++) {
      const count = this.pendingCounts[c]!;
      row[c] = this.reduce[c] === 'mean' && c > 0 ? (count > 0 ? this.pending[c]! / count : NaN) : this.pending[c]!;
    }
    return row;
  }

  private append(row: ArrayLike<number>): void {
    if (this.size === this.capacity) this.grow();
    for (let c = 0; c < this.columns; c++) this.data[c]![this.size] = row[c] ?? NaN;
    this.size++;
    // Full: merge now, so every stored row stands for the same number of steps.
    if (this.size === this.maxPoints) this.halve();
  }

  private grow(): void {
    const capacity = Math.min(this.maxPoints, this.capacity * 2);
    this.data = this.data.map((old) => {
      const next = new Float64Array(capacity);
      next.set(old.subarray(0, this.size));
      return next;
    });
    this.capacity = capacity;
  }

  /** Merges neighbouring pairs: half the rows, each standing for twice as many steps. */
  private halve(): void {
    const half = this.size >> 1;
    for (let c = 0; c < this.columns; c++) {
      const column = this.data[c]!;
      const reduce = c === 0 ? 'last' : this.reduce[c]!;
      for (let i = 0; i < half; i++) column[i] = combine(reduce, column[2 * i]!, column[2 * i + 1]!);
      if (this.size % 2 === 1) column[half] = column[this.size - 1]!;
    }
    this.size = half + (this.size % 2);
    this.grain *= 2;
  }
}

/**
 * Per-map numbers (mean and max |x| of every channel for every probe face) of successive
 * frames of one layer, so a filter's history is there the moment it is clicked. Bounded to
 * `capacity` frames: when full, it keeps every other one and then stores one frame in
 * `stride` (the newest always replacing the last entry), so it spans the whole run.
 */
export class FrameHistory {
  readonly steps: Float64Array;
  private readonly means: Float32Array;
  private readonly maxAbs: Float32Array;
  private count = 0;
  private stride = 1;
  /** Frames folded into the last entry since it was appended. */
  private tailAge = 0;
  private readonly perFrame: number;

  readonly capacity: number;

  constructor(
    readonly probes: number,
    readonly channels: number,
    capacity: number,
  ) {
    if (capacity < 2) throw new RangeError('a frame history keeps at least 2 frames');
    this.capacity = capacity - (capacity % 2); // even, so halving keeps the newest
    capacity = this.capacity;
    this.perFrame = probes * channels;
    this.steps = new Float64Array(capacity);
    this.means = new Float32Array(capacity * this.perFrame);
    this.maxAbs = new Float32Array(capacity * this.perFrame);
  }

  /** How many frames a history of this shape may keep within `budgetBytes`. */
  static capacityFor(probes: number, channels: number, budgetBytes = 8 << 20, most = 2048): number {
    const n = Math.max(16, Math.min(most, Math.floor(budgetBytes / Math.max(1, probes * channels * 8 + 8))));
    return n - (n % 2);
  }

  get length(): number {
    return this.count;
  }

  /** `stats` is a frame's stats block: [min, max, mean, maxAbs] per (probe, channel). */
  push(step: number, stats: ArrayLike<number>): void {
    if (stats.length < this.perFrame * 4) throw new RangeError(`frame history: ${stats.length} stats for ${this.perFrame} maps`);
    let slot: number;
    if (this.count > 0 && (this.steps[this.count - 1] === step || this.tailAge < this.stride)) {
      slot = this.count - 1;
      this.tailAge++;
    } else {
      if (this.count === this.capacity) this.halve();
      slot = this.count++;
      this.tailAge = 1;
    }
    this.steps[slot] = step;
    const base = slot * this.perFrame;
    for (let m = 0; m < this.perFrame; m++) {
      this.means[base + m] = stats[m * 4 + 2]!;
      this.maxAbs[base + m] = stats[m * 4 + 3]!;
    }
  }

  /** One channel's history: steps, and per probe face its mean and max |x| at each. */
  channel(channel: number): { steps: number[]; mean: number[][]; maxAbs: number[][] } {
    if (channel < 0 || channel >= this.channels) throw new RangeError(`channel ${channel} is not in this history (it has ${this.channels})`);
    const steps = Array.from(this.steps.subarray(0, this.count));
    const mean: number[][] = [];
    const maxAbs: number[][] = [];
    for (let p = 0; p < this.probes; p++) {
      const m = new Array<number>(this.count);
      const a = new Array<number>(this.count);
      for (let i = 0; i < this.count; i++) {
        const at = i * this.perFrame + p * this.channels + channel;
        m[i] = this.means[at]!;
        a[i] = this.maxAbs[at]!;
      }
      mean.push(m);
      maxAbs.push(a);
    }
    return { steps, mean, maxAbs };
  }

  private halve(): void {
    // Keep the newer of each pair (odd indices), so the newest frame survives.
    const half = this.count >> 1;
    for (let i = 0; i < half; i++) {
      const from = 2 * i + 1;
      this.steps[i] = this.steps[from]!;
      this.means.copyWithin(i * this.perFrame, from * this.perFrame, (from + 1) * this.perFrame);
      this.maxAbs.copyWithin(i * this.perFrame, from * this.perFrame, (from + 1) * this.perFrame);
    }
    this.count = half;
    this.stride *= 2;
    this.tailAge = this.stride;
  }
}
