/**
 * Sealing uploads off the event loop (design decision 6): an append's plaintext is copied into
 * slots of shared memory and sealed by the sealing task of a byte thread (seal-task.ts),
 * which on fs also writes the sealed chunks to the staged file itself. The main thread only copies
 * bytes into slots and keeps the order that makes a crash safe: the staged upload's record
 * (staged-seal-into.ts) is written after `end()`, once the worker has written every chunk it sealed.
 *
 * A slot goes back to the main thread when the worker acknowledges it, so a slow disk holds the
 * socket back (at most a few slots ahead). The slots are one budget for all appends: when it is
 * taken, appends wait in turn with their sockets paused, so memory does not grow with the crowd. A worker that dies (or a write that fails) fails its
 * appends: the bytes it wrote past the record are dead, as after a crash, and the next append
 * rebases the upload. Nothing is half-recorded. An append given its upload's running hash runs on
 * the thread holding it, which hashes the bytes in the same pass as it seals them.
 */
import { QuietMemory } from '../workers/quiet-memory.js';
import { SealSlots } from './seal-slots.js';
import type { ByteThread, ByteThreads } from '../workers/threads.js';
import type { FromSealer, ToSealer } from './seal-protocol.js';
import { SealAppend } from './seal-append.js';

export interface SealPoolOptions {
  /** Plaintext bytes per slot; default 64 KiB. */
  slotBytes?: number;
  /** Slots one append may hold at once (one being filled, the rest posted); default 4. */
  slots?: number;
  /** Slot bytes shared by all appends, whatever their number; default 16 MiB. */
  budgetBytes?: number;
  /** Bytes an append writes to its fd between early syncs; default seal-task.ts SYNC_EVERY. */
  syncEvery?: number;
  /** Bytes per bulk slot, lent to an append that outpaces its worker; default 1 MiB. */
  bulkBytes?: number;
  /** Bulk slots, outside the budget; default 8 (0: none). */
  bulkSlots?: number;
  /** false: the native sealer keeps to OpenSSL's GCM where it could run its own AVX2 one (config gcmAvx2); default true. */
  avx2?: boolean;
}

export class SealerLostError extends Error {
  constructor(override readonly cause: Error) {
    super(`a sealing thread stopped: ${cause.message}`);
    this.name = 'SealerLostError';
  }
}

/**
 * One chunk of the default format (64 KiB, chunk-format.ts) per slot: a full slot with a byte
 * after it is sealed straight from the slot. Each slow upload holds the slot it is filling, so
 * the slot's size is what a crowd of them keeps resident: with 256 KiB slots 200 uploads at
 * 1 MB/s touched the whole 32 MiB budget (the slot block was 35-43 MB of the ~240 MB peak,
 * notes/2026-12-05-s15-slots.md). The cost is a message and an acknowledgement per 64 KiB of a
 * slow upload instead of per 256 KiB. 64 KiB × 4 = 256 KiB per append in flight: one that finds
 * them all posted and unanswered is lent the bulk slots below (1 MiB, 4 at most each), as before,
 * just after less of a lag.
 */
const DEFAULT_SLOT = 64 * 1024;
const DEFAULT_SLOTS = 4;
/**
 * The slots of all appends together: memory is bounded by this, not by the crowd (200 uploads
 * with a 1 MiB ring each held 200 MiB). 256 slots: each slow upload holds one it is filling,
 * and beyond the budget every append posts its slot after each piece (so that none is held
 * back), which costs a message per socket read: with 8 MiB of 256 KiB slots (32) that was so under
 * the mixed load's 100 uploads, and its manifest GETs fell to 0.5-0.9x main's. So the count, not
 * the bytes, is what must cover a crowd. Appends that find no slot wait with their socket paused.
 */
const DEFAULT_BUDGET = 16 * 1024 * 1024;
/** Free slots kept once no append runs: the pages of the rest go back (seal-slots.ts). */
export const IDLE_SLOTS = 8;

