/**
 * Hashing off the event loop (design decision 6): the byte threads (blobstore/workers/threads.ts,
 * shared with opening downloads) hold the running hashes of uploads. A hash is sequential, so each session lives in one worker for its
 * whole life; the main thread only copies bytes into batches and posts them, in order.
 *
 * Memory stays flat: a session has at most `maxInFlight` batches on their way to or in its
 * worker, and update() asks the caller to wait beyond that, which is the backpressure from the
 * pool to the socket. Batches are slots of shared slabs (see hash-protocol.ts), reused once
 * hashed; the slabs grow to the most in use at once, and once no slot is in use (every upload
 * ended or idle) all but KEPT_SLABS are let go, so a crowd of uploads leaves no memory behind.
 *
 * A worker that dies takes its sessions' running hashes with it: those sessions are marked
 * failed and stop accepting bytes (without failing their callers' streams), and the next session
 * starts a fresh worker. A failed running hash is just a lost cache: the caller re-hashes the
 * stored bytes, as after a restart.
 */
import type { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../blobstore/workers/hash-protocol.js';
import { ByteThreads, type ByteThread } from '../blobstore/workers/threads.js';
import type { DigestAlgorithm } from '../core/digest.js';
import type { ThreadHash } from '../blobstore/blob-store.js';
import { copyInto } from '../core/shared-copy.js';

export interface HashPoolOptions {
  /** The byte threads to hash on (shared with opening downloads); the pool's own when absent. */
  shared?: ByteThreads;
  /** Worker threads of the pool's own byte threads; default: the machine's parallelism, at most 4. */
  threads?: number;
  /** Bytes per message to a worker: larger batches mean fewer messages, more memory per session. */
  batchBytes?: number;
  /** Batches per session on their way to or in a worker before update() asks the caller to wait. */
  maxInFlight?: number;
  /** Told when a worker thread died (to log it); its sessions have failed. */
  onWorkerLost?: (error: Error) => void;
}

/**
 * Measured (512 MiB in 64 KiB chunks, one worker): the main thread spends ~0.18 s with 64-128 KiB
 * batches, ~0.10 s with 256 KiB, against ~0.37 s hashing inline; 512 KiB gains nothing more.
 * The cost is memory: a streaming upload holds one partly filled batch.
 */
const DEFAULT_BATCH = 256 * 1024;
const DEFAULT_IN_FLIGHT = 4;
/** Slots per slab: slabs are allocated 2 MiB at a time (with the default batch). */
const SLOTS_PER_SLAB = 8;
/**
 * Slabs kept when none is in use. The high-water mark was otherwise kept for good: about 84 MB
 * after 100 uploads at 1 MB/s (measured with process.memoryUsage().arrayBuffers, 2026-12-04).
 */
const KEPT_SLABS = 2;

export class HashWorkerLostError extends Error {
  constructor(override readonly cause: Error) {
    super(`a hashing thread stopped: ${cause.message}`);
    this.name = 'HashWorkerLostError';
  }
}

export class HashPool {
  private readonly slots: Slot[];
  private readonly slabs: SharedArrayBuffer[] = [];
  private readonly freeSlots: number[] = [];
  private nextId = 1;
  private closed = false;
  readonly batchBytes: number;
  readonly maxInFlight: number;

  private readonly threads: ByteThreads;

  constructor(private readonly opts: HashPoolOptions = {}) {
    this.threads = opts.shared ?? new ByteThreads(opts.threads === undefined ? {} : { threads: opts.threads });
    this.batchBytes = opts.batchBytes ?? DEFAULT_BATCH;
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_IN_FLIGHT;
    this.slots = this.threads.threads.map((t) => new Slot(this, t));
  }

  /** A running hash in the least busy worker. */
  open(alg: DigestAlgorithm): HashSession {
    if (this.closed) throw new Error('the hash pool is closed');
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.sessions.size < slot.sessions.size) slot = s;
    const session = new HashSession(this, slot, this.nextId++);
    slot.sessions.set(session.id, session);
    slot.post({ kind: 'hash', op: 'open', id: session.id, alg });
    return session;
  }

  /** The worker threads running now (for diagnostics and tests). */
  liveWorkers(): Worker[] {
    return this.threads.liveWorkers();
  }

  /** Fails the sessions still running; stops the threads unless they are shared. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.opts.shared) return this.threads.close();
    for (const s of this.slots) s.stop(new HashWorkerLostError(new Error('the hash pool was closed')));
  }

  /** @internal A free slot, and a view of its bytes; a new slab (sent to every worker) when none is free. */
  take(): { slot: number; bytes: Uint8Array } {
    if (this.freeSlots.length === 0) {
      const index = this.slabs.length;
      const sab = new SharedArrayBuffer(SLOTS_PER_SLAB * this.batchBytes);
      this.slabs.push(sab);
      for (let i = SLOTS_PER_SLAB - 1; i >= 0; i--) this.freeSlots.push(index * SLOTS_PER_SLAB + i);
      for (const s of this.slots) s.slab(this.slabMessage(index));
    }
    const slot = this.freeSlots.pop()!;
    const sab = this.slabs[Math.floor(slot / SLOTS_PER_SLAB)]!;
    return { slot, bytes: new Uint8Array(sab, (slot % SLOTS_PER_SLAB) * this.batchBytes, this.batchBytes) };
  }

  /** @internal */
  give(slot: number): void {
    this.freeSlots.push(slot);
    if (this.slabs.length > KEPT_SLABS && this.freeSlots.length === this.slabs.length * SLOTS_PER_SLAB) this.shrink();
  }

  /** Slabs held now (shared memory of SLOTS_PER_SLAB × batchBytes each), for diagnostics and tests. */
  get heldSlabs(): number {
    return this.slabs.length;
  }

  /** No slot is in use: the slabs beyond the kept ones go, here and in every worker. */
  private shrink(): void {
    this.slabs.length = KEPT_SLABS;
    this.freeSlots.length = 0;
    for (let i = KEPT_SLABS * SLOTS_PER_SLAB - 1; i >= 0; i--) this.freeSlots.push(i);
    for (const s of this.slots) s.slab({ kind: 'hash', op: 'unslab', keep: KEPT_SLABS });
  }

  /** @internal Every slab, for a worker just started. */
  slabMessages(): ToWorker[] {
    return this.slabs.map((_, i) => this.slabMessage(i));
  }

  private slabMessage(index: number): ToWorker {
    return { kind: 'hash', op: 'slab', index, sab: this.slabs[index]!, slotBytes: this.batchBytes, slots: SLOTS_PER_SLAB };
  }

  /** @internal */
  lost(error: Error): void {
    this.opts.onWorkerLost?.(error);
  }
}

