/**
 * One upload append's side of the seal pool (seal-pool.ts): copies the request's pieces into the
 * pool's slots in order, posts each full slot to its byte thread and takes it back on the
 * thread's answer; end() resolves once every sealed chunk is written.
 *
 * A full slot is posted once the first byte after it is in the next slot, marked `more`: the
 * worker may then seal the chunk that ends with it at once. Posted as soon as it was full, a slot
 * of a slow upload (a chunk, at the default sizes) always left the worker a whole chunk to hold
 * until the next slot came, since only a byte after a chunk tells that it is not the last: under
 * 50 uploads at 1 MB/s each held 256 KiB there as well as the slot it was filling here.
 */
import { copyInto } from '../../core/shared-copy.js';
import type { ByteThread } from '../workers/threads.js';
import type { SealPool } from './seal-pool.js';
import type { FromSealer, ToSealer } from './seal-protocol.js';

/** How an append ended: whole chunks sealed, the plaintext after them, and the bytes of its ciphertext also written past them (seal-protocol.ts). */
export interface SealEnd {
  chunks: number;
  tail: Buffer;
  partial: number;
}

/** One append's plaintext on its way to a worker: write() pieces in order, then end(). */
export class SealAppend {
  /** Slots this append holds: the one being filled and the ones posted. */
  private held = 0;
  private current: number | undefined;
  private bytes: Buffer | undefined;
  private filled = 0;
  /** A full slot not posted yet: it goes, marked `more`, once a byte after it is in `current`. */
  private ready: number | undefined;
  /** It found all its slots posted when a piece came: it is lent bulk slots when there are. */
  private fast = false;
  /** Messages the worker has yet to answer (each holds the thread's worker ref'd). */
  private outstanding = 0;
  private failure: Error | undefined;
  private ended = false;
  /** Waiting for a slot: for its own acknowledgement (`own`) or for the pool's queue. */
  private waiting: { resolve: (slot: number | undefined) => void; reject: (e: Error) => void; own: boolean } | undefined;
  private result: { resolve: (r: SealEnd) => void; reject: (e: Error) => void } | undefined;
  /** The pool turn in which the slot being filled was given through reserve() (see flush()). */
  private reservedTurn = -1;
  /** Its source failed or was aborted: no slot is reserved for a next piece. */
  private stopped = false;

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
          // Nothing may wait on a slot that was never sent: its answer frees the next one.
          this.postReady(false);
          const rest = piece.subarray(at);
          const own = this.held >= this.pool.slots;
          if (own) this.fast = true;
          else this.pool.piecesQueued++;
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
      // Not set(): see core/shared-copy.ts.
      copyInto(this.bytes!, this.filled, n === piece.length ? piece : piece.subarray(at, at + n));
      this.filled += n;
      at += n;
      this.postReady(true);
      if (this.filled === room) this.park();
    }
    // Others wait for a slot: this one is not kept half full for a client that may send no more.
    if (this.pool.waiting > 0) this.post();
    return undefined;
  }

  /**
   * After write() took a piece whole: a promise when the append holds no slot for its next piece
   * and the pool has none free (it posted what it held because others wait). The caller waits on
   * it before it reads on, so that the next piece stays in the socket, in the kernel's buffer,
   * until it has somewhere to go, instead of being read into this process to wait there. Under
   * 200 uploads at 1 MB/s those waiting pieces were most of what the main malloc arena still grew
   * by from 50 uploads to 200 with the body hold (notes/2026-12-05-s19-hold.md). An append whose
   * own slots are all posted waits for one of them first, as its next piece would. Undefined when
   * a slot is to be had.
   */
  reserve(): Promise<void> | undefined {
    if (!this.slotless || this.ended || this.stopped || this.waiting) return undefined;
    if (this.held >= this.pool.slots) {
      this.fast = true;
      return new Promise<number | undefined>((resolve, reject) => {
        this.waiting = { resolve, reject, own: true };
      }).then(() => this.reserve());
    }
    const n = this.pool.take(this);
    if (n !== undefined) {
      this.use(n);
      this.reservedTurn = this.pool.turn(true);
      return undefined;
    }
    return new Promise<number | undefined>((resolve, reject) => {
      this.waiting = { resolve, reject, own: false };
    }).then((given) => {
      if (given === undefined) return;
      this.use(given);
      this.reservedTurn = this.pool.turn(true);
    });
  }

  /** Whether the next piece would have to wait for the pool's queue (see reserve()): cheap, asked after every piece. */
  get slotless(): boolean {
    return this.current === undefined && this.ready === undefined && !this.failure && !this.pool.slotFree;
  }

  /**
   * The source of the bytes ended while this append waited for a slot: what was not copied yet
   * is dropped (the worker never saw it, so the record stays right) and the wait rejects with `e`.
   */
  abandon(e: Error): void {
    this.stopped = true;
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
  end(): Promise<SealEnd> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new Error('seal append already ended'));
    this.post();
    this.ended = true;
    return new Promise((resolve, reject) => {
      this.result = { resolve, reject };
      this.send({ kind: 'seal', op: 'end', id: this.id });
    });
  }

  /**
   * @internal The pool is short of slots: the one being filled goes to the worker as it is. One
   * given through reserve() is kept, empty, until a whole turn of the loop has passed: its piece
   * is on its way from the socket (taken back at once, it went to the next append's flush, and
   * the piece had to wait for a slot here after all). A client that sends nothing then loses it
   * at the next flush, so no hung client keeps a place in the budget.
   */
  flush(): void {
    if (this.failure) return;
    if (this.current !== undefined && this.filled === 0 && this.reservedTurn === this.pool.turn()) return;
    this.post();
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
        this.result?.resolve({ chunks: m.chunks, tail: Buffer.from(m.tail.buffer, m.tail.byteOffset, m.tail.byteLength), partial: m.partial ?? 0 });
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
    if (this.ready !== undefined) {
      this.pool.give(this.ready);
      this.ready = undefined;
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

  /** The slot being filled is full: it waits, unposted, for a byte after it (see the top). */
  private park(): void {
    this.ready = this.current;
    this.current = undefined;
    this.bytes = undefined;
    this.filled = 0;
  }

  /** Posts the full slot waiting, if any; `more`: a byte after it is in the slot being filled. */
  private postReady(more: boolean): void {
    const slot = this.ready;
    if (slot === undefined) return;
    this.ready = undefined;
    this.posted.add(slot);
    const buf = this.pool.slab(slot);
    this.send({ kind: 'seal', op: 'data', id: this.id, slot, len: buf.length, buf, ...(more && { more }) });
    if (this.current === undefined) this.pool.holding(this, false);
  }

  /** Posts the full slot waiting and the slot being filled, if it holds anything. */
  private post(): void {
    this.postReady(this.current !== undefined && this.filled > 0);
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
