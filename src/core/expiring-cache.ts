/**
 * A small read-through cache for what authorization reads on every request (policies). Entries
 * live `ttlMs` at most, so a change made on another node is seen within that time, as IAM's own
 * changes are eventually consistent; a change made on this node bumps the shared `ChangeSignal`
 * and is seen at once. Bounded: when full, it starts over rather than tracking recency.
 */

/** Bumped by every write that can change an authorization decision. */
export class ChangeSignal {
  private v = 0;
  get version(): number {
    return this.v;
  }
  bump(): void {
    this.v++;
  }
}

interface Entry<V> {
  value: V;
  loadedAt: number;
  version: number;
}

export class ExpiringCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly opts: { ttlMs: number; maxEntries: number; changes: ChangeSignal; now?: () => number }) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.opts.ttlMs <= 0) return load();
    const now = (this.opts.now ?? Date.now)();
    const version = this.opts.changes.version;
    const hit = this.entries.get(key);
    if (hit && hit.version === version && now - hit.loadedAt < this.opts.ttlMs) return hit.value;
    const value = await load();
    // A write that landed while loading may not be in `value`: only keep it if none did.
    if (this.opts.changes.version === version) {
      if (this.entries.size >= this.opts.maxEntries) this.entries.clear();
      this.entries.set(key, { value, loadedAt: now, version });
    }
    return value;
  }
}
