/**
 * At most `limit` holders at once; the rest wait in the order they came. For work whose memory
 * is per holder, so that a crowd arriving together holds `limit` sets of buffers, not one each.
 */
export class Turns {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`turns: limit must be a positive integer, not ${limit}`);
  }

  /** Runs `fn` once a turn is free; the turn passes on when it settles, either way. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    // The turn is handed over by the one ending (below), so `running` never drops in between.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Holders now and callers waiting (for tests and diagnostics). */
  get busy(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
