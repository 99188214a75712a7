/**
 * Hashing off the event loop (design decision 6): a small pool of worker threads holds the
 * running hashes of uploads. A hash is sequential, so each session lives in one worker for its
 * whole life; the main thread only copies bytes into batches and posts them, in order.
 *
 * Memory stays flat: a session has at most `maxInFlight` batches on their way to or in its
 * worker, and update() asks the caller to wait beyond that, which is the backpressure from the
 * pool to the socket. Batch buffers travel to the worker and back (transferred, not cloned) and
 * are reused.
 *
 * A worker that dies takes its sessions' running hashes with it: those sessions are marked
 * failed and stop accepting bytes (without failing their callers' streams), and the next session
 * starts a fresh worker. A failed running hash is just a lost cache: the caller re-hashes the
 * stored bytes, as after a restart.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DigestAlgorithm } from '../core/digest.js';
import type { FromWorker, ToWorker } from './hash-protocol.js';

export interface HashPoolOptions {
  /** Worker threads; default: the machine's parallelism, at most 4. */
  threads?: number;
  /** Bytes per message to a worker: larger batches mean fewer messages, more memory per session. */
  batchBytes?: number;
  /** Batches per session on their way to or in a worker before update() asks the caller to wait. */
  maxInFlight?: number;
  /** Told when a worker thread died (to log it); its sessions have failed. */
  onWorkerLost?: (error: Error) => void;
}

/** 128 KiB: measured, 64 KiB batches cost ~35 % more main-thread time per byte than 128-256 KiB. */
const DEFAULT_BATCH = 128 * 1024;
const DEFAULT_IN_FLIGHT = 4;
/** Spare batch buffers kept for reuse; beyond this they are left to the garbage collector. */
const MAX_SPARE = 32;

export class HashWorkerLostError extends Error {
  constructor(override readonly cause: Error) {
    super(`a hashing thread stopped: ${cause.message}`);
    this.name = 'HashWorkerLostError';
  }
}

export class HashPool {
  private readonly slots: Slot[];
  private readonly spare: ArrayBuffer[] = [];
  private nextId = 1;
  private closed = false;
  readonly batchBytes: number;
  readonly maxInFlight: number;

  constructor(private readonly opts: HashPoolOptions = {}) {
    const threads = opts.threads ?? Math.min(4, availableParallelism());
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`hash pool threads must be a positive integer, got ${threads}`);
    this.batchBytes = opts.batchBytes ?? DEFAULT_BATCH;
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_IN_FLIGHT;
    this.slots = Array.from({ length: threads }, () => new Slot(this));
  }

  /** A running hash in the least busy worker. */
  open(alg: DigestAlgorithm): HashSession {
    if (this.closed) throw new Error('the hash pool is closed');
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.sessions.size < slot.sessions.size) slot = s;
    const session = new HashSession(this, slot, this.nextId++);
    slot.sessions.set(session.id, session);
    slot.post({ op: 'open', id: session.id, alg });
    return session;
  }

  /** The worker threads running now (for diagnostics and tests). */
  liveWorkers(): Worker[] {
    return this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.stop()));
  }

  /** @internal */
  take(): ArrayBuffer {
    return this.spare.pop() ?? new ArrayBuffer(this.batchBytes);
  }

  /** @internal */
  give(buf: ArrayBuffer): void {
    if (buf.byteLength === this.batchBytes && this.spare.length < MAX_SPARE) this.spare.push(buf);
  }

  /** @internal */
  lost(error: Error): void {
    this.opts.onWorkerLost?.(error);
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }
}

/** One worker thread, started on first use and again after it died. */
class Slot {
  worker: Worker | undefined;
  readonly sessions = new Map<number, HashSession>();
  /** Batches and digests awaited from the worker; the worker keeps the process alive only while > 0. */
  private outstanding = 0;

  constructor(private readonly pool: HashPool) {}

  post(m: ToWorker): void {
    const w = this.ensure();
    if (m.op === 'update' || m.op === 'digest') this.expect(1);
    w.postMessage(m, m.op === 'update' ? [m.buf] : []);
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./hash-worker.js', import.meta.url));
    w.unref();
    this.outstanding = 0;
    w.on('message', (m: FromWorker) => {
      this.expect(-1);
      if (m.op === 'ack') {
        this.pool.give(m.buf);
        this.sessions.get(m.id)?.acked();
      } else {
        this.sessions.get(m.id)?.finished(m.hex);
        this.sessions.delete(m.id);
      }
    });
    let failure: Error | undefined;
    w.on('error', (e) => {
      failure = e;
    });
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      if (this.pool.isClosed && this.sessions.size === 0) return;
      const error = new HashWorkerLostError(failure ?? new Error(`exited with code ${code}`));
      const sessions = [...this.sessions.values()];
      this.sessions.clear();
      for (const s of sessions) s.fail(error);
      this.pool.lost(error);
    });
    this.worker = w;
    return w;
  }

  private expect(delta: number): void {
    const before = this.outstanding;
    this.outstanding += delta;
    if (before === 0 && this.outstanding > 0) this.worker?.ref();
    else if (before > 0 && this.outstanding === 0) this.worker?.unref();
  }

  async stop(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    const error = new HashWorkerLostError(new Error('the hash pool was closed'));
    for (const s of this.sessions.values()) s.fail(error);
    this.sessions.clear();
    this.worker = undefined;
    await w.terminate();
  }
}

/** The running hash of one stream of bytes, fed in order. */
export class HashSession {
  /** Bytes fed so far. */
  size = 0;
  /** Set when the worker holding the running hash was lost: the bytes must be hashed again. */
  failure: Error | undefined;
  private batch: ArrayBuffer | undefined;
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
      const n = Math.min(chunk.length - at, this.batch.byteLength - this.filled);
      new Uint8Array(this.batch, this.filled, n).set(chunk.subarray(at, at + n));
      this.filled += n;
      at += n;
      if (this.filled === this.batch.byteLength) this.flush();
    }
    if (this.inFlight < this.pool.maxInFlight || this.failure) return undefined;
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Sends a partly filled batch now, so no buffer is held while the stream is idle. */
  flush(): void {
    const buf = this.batch;
    if (!buf || this.failure) return;
    const len = this.filled;
    this.batch = undefined;
    this.filled = 0;
    if (len === 0) {
      this.pool.give(buf);
      return;
    }
    this.inFlight++;
    this.slot.post({ op: 'update', id: this.id, buf, len });
  }

  /** The hex digest of every byte fed; ends the session. Rejects if its worker was lost. */
  digest(): Promise<string> {
    if (this.ended) return Promise.reject(new Error('hash session already finished'));
    if (this.failure) return Promise.reject(this.failure);
    this.flush();
    this.ended = true;
    return new Promise((resolve, reject) => {
      this.result = { resolve, reject };
      this.slot.post({ op: 'digest', id: this.id });
    });
  }

  /** Abandons the session (no digest wanted). */
  drop(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.batch) this.pool.give(this.batch);
    this.batch = undefined;
    if (this.failure) return;
    this.slot.sessions.delete(this.id);
    this.slot.post({ op: 'drop', id: this.id });
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
