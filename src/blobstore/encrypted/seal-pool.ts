/**
 * Sealing uploads off the event loop (design decision 6): an append's plaintext is copied into
 * slots of shared memory and sealed by the sealing task of a byte thread (seal-task.ts),
 * which on fs also writes the sealed chunks to the staged file itself. The main thread only copies
 * bytes into slots and keeps the order that makes a crash safe: the staged upload's record
 * (staged-upload.ts) is written after `end()`, once the worker has written every chunk it sealed.
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

export interface SealPoolOptions {
  /** Plaintext bytes per slot; default 256 KiB. */
  slotBytes?: number;
  /** Slots one append may hold at once (one being filled, the rest posted); default 4. */
  slots?: number;
  /** Slot bytes shared by all appends, whatever their number; default 32 MiB. */
  budgetBytes?: number;
  /** Bytes an append writes to its fd between early syncs; default seal-task.ts SYNC_EVERY. */
  syncEvery?: number;
  /** Bytes per bulk slot, lent to an append that outpaces its worker; default 1 MiB. */
  bulkBytes?: number;
  /** Bulk slots, outside the budget; default 8 (0: none). */
  bulkSlots?: number;
}

export class SealerLostError extends Error {
  constructor(override readonly cause: Error) {
    super(`a sealing thread stopped: ${cause.message}`);
    this.name = 'SealerLostError';
  }
}

/**
 * 256 KiB × 4 = 1 MiB per append in flight: one slot being filled, up to three posted. A slot is
 * a message and an acknowledgement; 256 KiB slots are one chunk of the default format each.
 */
const DEFAULT_SLOT = 256 * 1024;
const DEFAULT_SLOTS = 4;
/**
 * The slots of all appends together: memory is bounded by this, not by the crowd (200 uploads
 * with a 1 MiB ring each held 200 MiB). 128 slots: each slow upload holds one it is filling,
 * and beyond the budget every append posts its slot after each piece (so that none is held
 * back), which costs a message per socket read: with 8 MiB that was so under the mixed load's 100
 * uploads, and its manifest GETs fell to 0.5-0.9x main's. Appends that find no slot wait with
 * their socket paused.
 */
const DEFAULT_BUDGET = 32 * 1024 * 1024;
/** Free slots kept once no append runs: the pages of the rest go back (seal-slots.ts). */
export const IDLE_SLOTS = 8;

/**
 * Bulk slots: an append that finds all its slots posted and unanswered when its next piece
 * comes (a fast client, a worker that cannot keep up) is lent slots of 1 MiB instead of 256 KiB,
 * from a small set of their own outside the budget. Every slot is a message each way, and each
 * message wakes the other thread: with 256 KiB slots a 512 MiB curl upload made ≈2,000 round
 * trips between the main thread and its byte thread, and `postMessage` was a fifth of the
 * sampled time of both threads on the 2-core machine, where each wake-up may have to take a core
 * from another thread (the wall of the pipeline of curl, main and byte thread). A slow upload
 * never waits for its own slots, so the crowds keep the small ones and the budget bounds their
 * memory as before; the bulk slots add at most their own size (8 MiB, 4 per fast append), whose
 * pages go back once no append runs.
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
  /** Where the worker writes the sealed chunks (fs); without one they are handed to `onSealed`. */
  target?: { fd: number; position: number };
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
  /** Appends waiting for a slot, first come first served. */
  private readonly queue: SealAppend[] = [];
  /** Appends holding a slot they are filling, which pressure makes them post. */
  private readonly filling = new Set<SealAppend>();
  readonly slotBytes: number;
  readonly slots: number;
  /** How many slots exist at most. */
  readonly budget: number;
  private readonly syncEvery: number | undefined;
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
    this.quietMemory = new QuietMemory(threads);
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

  /** Bytes of the slots' memory resident now (for tests and diagnostics); undefined without the addon. */
  residentBytes(): number | undefined {
    return this.memory.residentBytes();
  }

  /** Bulk slots lent now (for tests). */
  get bulkLent(): number {
    return this.lentBulk;
  }

  /** Appends waiting for a slot now (for tests). */
  get waiting(): number {
    return this.queue.length;
  }

  /** The worker threads running now (for tests). */
  liveWorkers(): ReturnType<ByteThreads['liveWorkers']> {
    return this.threads.liveWorkers();
  }

  /** @internal The memory of slot `n` (a bulk slot's is longer). */
  slab(n: number): Uint8Array {
    return n < this.budget ? this.memory.view(n) : this.bulk!.view(n - this.budget);
  }

  /** @internal A bulk slot for an append that outpaces its worker, or undefined (none free: it takes a small one). */
  takeBulk(): number | undefined {
    const n = this.bulk?.take();
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
    this.queue.push(a);
    for (const f of [...this.filling]) if (f !== a) f.flush();
    return undefined;
  }

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

  /** Once nothing runs, memory beyond a few free slots goes back (after a crowd). */
  private settle(): void {
    if (this.active > 0) return;
    this.memory.shrink(IDLE_SLOTS);
    this.bulk?.shrink(0);
    this.quietMemory.quiet();
  }
}

