/**
 * The plaintext an append on a byte thread has not sealed yet (seal-task.ts): at most one chunk,
 * kept until a byte after it arrives, since only then is it known not to be the last. It is held
 * in granules of 32 KiB taken as bytes come and given back to the thread's free list the moment
 * the chunk is sealed, instead of in a chunk-sized buffer per append.
 *
 * Why: a slow upload's chunk is half full on average, but a buffer of its own is wholly resident
 * once it has filled once. Under 200 uploads at 1 MB/s the threads' arenas held 65 MB, 0.26 MB
 * per upload from 50 to 200 (notes/2026-12-05-s14-rss.md): a chunk each. In granules a crowd
 * holds about what it has sent and not sealed, and the granules one upload's seal frees go on to
 * hold the next bytes of the others (uploads whose chunks fill in step, as the bench's crowd of
 * curls started together at one rate, still need a chunk each at the moment they fill; with the
 * `more` mark of seal-append.ts, a slow upload under no pressure holds almost nothing).
 *
 * The free list is the thread's, kept while its appends run (the pages of a granule freed and
 * taken again would be faulted in again); as appends end it is cut back to a few (a crowd ends
 * together, and the ended uploads' granules would sit resident beside the commits of the rest),
 * and freed once they all end; pages first, both times.
 */
import { release } from '../../core/fresh-pieces.js';
import { releasePages } from '../../core/malloc-trim.js';

/** Bytes per granule (a smaller chunk is held in one granule of its own size). */
export const GRANULE = 32 * 1024;

/** The free granules of one thread, by size (the chunk sizes of its appends may differ). */
export class Granules {
  private readonly free = new Map<number, Buffer[]>();

  take(size: number): Buffer {
    return this.free.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
  }

  put(g: Buffer): void {
    let list = this.free.get(g.length);
    if (!list) {
      list = [];
      this.free.set(g.length, list);
    }
    list.push(g);
  }

  /** Free granules now (for tests and diagnostics). */
  get count(): number {
    let n = 0;
    for (const list of this.free.values()) n += list.length;
    return n;
  }

  /** Frees the free granules beyond `keep` bytes of them, pages handed back first (freed, they would stay in the arena). */
  drain(keep = 0): void {
    for (const list of this.free.values()) {
      while (list.length > 0 && list.length * list[0]!.length > keep) {
        const g = list.pop()!;
        releasePages(g);
        release(g);
      }
    }
  }
}

/** One append's unsealed plaintext, ≤ one chunk, in granules of `granules`. */
export class HeldChunk {
  private readonly parts: Buffer[] = [];
  private readonly granule: number;
  /** Bytes held. */
  filled = 0;

  constructor(
    private readonly granules: Granules,
    readonly chunkSize: number,
  ) {
    this.granule = Math.min(GRANULE, chunkSize);
  }

  /** Copies `bytes` in after what is held; the caller keeps the total within a chunk. */
  append(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      const into = this.filled % this.granule;
      if (into === 0) this.parts.push(this.granules.take(this.granule));
      const n = Math.min(bytes.length - at, this.granule - into);
      this.parts[this.parts.length - 1]!.set(bytes.subarray(at, at + n), into);
      this.filled += n;
      at += n;
    }
  }

  /** The held bytes, copied to the start of `into` (≥ filled bytes long); returns that view. */
  copyTo(into: Uint8Array): Uint8Array {
    let at = 0;
    for (const p of this.parts) {
      const n = Math.min(p.length, this.filled - at);
      into.set(n === p.length ? p : p.subarray(0, n), at);
      at += n;
    }
    return into.subarray(0, this.filled);
  }

  /** Gives the granules back to the thread's free list: nothing is held. */
  clear(): void {
    for (const p of this.parts) this.granules.put(p);
    this.parts.length = 0;
    this.filled = 0;
  }
}
