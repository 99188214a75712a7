/**
 * A per-process cache of the rows every manifest GET reads (the repository by name, the manifest
 * by tag or digest), so that a GET that hits asks SQLite one cheap question instead of two
 * lookups (issue #14; notes/2026-12-04-s12-cache.md has the figures).
 *
 * No read from it can be staler than a read of the database at the same instant, because the
 * whole cache is dropped whenever the database may have changed, checked before every read:
 * - a write by this process: every execution of a statement that may write, counted where
 *   statements are prepared (durable-commits.ts), so no writer (tag move, delete, policy,
 *   lifecycle, GC, replication, a store added later) can be missed by forgetting to invalidate;
 * - a commit by any connection (`berth lifecycle run`, `berth gc`, a second server on the same
 *   data directory): the wal-index header SQLite itself reads to begin a read transaction
 *   (commit-watch.ts), so every commit that had returned before the check is seen by it.
 * The check and the load on a miss run in one synchronous stretch, so nothing can commit between
 * them on this thread; a commit by another process in that stretch changes the header again, so
 * the next check drops what the load read.
 *
 * PostgreSQL has no such cache: there, knowing that another node has not committed costs a round
 * trip, which is what the lookup costs (the note says more).
 *
 * Bounded in entries and in bytes (manifests may be up to 4 MiB). What goes first is chosen by
 * second chance (CLOCK), an approximation of least recently used: a hit only marks its entry, and
 * eviction moves a marked entry to the back (unmarked) instead of dropping it. Moving every hit
 * to the back (delete and set) rebuilt the Map's hash table every few hits, and a long-lived
 * Map's new table is allocated in the old generation: about 220 KB/s of old-space garbage at
 * 1,500 manifest GETs a second, nearly all the old generation's growth, so a full mark-compact
 * every 10-15 s with or without the trail, events and metrics (notes/2026-12-05-s14-gc.md).
 * Values are frozen: they are shared by every reader until the next change.
 */
import type { CommitWatch } from './commit-watch.js';

export interface ReadCacheLimits {
  maxEntries: number;
  /** Approximate: a manifest's payload and a fixed allowance per entry. */
  maxBytes: number;
}

export const defaultReadCacheLimits: ReadCacheLimits = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 };

/** What one entry costs beyond its payload: the key, the record's fields, the Map's slot. */
const ENTRY_OVERHEAD = 512;

/** A lookup that found nothing, cached too: NAME_UNKNOWN and MANIFEST_UNKNOWN are GETs as well. */
const ABSENT = Symbol('absent');

interface Entry {
  value: object | typeof ABSENT;
  bytes: number;
  /** Read since it was last inserted or passed over by eviction. */
  used: boolean;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
  /** Times the whole cache was dropped because the database changed. */
  drops: number;
  entries: number;
  bytes: number;
  /** How other connections' commits are noticed (commit-watch.ts). */
  watch: CommitWatch['kind'];
}

export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private closed = false;
  private seenWrites: number;
  private readonly counts = { hits: 0, misses: 0, drops: 0 };

  constructor(
    /** Whether any connection has committed since the last look. */
    private readonly commits: CommitWatch,
    /** How many statements that may write this process has run on the connection (DurableCommits.count). */
    private readonly writes: () => number,
    private readonly limits: ReadCacheLimits = defaultReadCacheLimits,
  ) {
    this.seenWrites = writes();
  }

  /**
   * `load` must read the database synchronously (better-sqlite3) and write nothing; `size` is
   * the bytes a found value holds beyond the fixed allowance.
   */
  read<V extends object>(key: string, load: () => V | undefined, size: (v: V) => number = () => 0): V | undefined {
    if (this.closed) return load();
    this.dropIfChanged();
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.counts.hits++;
      hit.used = true;
      return hit.value === ABSENT ? undefined : (hit.value as V);
    }
    this.counts.misses++;
    const value = load();
    const entry: Entry =
      value === undefined
        ? { value: ABSENT, bytes: ENTRY_OVERHEAD, used: false }
        : { value: deepFreeze(value), bytes: ENTRY_OVERHEAD + size(value), used: false };
    // One larger than the whole budget is served, not kept.
    if (entry.bytes > this.limits.maxBytes || this.limits.maxEntries < 1) return value;
    // Room first, then the entry at the back: a new entry is not what this eviction passes over.
    this.bytes += entry.bytes;
    this.evict();
    this.entries.set(key, entry);
    return value;
  }

  stats(): ReadCacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes, watch: this.commits.kind };
  }

  /** Stops watching; reads after this are not cached. */
  close(): void {
    this.closed = true;
    this.entries.clear();
    this.commits.close();
  }

  private dropIfChanged(): void {
    const writes = this.writes();
    // Both looks every time: the watch must see every commit to compare with the next.
    const committed = this.commits.changed();
    if (writes === this.seenWrites && !committed) return;
    this.seenWrites = writes;
    if (this.entries.size === 0) return;
    this.entries.clear();
    this.bytes = 0;
    this.counts.drops++;
  }

  /**
   * Makes room for one more entry (its bytes already counted): oldest first (Map keeps insertion
   * order); a marked entry gets a second chance at the back.
   */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size < this.limits.maxEntries && this.bytes <= this.limits.maxBytes) return;
      this.entries.delete(key);
      if (entry.used) {
        // Visited again by this loop, unmarked: every entry is marked at most once per pass.
        entry.used = false;
        this.entries.set(key, entry);
      } else this.bytes -= entry.bytes;
    }
  }
}

/** Freezes a record and the plain objects and arrays in it; Buffers and Dates are left as they are. */
function deepFreeze<V extends object>(value: V): V {
  for (const v of Object.values(value)) {
    if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !(v instanceof Date) && !Object.isFrozen(v)) deepFreeze(v as object);
  }
  return Object.freeze(value);
}
