// Bounded concurrency: at most `limit` tasks in flight; `run` waits for a free slot,
// which is what gives a streaming producer (an archive reader) its backpressure.
export class TaskPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly running = new Set<Promise<void>>();
  private failure: unknown = undefined;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`pool limit must be at least 1, got ${limit}`);
  }

  /** Starts `task` once a slot is free; resolves when it has started, not when it ends. */
  async run(task: () => Promise<void>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    while (this.active >= this.limit) await new Promise<void>((wake) => this.waiting.push(wake));
    this.active++;
    const promise = task()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.active--;
        this.running.delete(promise);
        this.waiting.shift()?.();
      });
    this.running.add(promise);
  }

  /** Waits for every started task; rethrows the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * A bound on the bytes held at once by tasks (file contents waiting for or in a
 * decode): `acquire` waits until `bytes` more fit under the limit, or until
 * nothing is held, so one item larger than the limit still goes through, alone.
 * Waiters are served in order.
 */
export class ByteGate {
  private held = 0;
  private readonly waiting: Array<{ readonly bytes: number; readonly wake: () => void }> = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`byte limit must be at least 1, got ${limit}`);
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.held;
  }

  async acquire(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.held += bytes;
      return;
    }
    await new Promise<void>((wake) => this.waiting.push({ bytes, wake }));
  }

  release(bytes: number): void {
    this.held -= bytes;
    for (let next = this.waiting[0]; next !== undefined && this.fits(next.bytes); next = this.waiting[0]) {
      this.waiting.shift();
      this.held += next.bytes;
      next.wake();
    }
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }
}