/**
 * Bulk slots: an append that finds all its slots posted and unanswered when its next piece
 * comes (a fast client, a worker that cannot keep up) is lent slots of 1 MiB instead of 64 KiB,
 * from a small set of their own outside the budget. Every slot is a message each way, and each
 * message wakes the other thread: with 256 KiB slots a 512 MiB curl upload made ≈2,000 round
 * trips between the main thread and its byte thread, and `postMessage` was a fifth of the
 * sampled time of both threads on the 2-core machine, where each wake-up may have to take a core
 * from another thread (the wall of the pipeline of curl, main and byte thread). A crowd keeps
 * the small ones (takeBulk(): under load its slow uploads wait for their own slots too) and the
 * budget bounds its memory; the bulk slots add at most their own size (8 MiB, 4 per fast append)
 * while a few appends run, and their pages go back once no append runs.
 */
const DEFAULT_BULK = 1024 * 1024;
const DEFAULT_BULK_SLOTS = 8;

export interface SealStart {
  dataKey: Buffer;
  chunkSize: number;
  /** The index of the first chunk to seal. */
  index: number;
  /** The staged plaintext after the stored chunks, which sealing continues from. */
  tail: Buffer;
  /**
   * Where the worker writes the sealed chunks (fs), from `position` on; without one they are
   * handed to `onSealed`. `streamed`, `tailStored`: as seal-protocol.ts says.
   */
  target?: { fd: number; position: number; streamed?: boolean; tailStored?: boolean };
  onSealed?: (sealed: Buffer) => void;
  /** A running hash on one of this pool's threads (see owns()): the append runs there and feeds it. */
  hash?: { thread: ByteThread; id: number };
}

export class SealPool {
  private nextId = 1;
  private readonly appends = new Map<ByteThread, Map<number, SealAppend>>();
  /** The budget's memory, cut into slots (the number travels in messages). */
  private readonly memory: SealSlots;
  /** The bulk slots, numbered after the budget's; undefined when there are none. */
  private readonly bulk: SealSlots | undefined;
  private lentBulk = 0;
  /** A crowd ran since appends were last quiet: no bulk slot is lent until they are (takeBulk). */
  private crowded = false;
  /** Appends waiting for a slot, first come first served. */
  private readonly queue: SealAppend[] = [];
  /** Appends holding a slot they are filling, which pressure makes them post. */
  private readonly filling = new Set<SealAppend>();
  readonly slotBytes: number;
  readonly slots: number;
  /** How many slots exist at most. */
  readonly budget: number;
  private readonly syncEvery: number | undefined;
  private readonly avx2: boolean;
  /** Hands memory back once appends stop (quiet-memory.ts). */
  readonly quietMemory: QuietMemory;

  constructor(
    private readonly threads: ByteThreads,
    opts: SealPoolOptions = {},
  ) {
    this.slotBytes = opts.slotBytes ?? DEFAULT_SLOT;
    this.slots = opts.slots ?? DEFAULT_SLOTS;
    if (this.slots < 1 || this.slotBytes < 1) throw new Error('a seal pool needs at least one slot of at least one byte');
    this.budget = Math.max(1, Math.floor((opts.budgetBytes ?? DEFAULT_BUDGET) / this.slotBytes));
    this.memory = new SealSlots(this.slotBytes, this.budget);
    const bulkBytes = opts.bulkBytes ?? DEFAULT_BULK;
    const bulkSlots = opts.bulkSlots ?? DEFAULT_BULK_SLOTS;
    this.bulk = bulkSlots > 0 && bulkBytes > this.slotBytes ? new SealSlots(bulkBytes, bulkSlots) : undefined;
    this.syncEvery = opts.syncEvery;
    this.avx2 = opts.avx2 ?? true;
    this.quietMemory = new QuietMemory(threads);
    this.quietMemory.onQuiet(() => this.handBack());
    for (const t of threads.threads) {
      const running = new Map<number, SealAppend>();
      this.appends.set(t, running);
      t.on('seal', (m) => running.get((m as FromSealer).id)?.received(m as FromSealer));
      t.onExit((cause) => {
        const lost = [...running.values()];
        running.clear();
        for (const a of lost) a.fail(new SealerLostError(cause));
        this.settle();
      });
    }
  }