/** The hashing side of one byte thread: the sessions bound to it and the slots it has yet to hash. */
class Slot {
  readonly sessions = new Map<number, HashSession>();
  /** Slots the worker has yet to hash: freed when it acknowledges them, or when it dies. */
  private readonly busySlots = new Set<number>();

  constructor(
    private readonly pool: HashPool,
    readonly thread: ByteThread,
  ) {
    // A worker started afresh knows no slab.
    thread.onStart(() => pool.slabMessages());
    thread.on('hash', (m) => this.received(m as FromWorker));
    thread.onExit((cause, closing) => this.lost(cause, closing));
  }

  post(m: ToWorker): void {
    if (m.op === 'update') this.busySlots.add(m.slot);
    if (m.op === 'update' || m.op === 'digest') this.thread.hold(1);
    this.thread.post(m);
  }

  /** A slab's news (new, or those beyond a count let go), for the worker if it runs (a worker started later gets every slab at its start). */
  slab(m: ToWorker): void {
    if (this.thread.worker) this.thread.post(m);
  }

  private received(m: FromWorker): void {
    this.thread.hold(-1);
    if (m.op === 'ack') {
      this.busySlots.delete(m.slot);
      this.pool.give(m.slot);
      this.sessions.get(m.id)?.acked();
    } else {
      this.sessions.get(m.id)?.finished(m.hex);
      this.sessions.delete(m.id);
    }
  }