/** One append's plaintext on its way to a worker: write() pieces in order, then end(). */
export class SealAppend {
  /** Slots this append holds: the one being filled and the ones posted. */
  private held = 0;
  private current: number | undefined;
  private bytes: Uint8Array | undefined;
  private filled = 0;
  /** It found all its slots posted when a piece came: it is lent bulk slots when there are. */
  private fast = false;
  /** Messages the worker has yet to answer (each holds the thread's worker ref'd). */
  private outstanding = 0;
  private failure: Error | undefined;
  private ended = false;
  /** Waiting for a slot: for its own acknowledgement (`own`) or for the pool's queue. */
  private waiting: { resolve: (slot: number | undefined) => void; reject: (e: Error) => void; own: boolean } | undefined;
  private result: { resolve: (r: { chunks: number; tail: Buffer }) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly pool: SealPool,
    private readonly thread: ByteThread,
    private readonly id: number,
    private readonly onSealed: ((sealed: Buffer) => void) | undefined,
  ) {}

  /**
   * Copies `piece` into slots (the caller may reuse it at once). Returns a promise when no slot
   * was to be had before the piece was taken whole: the caller waits on it before writing more.
   * Throws (or rejects) once the append failed.
   */
  write(piece: Uint8Array): Promise<void> | undefined {
    for (let at = 0; at < piece.length; ) {
      if (this.failure) throw this.failure;
      if (this.current === undefined) {
        const slot = this.held < this.pool.slots ? ((this.fast ? this.pool.takeBulk() : undefined) ?? this.pool.take(this)) : undefined;
        if (slot === undefined) {
          const rest = piece.subarray(at);
          const own = this.held >= this.pool.slots;
          if (own) this.fast = true;
          return new Promise<number | undefined>((resolve, reject) => {
            this.waiting = { resolve, reject, own };
          }).then((given) => {
            if (given !== undefined) this.use(given);
            return this.write(rest);
          });
        }
        this.use(slot);
      }
      const room = this.bytes!.length;
      const n = Math.min(piece.length - at, room - this.filled);
      this.bytes!.set(n === piece.length ? piece : piece.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === room) this.post();
    }
    // Others wait for a slot: this one is not kept half full for a client that may send no more.
    if (this.pool.waiting > 0) this.post();
    return undefined;
  }

  /**
   * The source of the bytes ended while this append waited for a slot: what was not copied yet
   * is dropped (the worker never saw it, so the record stays right) and the wait rejects with `e`.
   */
  abandon(e: Error): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    this.pool.leave(this);
    w.reject(e);
  }

  /**
   * Seals what was written: resolves with the whole chunks sealed (and, with a target, written)
   * and the plaintext after them. Once it settles, either way, the worker no longer touches the
   * target or the slots.
   */
  end(): Promise<{ chunks: number; tail: Buffer }> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new Error('seal append already ended'));
    this.post();
    this.ended = true;
    return new Promise((resolve, reject) => {
      this.result = { resolve, reject };
      this.send({ kind: 'seal', op: 'end', id: this.id });
    });
  }

  /** @internal The pool is short of slots: the one being filled goes to the worker as it is. */
  flush(): void {
    if (!this.failure) this.post();
  }

  /** @internal The pool gives this waiting append slot `n`. */
  wake(n: number): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (!w || this.failure) {
      this.pool.give(n);
      return;
    }
    w.resolve(n);
  }

  /** @internal */
  received(m: FromSealer): void {
    this.outstanding--;
    this.thread.hold(-1);
    switch (m.op) {
      case 'ack': {
        if (m.sealed) for (const b of m.sealed) this.onSealed?.(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        this.held--;
        this.posted.delete(m.slot);
        this.pool.give(m.slot);
        // A wait for its own acknowledgement ends here; one in the pool's queue ends in wake().
        const w = this.waiting;
        if (w?.own) {
          this.waiting = undefined;
          w.resolve(undefined);
        }
        break;
      }
      case 'done':
        this.pool.finished(this.thread, this.id);
        this.result?.resolve({ chunks: m.chunks, tail: Buffer.from(m.tail.buffer, m.tail.byteOffset, m.tail.byteLength) });
        this.result = undefined;
        break;
      case 'fail': {
        const e = Object.assign(new Error(`sealing failed: ${m.message}`), m.code === undefined ? {} : { code: m.code });
        // The worker forgot the append: nothing it was sent will be answered, and it no longer
        // touches the slots it was sent.
        this.thread.hold(-this.outstanding);
        this.outstanding = 0;
        this.fail(e);
        this.pool.finished(this.thread, this.id);
        break;
      }
    }
  }

  /** @internal */
  fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.pool.leave(this);
    // Its slots come back: the one being filled, and (the worker being gone or done with this
    // append) every posted one.
    if (this.current !== undefined) {
      this.pool.give(this.current);
      this.current = undefined;
      this.bytes = undefined;
    }
    for (const n of this.posted) this.pool.give(n);
    this.posted.clear();
    this.held = 0;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(e);
    const r = this.result;
    this.result = undefined;
    r?.reject(e);
  }

  /** Slots posted and not acknowledged (given back if the worker never answers). */
  private readonly posted = new Set<number>();

  private use(slot: number): void {
    this.current = slot;
    this.bytes = this.pool.slab(slot);
    this.filled = 0;
    this.held++;
    this.pool.holding(this, true);
  }

  /** Posts the slot being filled, if it holds anything. */
  private post(): void {
    const slot = this.current;
    if (slot === undefined) return;
    this.current = undefined;
    this.bytes = undefined;
    this.pool.holding(this, false);
    if (this.filled === 0) {
      this.held--;
      this.pool.give(slot);
      return;
    }
    this.posted.add(slot);
    this.send({ kind: 'seal', op: 'data', id: this.id, slot, len: this.filled, buf: this.pool.slab(slot) });
    this.filled = 0;
  }

  private send(m: ToSealer): void {
    this.outstanding++;
    this.thread.hold(1);
    this.thread.post(m);
  }
}