  /** An append sealed on the least busy thread. Throws when the threads are closed. */
  begin(opts: SealStart): SealAppend {
    const thread = opts.hash && this.owns(opts.hash.thread) ? opts.hash.thread : this.threads.least((t) => this.appends.get(t)!.size);
    const id = this.nextId++;
    this.quietMemory.busy();
    // The bulk block is made with the first append rather than by the first fast one: its size is
    // then the pool's from the start, not growth in the middle of an upload.
    this.bulk?.view(0);
    const a = new SealAppend(this, thread, id, opts.onSealed);
    const { dataKey, chunkSize, index, tail, target } = opts;
    const hashId = opts.hash && thread === opts.hash.thread ? opts.hash.id : undefined;
    const start: ToSealer = {
      kind: 'seal',
      op: 'start',
      id,
      dataKey,
      chunkSize,
      index,
      tail,
      ...target,
      ...(target && this.syncEvery !== undefined && { syncEvery: this.syncEvery }),
      ...(hashId !== undefined && { hashId }),
      ...(!this.avx2 && { avx2: false }),
    };
    thread.post(start);
    this.appends.get(thread)!.set(id, a);
    return a;
  }

  /** Whether `thread` is one of this pool's (work there can feed a hash held there). */
  owns(thread: ByteThread): boolean {
    return this.appends.has(thread);
  }

  /** Appends under way (for tests and diagnostics). */
  get active(): number {
    let n = 0;
    for (const m of this.appends.values()) n += m.size;
    return n;
  }

  /** Slots holding memory now, lent or free (for tests and diagnostics): never more than `budget`. */
  get slabCount(): number {
    return this.memory.holding;
  }

  /** Slots (bulk ones too) out of use while a byte thread hands their pages back (for tests and diagnostics). */
  get releasing(): number {
    return this.memory.beingReleased + (this.bulk?.beingReleased ?? 0);
  }

  /** Bytes of the slots' memory resident now (for tests and diagnostics); undefined without the addon. */
  residentBytes(): number | undefined {
    return this.memory.residentBytes();
  }

  /** Bytes resident now of the budget's block and of the bulk block (the metrics' figure); undefined without the addon. */
  residentBlocks(): { budget: number | undefined; bulk: number | undefined } {
    return { budget: this.memory.residentBytes(), bulk: this.bulk ? this.bulk.residentBytes() : 0 };
  }

  /** Bulk slots lent now (for tests). */
  get bulkLent(): number {
    return this.lentBulk;
  }

  /** Pieces that waited in this process for a slot from the queue, so far (for tests and diagnostics; seal-append.ts reserve()). */
  piecesQueued = 0;

  /** Appends waiting for a slot now (for tests). */
  get waiting(): number {
    return this.queue.length;
  }

  /** The worker threads running now (for tests). */
  liveWorkers(): ReturnType<ByteThreads['liveWorkers']> {
    return this.threads.liveWorkers();
  }

  /** @internal The memory of slot `n` (a bulk slot's is longer). */
  slab(n: number): Buffer {
    return n < this.budget ? this.memory.view(n) : this.bulk!.view(n - this.budget);
  }

  /**
   * @internal A bulk slot for an append that outpaces its worker, or undefined (none free, or a
   * crowd runs: it takes a small one). With more appends running than there are bulk slots, an
   * append's lag is the crowd's share of the threads, not a fast client: under 200 uploads at
   * 1 MB/s every append lagged, the first two took all 8 bulk slots and each held one for a second
   * while its client filled it, so the 8 MiB bulk block stayed resident for the whole crowd
   * (notes/2026-12-05-s15-slots.md) and served two uploads of 200. Nor while the crowd's last
   * few end: they lag as much, and took the whole block as the crowd ended. So none is lent from
   * the moment a crowd is seen until appends go quiet (handBack); a bulk slot lent before goes
   * back on its answer.
   */
  takeBulk(): number | undefined {
    if (!this.bulk) return undefined;
    if (!this.crowded && this.active > this.bulk.count) {
      this.crowded = true;
      this.dropBulk();
    }
    if (this.crowded) return undefined;
    const n = this.bulk.take();
    if (n === undefined) return undefined;
    this.lentBulk++;
    return this.budget + n;
  }

