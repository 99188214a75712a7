/**
 * The plaintext an append on a byte thread has not sealed yet (seal-task.ts): at most one chunk,
 * kept until a byte after it arrives, since only then is it known not to be the last. It is held
 * in granules of 8 KiB taken as bytes come and given back to the thread's free list the moment
 * the chunk is sealed, instead of in a chunk-sized buffer per append.
 *
 * Why: a slow upload's chunk is half full on average, but a buffer of its own is wholly resident
 * once it has filled once. Under 200 uploads at 1 MB/s the threads' arenas held 65 MB, 0.26 MB
 * per upload from 50 to 200 (notes/2026-12-05-s14-rss.md): a chunk each. In granules a crowd
 * holds about what it has sent and not sealed, and the granules one upload's seal frees go on to
 * hold the next bytes of the others (uploads whose chunks fill in step, as the bench's crowd of
 * curls started together at one rate, still need a chunk each at the moment they fill; with the
 * `more` mark of seal-append.ts, a slow upload under no pressure holds almost nothing). A tail
 * wastes half a granule on average: 16 KiB per upload at 32 KiB, 4 at 8 KiB (measured 16.5 and
 * 3.5 KiB: notes/2026-12-05-s20-rss.md); smaller granules cost more copies per chunk for little.
 *
 * The free list is the thread's, kept while its appends run (the pages of a granule freed and
 * taken again would be faulted in again); as appends end it is cut back to a few (a crowd ends
 * together, and the ended uploads' granules would sit resident beside the commits of the rest),
 * and freed once they all end; pages first, both times.
 */
import { release } from '../../core/fresh-pieces.js';
import { pageOffset, releasePages } from '../../core/malloc-trim.js';
import { copyInto } from '../../core/shared-copy.js';

/** Bytes per granule (a smaller chunk is held in one granule of its own size). */
export const GRANULE = 8 * 1024;

/** Bytes of granules cut from one block of memory. */
const BLOCK = 64 * 1024;

/** The page size the blocks are cut on (Linux on x86-64 and most arm64; larger pages only hand back fewer). */
const PAGE = 4096;

/** Bytes of memory one block takes: its granules and the slack to align them. */
export const BLOCK_BYTES = BLOCK + PAGE;

/** A block the granules are cut from, on page boundaries. */
interface Block {
  memory: Buffer;
  granules: number;
  /** Its granules on the free lists. */
  free: number;
  /** Of those, the ones whose pages were handed back. */
  cold: number;
}

/**
 * The free granules of one thread. Granules are cut from blocks of their own, page-aligned, so a
 * free granule's pages can be handed back whole (a granule malloc'd by itself sits 16 bytes past a
 * page boundary at best: of an 8 KiB one, one page of two could go back) and a block goes back to
 * malloc once all its granules are free and cold. Chunks smaller than a granule are held in
 * buffers of their own size, as before (tests and small configured chunks).
 */
export class Granules {
  /** Free granules whose pages may be resident: taken first. */
  private readonly hot: Buffer[] = [];
  /** Free granules whose pages were handed back (or never touched). */
  private cold: Buffer[] = [];
  private readonly blocks = new Map<ArrayBufferLike, Block>();
  /** Free buffers of other sizes, by size. */
  private readonly odd = new Map<number, Buffer[]>();

  take(size: number): Buffer {
    if (size !== GRANULE) return this.odd.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
    let g = this.hot.pop();
    if (!g) {
      g = this.cold.pop() ?? this.cut();
      this.blocks.get(g.buffer)!.cold--;
    }
    this.blocks.get(g.buffer)!.free--;
    return g;
  }

  put(g: Buffer): void {
    const block = this.blocks.get(g.buffer);
    if (!block) {
      let list = this.odd.get(g.length);
      if (!list) {
        list = [];
        this.odd.set(g.length, list);
      }
      list.push(g);
      return;
    }
    block.free++;
    this.hot.push(g);
  }

  /** Free granules now (for tests and diagnostics). */
  get count(): number {
    let n = this.hot.length + this.cold.length;
    for (const list of this.odd.values()) n += list.length;
    return n;
  }

  /** Blocks held now, free or not (for tests and diagnostics). */
  get blockCount(): number {
    return this.blocks.size;
  }

  /**
   * Hands back the pages of the free granules beyond `keep` bytes of them, and frees the blocks
   * whose granules are then all free (freed, their pages would stay in the arena: pages first).
   */
  drain(keep = 0): void {
    for (const list of this.odd.values()) {
      while (list.length > 0 && list.length * list[0]!.length > keep) {
        const g = list.pop()!;
        releasePages(g);
        release(g);
      }
    }
    let whole = 0;
    while (this.hot.length > 0 && this.hot.length * GRANULE > keep) {
      const g = this.hot.pop()!;
      releasePages(g);
      this.cold.push(g);
      const block = this.blocks.get(g.buffer)!;
      if (++block.cold === block.granules) whole++;
    }
    if (whole === 0) return;
    this.cold = this.cold.filter((g) => this.blocks.get(g.buffer)!.cold < this.blocks.get(g.buffer)!.granules);
    for (const [ab, block] of this.blocks) {
      if (block.cold < block.granules) continue;
      this.blocks.delete(ab);
      release(block.memory);
    }
  }

  /** A new block: one granule of it taken, the rest (pages not yet touched) on the cold list. */
  private cut(): Buffer {
    const memory = Buffer.allocUnsafeSlow(BLOCK_BYTES);
    // Pages larger than PAGE (arm64's 16 or 64 KiB) may put the boundary past the slack: then the
    // granules are cut unaligned (their pages go back partly) rather than past the block's end.
    const off = pageOffset(memory);
    const at = off !== undefined && off + BLOCK <= memory.length ? off : 0;
    // Memory malloc had freed may still be resident: its granules are cold only once handed back.
    releasePages(memory);
    const block: Block = { memory, granules: BLOCK / GRANULE, free: BLOCK / GRANULE, cold: BLOCK / GRANULE };
    this.blocks.set(memory.buffer, block);
    for (let i = 1; i < block.granules; i++) this.cold.push(memory.subarray(at + i * GRANULE, at + (i + 1) * GRANULE));
    return memory.subarray(at, at + GRANULE);
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
      copyInto(this.parts[this.parts.length - 1]!, into, bytes.subarray(at, at + n));
      this.filled += n;
      at += n;
    }
  }

  /** The held bytes, copied to the start of `into` (≥ filled bytes long); returns that view. */
  copyTo(into: Uint8Array): Uint8Array {
    let at = 0;
    for (const p of this.parts) {
      const n = Math.min(p.length, this.filled - at);
      copyInto(into, at, n === p.length ? p : p.subarray(0, n));
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