  private lost(cause: Error, closing: boolean): void {
    // Nothing reads those slots any more.
    for (const slot of this.busySlots) this.pool.give(slot);
    this.busySlots.clear();
    if (this.sessions.size === 0) return;
    const error = new HashWorkerLostError(closing ? new Error('the hash pool was closed') : cause);
    this.stop(error);
    if (!closing) this.pool.lost(error);
  }

  /** Fails every session bound here. */
  stop(error: Error): void {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) s.fail(error);
  }
}

/**
 * The running hash of one stream of bytes, fed in order: through update(), or directly on its
 * thread by work there that sees the same bytes (a ThreadHash: the encrypted store's sealing).
 */
export class HashSession implements ThreadHash {
  /** Bytes fed through update() so far (not those fed on its thread). */
  size = 0;
  /** Set when the worker holding the running hash was lost: the bytes must be hashed again. */
  failure: Error | undefined;
  private batch: { slot: number; bytes: Uint8Array } | undefined;
  private filled = 0;
  private inFlight = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  private result: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly pool: HashPool,
    private readonly slot: Slot,
    readonly id: number,
  ) {}

  /** The byte thread holding the running hash. */
  get thread(): ByteThread {
    return this.slot.thread;
  }

  /**
   * Feeds bytes (copied: the caller may reuse `chunk` at once). Returns a promise when the
   * session has as many batches in flight as it may; the caller waits on it before feeding
   * more. A failed session ignores bytes and never makes the caller wait.
   */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.ended) throw new Error('hash session already finished');
    if (this.failure) return undefined;
    this.size += chunk.length;
    for (let at = 0; at < chunk.length; ) {
      this.batch ??= this.pool.take();
      const n = Math.min(chunk.length - at, this.batch.bytes.length - this.filled);
      copyInto(this.batch.bytes, this.filled, n === chunk.length ? chunk : chunk.subarray(at, at + n));
      this.filled += n;
      at += n;
      if (this.filled === this.batch.bytes.length) this.flush();
    }
    if (this.inFlight < this.pool.maxInFlight || this.failure) return undefined;
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Sends a partly filled batch now, so no buffer is held while the stream is idle. */
  flush(): void {
    const batch = this.batch;
    if (!batch || this.failure) return;
    const len = this.filled;
    this.batch = undefined;
    this.filled = 0;
    if (len === 0) {
      this.pool.give(batch.slot);
      return;
    }
    this.inFlight++;
    this.slot.post({ kind: 'hash', op: 'update', id: this.id, slot: batch.slot, len });
  }

  /** The hex digest of every byte fed; ends the session. Rejects if its worker was lost. */
  digest(): Promise<string> {
    if (this.ended) return Promise.reject(new Error('hash session already finished'));
    if (this.failure) return Promise.reject(this.failure);
    this.flush();
    this.ended = true;
    return new Promise((resolve, reject) => {
      this.result = { resolve, reject };
      this.slot.post({ kind: 'hash', op: 'digest', id: this.id });
    });
  }

  /** Abandons the session (no digest wanted). */
  drop(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.batch) this.pool.give(this.batch.slot);
    this.batch = undefined;
    if (this.failure) return;
    this.slot.sessions.delete(this.id);
    this.slot.post({ kind: 'hash', op: 'drop', id: this.id });
  }

  /** @internal */
  acked(): void {
    this.inFlight--;
    if (this.inFlight < this.pool.maxInFlight) this.release();
  }

  /** @internal */
  finished(hex: string | undefined): void {
    const r = this.result;
    this.result = undefined;
    if (!r) return;
    if (hex === undefined) r.reject(new Error('the hashing thread did not know this session'));
    else r.resolve(hex);
  }

  /** @internal */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    if (this.batch) this.pool.give(this.batch.slot);
    this.batch = undefined;
    this.inFlight = 0;
    this.release();
    const r = this.result;
    this.result = undefined;
    r?.reject(error);
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
