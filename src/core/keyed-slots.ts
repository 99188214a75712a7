/**
 * Slots of work shared by several parties (accounts): at most `total` taken at once, and at most
 * `perKey` by one key, so one party whose work hangs (a target that never answers) holds its
 * share and never the whole. Waiters are served in arrival order, passing over those whose key
 * is at its share: one party's backlog does not stand in front of another's.
 */

export class KeyedSlots {
  private used = 0;
  private readonly byKey = new Map<string, number>();
  private readonly waiting: Array<{ key: string; go: () => void }> = [];

  constructor(
    readonly total: number,
    readonly perKey: number,
  ) {
    if (total < 1 || perKey < 1) throw new Error('keyed slots need at least one slot and one per key');
  }

  /** Takes a slot for `key`, waiting while none is free for it; resolves to its release (call once). */
  async take(key: string): Promise<() => void> {
    if (this.free(key)) this.hold(key);
    else await new Promise<void>((go) => this.waiting.push({ key, go }));
    return this.releaser(key);
  }

  /** Takes a slot for `key` if one is free for it now, else undefined: for work refused rather than queued. */
  tryTake(key: string): (() => void) | undefined {
    if (!this.free(key)) return undefined;
    this.hold(key);
    return this.releaser(key);
  }

  /** Slots taken now, in all and by one key (for tests and diagnostics). */
  taken(key?: string): number {
    return key === undefined ? this.used : (this.byKey.get(key) ?? 0);
  }

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.let(key);
    };
  }

  private free(key: string): boolean {
    return this.used < this.total && (this.byKey.get(key) ?? 0) < this.perKey;
  }

  private hold(key: string): void {
    this.used++;
    this.byKey.set(key, (this.byKey.get(key) ?? 0) + 1);
  }

  private let(key: string): void {
    this.used--;
    const n = (this.byKey.get(key) ?? 1) - 1;
    if (n === 0) this.byKey.delete(key);
    else this.byKey.set(key, n);
    // The first waiters that may go now, in order (a freed slot may serve another key).
    for (let i = 0; i < this.waiting.length && this.used < this.total; ) {
      const w = this.waiting[i]!;
      if (!this.free(w.key)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.hold(w.key);
      w.go();
    }
  }
}

/** A party's share of `total` slots: half of them (at least one), so another always has the rest. */
export function halfShare(total: number): number {
  return Math.max(1, Math.ceil(total / 2));
}
