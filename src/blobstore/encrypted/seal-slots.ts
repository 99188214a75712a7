/**
 * The seal pool's slots (seal-pool.ts): one shared block of the whole budget, cut into slots, kept
 * for good, whose pages go back to the kernel once the crowd that used them is gone (issue 14).
 *
 * Why one block: the slots were 128 SharedArrayBuffers of 256 KiB, calloc'd from the main thread's
 * malloc arena (glibc serves blocks under its raised threshold there, core/malloc-thresholds.ts).
 * The arena then held the slots, the request pieces around them and every short-lived buffer
 * together, and a slot dropped after a crowd went back only when a collection of the main heap
 * found it and malloc_trim found its pages free. A block of the budget's size (16 MiB) is mapped on
 * its own (glibc mmaps anything over its threshold, 4 MiB once core/malloc-thresholds.ts raised it,
 * when its arena has no free chunk as large), untouched pages take no memory, and the pages of free
 * slots are handed back at once with madvise (core/malloc-trim.ts), with no collection: so the main
 * arena holds only small things and the budget's memory follows the crowd.
 *
 * Without the addon pages cannot be handed back: the block is dropped whole once every slot is
 * free, for the GC to unmap, as the separate slots were before.
 *
 * The madvise itself runs on a byte thread (detach(), then released() on its answer): for the
 * whole budget it took the event loop 2-6 ms in one go as a crowd ended, a stall every request
 * waited behind (issue 14). Meanwhile the slots sit apart, in `releasing`, where take() never
 * looks: a slot lent while a thread zeroes its pages would lose the bytes written into it.
 */
import { canTrimMalloc, releasePages, residentBytes } from '../../core/malloc-trim.js';

export class SealSlots {
  private block: SharedArrayBuffer | undefined;
  private views: Buffer[] = [];
  /** Free slots whose pages may be resident, the most recently freed last (taken first: warm). */
  private free: number[] = [];
  /** Free slots whose pages were handed back. */
  private blank: number[] = [];
  /** Free slots whose pages a byte thread is handing back now: lent to no one until it answers. */
  private releasing: number[] = [];
  /** Slots numbered so far: the ones above were never used since the block was made. */
  private numbered = 0;
  /** Slots lent out now. */
  private lent = 0;

  constructor(
    readonly slotBytes: number,
    readonly count: number,
  ) {}

  /** A free slot's number, or undefined when all are lent. */
  take(): number | undefined {
    const n = this.free.pop() ?? this.blank.pop() ?? (this.numbered < this.count ? this.numbered++ : undefined);
    if (n !== undefined) this.lent++;
    return n;
  }

  /** Slot `n` is free again. */
  put(n: number): void {
    this.lent--;
    this.free.push(n);
  }

  /**
   * The memory of slot `n` (a view of the shared block; it travels in messages as it is, and
   * arrives as a Uint8Array). A Buffer, to be copied into with fill() (core/shared-copy.ts).
   */
  view(n: number): Buffer {
    if (!this.block) {
      this.block = new SharedArrayBuffer(this.slotBytes * this.count);
      // A block this large is mapped apart and untouched, unless malloc found a free chunk that
      // large in its arena: then calloc zeroed it, every page resident. Either way none is now.
      releasePages(new Uint8Array(this.block));
    }
    let v = this.views[n];
    if (!v) {
      v = Buffer.from(this.block, n * this.slotBytes, this.slotBytes);
      this.views[n] = v;
    }
    return v;
  }

  /** Whether take() would lend a slot now. */
  get available(): boolean {
    return this.free.length > 0 || this.blank.length > 0 || this.numbered < this.count;
  }

  /** Slots that may hold memory: lent, or free and not handed back (yet). */
  get holding(): number {
    return this.lent + this.free.length + this.releasing.length;
  }

  /** Slots out of use while a byte thread hands their pages back (for tests and diagnostics). */
  get beingReleased(): number {
    return this.releasing.length;
  }

  /** Bytes of the block resident now (for tests and diagnostics); undefined without the addon. */
  residentBytes(): number | undefined {
    return this.block ? residentBytes(new Uint8Array(this.block)) : 0;
  }

  /**
   * Hands back, here, the pages of the free slots beyond the `keep` most recently freed (when no
   * byte thread runs to do it: see detach()).
   */
  shrink(keep: number): void {
    const views = this.detach(keep);
    if (!views) return;
    for (const v of views) releasePages(v);
    this.released(true);
  }

  /**
   * Takes the free slots beyond the `keep` most recently freed out of use, for their pages to be
   * handed back elsewhere (releasePages on each view returned), and released() to be called once
   * that is done or given up. Slots next to each other make one view, so the pages they share go
   * too (a slot's ends need not fall on page boundaries: the block starts where malloc put it).
   * Undefined when there is nothing to hand back: none beyond `keep`, a release already under way,
   * or no addon (then the block is dropped here once every slot is free).
   */
  detach(keep: number): Uint8Array[] | undefined {
    if (!this.block || this.free.length <= keep || this.releasing.length > 0) return undefined;
    if (!canTrimMalloc()) {
      if (this.lent === 0) this.drop();
      return undefined;
    }
    const gone = this.free.splice(0, this.free.length - keep).sort((a, b) => a - b);
    const views: Uint8Array[] = [];
    for (let i = 0; i < gone.length; ) {
      let j = i + 1;
      while (j < gone.length && gone[j] === gone[j - 1]! + 1) j++;
      views.push(new Uint8Array(this.block, gone[i]! * this.slotBytes, (j - i) * this.slotBytes));
      i = j;
    }
    this.releasing = gone;
    return views;
  }

  /**
   * The detached slots may be lent again: handed back (`done`: taken only once the warm ones are
   * gone), or not (a thread that died or came too late: they are free as they were).
   */
  released(done: boolean): void {
    if (done) this.blank.push(...this.releasing);
    else this.free.unshift(...this.releasing);
    this.releasing = [];
  }

  private drop(): void {
    this.block = undefined;
    this.views = [];
    this.free = [];
    this.blank = [];
    this.releasing = [];
    this.numbered = 0;
  }
}