  /**
   * @internal A slot for `a` now, or undefined: then `a` is queued and woken by `wake()`. Appends
   * filling a slot slowly post it as it is, so that every slot comes back and a hung client
   * holds at most the bytes it sent into a posted slot, never a place in the budget.
   */
  take(a: SealAppend): number | undefined {
    if (this.queue.length === 0) {
      const n = this.memory.take();
      if (n !== undefined) return n;
    }
    // Before `a` queues: a flush that gives back an empty slot (one kept for a piece that has
    // not come, seal-append.ts) would otherwise wake `a` before it waits, and `a` would then wait
    // out of the queue for good.
    for (const f of [...this.filling]) if (f !== a) f.flush();
    if (this.queue.length === 0) {
      const n = this.memory.take();
      if (n !== undefined) return n;
    }
    this.queue.push(a);
    return undefined;
  }

  /** @internal Whether an append asking now would be lent a slot (none is while others wait). */
  get slotFree(): boolean {
    return this.queue.length === 0 && this.memory.available;
  }

  /**
   * @internal A number that changes once a whole turn of the event loop, its poll phase
   * included, has passed since it was read with `arm` (seal-append.ts: a slot given for a piece
   * still in the socket is kept for it that long). Armed only when read so: no timer runs idle.
   */
  turn(arm = false): number {
    if (arm && !this.turnArmed) {
      this.turnArmed = true;
      setImmediate(() =>
        setImmediate(() => {
          this.turnArmed = false;
          this.turnNo++;
        }),
      );
    }
    return this.turnNo;
  }

  private turnNo = 0;
  private turnArmed = false;

  /** @internal `a` is filling a slot (or no longer is). */
  holding(a: SealAppend, yes: boolean): void {
    if (yes) this.filling.add(a);
    else this.filling.delete(a);
  }

  /** @internal Slot `n` is free again: the next waiting append gets it (a bulk slot goes back to its set). */
  give(n: number): void {
    if (n >= this.budget) {
      this.lentBulk--;
      this.bulk!.put(n - this.budget);
      if (this.crowded) this.dropBulk();
      return;
    }
    const next = this.queue.shift();
    if (next) next.wake(n);
    else this.memory.put(n);
  }

  /** @internal `a` no longer waits (it failed or its source ended). */
  leave(a: SealAppend): void {
    const i = this.queue.indexOf(a);
    if (i >= 0) this.queue.splice(i, 1);
    this.filling.delete(a);
  }

  /** @internal An append is over and the worker no longer touches its slots. */
  finished(thread: ByteThread, id: number): void {
    this.appends.get(thread)?.delete(id);
    this.settle();
  }

  /** Once nothing runs, memory goes back if nothing starts again meanwhile (quiet-memory.ts). */
  private settle(): void {
    if (this.active > 0) return;
    this.quietMemory.quiet();
  }

  /**
   * No append ran for a while: the pages of the free slots beyond a few go back (after a crowd), on
   * a byte thread. A timer rather than the last append's end, like the collections: a push of many
   * layers has gaps of a few ms between blobs, and its bulk slots went back and were faulted in
   * again at each.
   */
  private handBack(): void {
    this.crowded = false;
    this.release(this.memory, IDLE_SLOTS);
    if (this.bulk) this.release(this.bulk, 0);
  }

  /**
   * In a crowd no bulk slot is lent until appends go quiet, so the pages of those lent before it
   * (its first appends, a fast upload) go back as soon as all are back, not at the quiet.
   */
  private dropBulk(): void {
    if (this.bulk && this.lentBulk === 0) this.release(this.bulk, 0);
  }

  private release(slots: SealSlots, keep: number): void {
    if (!this.quietMemory.canRelease()) {
      // No byte thread runs (they died since the crowd): starting one (a new isolate: tens of ms
      // of CPU and MBs of heap) costs more than the madvise done here.
      slots.shrink(keep);
      return;
    }
    const views = slots.detach(keep);
    if (!views) return;
    this.quietMemory.release(views, (done) => {
      slots.released(done);
      // Appends queued meanwhile (the kept slots were too few) take the slots back now.
      if (slots === this.memory) this.lendWaiting();
    });
  }

  private lendWaiting(): void {
    while (this.queue.length > 0) {
      const n = this.memory.take();
      if (n === undefined) return;
      this.queue.shift()!.wake(n);
    }
  }
}
