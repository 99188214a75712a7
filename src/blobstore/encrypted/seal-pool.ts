/**
 * Sealing uploads off the event loop (design decision 6): an append's plaintext is copied into a
 * ring of shared memory of its own and sealed by the sealing task of a byte thread (seal-task.ts),
 * which on fs also writes the sealed chunks to the staged file itself. The main thread only copies
 * bytes into slots and keeps the order that makes a crash safe: the staged upload's record
 * (staged-upload.ts) is written after `end()`, once the worker has written every chunk it sealed.
 *
 * A slot goes back to the main thread when the worker acknowledges it, so a slow disk holds the
 * socket back (at most a ring ahead). A worker that dies (or a write that fails) fails its
 * appends: the bytes it wrote past the record are dead, as after a crash, and the next append
 * rebases the upload. Nothing is half-recorded. An append given its upload's running hash runs on
 * the thread holding it, which hashes the bytes in the same pass as it seals them.
 */
import type { ByteThread, ByteThreads } from '../workers/threads.js';
import type { FromSealer, ToSealer } from './seal-protocol.js';

export interface SealPoolOptions {
  /** Plaintext bytes per ring slot; default 256 KiB. */
  slotBytes?: number;
  /** Slots per append's ring; default 4. */
  slots?: number;
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
/** Spare rings kept for later appends (of the usual size): 16 × 1 MiB by default. */
const MAX_SPARE_RINGS = 16;

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
  private spare: SharedArrayBuffer[] = [];
  readonly slotBytes: number;
  readonly slots: number;

  constructor(
    private readonly threads: ByteThreads,
    opts: SealPoolOptions = {},
  ) {
    this.slotBytes = opts.slotBytes ?? DEFAULT_SLOT;
    this.slots = opts.slots ?? DEFAULT_SLOTS;
    if (this.slots < 1 || this.slotBytes < 1) throw new Error('a seal pool needs at least one slot of at least one byte');
    for (const t of threads.threads) {
      const running = new Map<number, SealAppend>();
      this.appends.set(t, running);
      t.on('seal', (m) => running.get((m as FromSealer).id)?.received(m as FromSealer));
      t.onExit((cause) => {
        const lost = [...running.values()];
        running.clear();
        for (const a of lost) a.fail(new SealerLostError(cause));
      });
    }
  }

  /** An append sealed on the least busy thread. Throws when the threads are closed. */
  begin(opts: SealStart): SealAppend {
    const thread = opts.hash && this.owns(opts.hash.thread) ? opts.hash.thread : this.threads.least((t) => this.appends.get(t)!.size);
    const id = this.nextId++;
    const ring = this.spare.pop() ?? new SharedArrayBuffer(this.slotBytes * this.slots);
    const a = new SealAppend(this, thread, id, ring, opts.onSealed);
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
      ring,
      slotBytes: this.slotBytes,
      ...target,
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

  /** The worker threads running now (for tests). */
  liveWorkers(): ReturnType<ByteThreads['liveWorkers']> {
    return this.threads.liveWorkers();
  }

  /** @internal An append is over and the worker no longer touches its ring. */
  finished(thread: ByteThread, id: number, ring: SharedArrayBuffer): void {
    this.appends.get(thread)?.delete(id);
    if (ring.byteLength === this.slotBytes * this.slots && this.spare.length < MAX_SPARE_RINGS) this.spare.push(ring);
  }
}

/** One append's plaintext on its way to a worker: write() pieces in order, then end(). */
export class SealAppend {
  private readonly bytes: Uint8Array;
  private readonly free: number[];
  private current: number | undefined;
  private filled = 0;
  /** Messages the worker has yet to answer (each holds the thread's worker ref'd). */
  private outstanding = 0;
  private failure: Error | undefined;
  private ended = false;
  private waiting: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private result: { resolve: (r: { chunks: number; tail: Buffer }) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly pool: SealPool,
    private readonly thread: ByteThread,
    private readonly id: number,
    private readonly ring: SharedArrayBuffer,
    private readonly onSealed: ((sealed: Buffer) => void) | undefined,
  ) {
    this.bytes = new Uint8Array(ring);
    this.free = Array.from({ length: pool.slots }, (_, i) => pool.slots - 1 - i);
  }

  /**
   * Copies `piece` into the ring (the caller may reuse it at once). Returns a promise when the
   * ring filled up before the piece was taken whole: the caller waits on it before writing more.
   * Throws (or rejects) once the append failed.
   */
  write(piece: Uint8Array): Promise<void> | undefined {
    const slotBytes = this.pool.slotBytes;
    for (let at = 0; at < piece.length; ) {
      if (this.failure) throw this.failure;
      if (this.current === undefined) {
        const slot = this.free.pop();
        if (slot === undefined) {
          const rest = piece.subarray(at);
          return new Promise<void>((resolve, reject) => {
            this.waiting = { resolve, reject };
          }).then(() => this.write(rest));
        }
        this.current = slot;
        this.filled = 0;
      }
      const n = Math.min(piece.length - at, slotBytes - this.filled);
      this.bytes.set(n === piece.length ? piece : piece.subarray(at, at + n), this.current * slotBytes + this.filled);
      this.filled += n;
      at += n;
      if (this.filled === slotBytes) this.post();
    }
    return undefined;
  }

  /**
   * Seals what was written: resolves with the whole chunks sealed (and, with a target, written)
   * and the plaintext after them. Once it settles, either way, the worker no longer touches the
   * target or the ring.
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

  /** @internal */
  received(m: FromSealer): void {
    this.outstanding--;
    this.thread.hold(-1);
    switch (m.op) {
      case 'ack': {
        if (m.sealed) for (const b of m.sealed) this.onSealed?.(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        this.free.push(m.slot);
        const w = this.waiting;
        this.waiting = undefined;
        w?.resolve();
        break;
      }
      case 'done':
        this.pool.finished(this.thread, this.id, this.ring);
        this.result?.resolve({ chunks: m.chunks, tail: Buffer.from(m.tail.buffer, m.tail.byteOffset, m.tail.byteLength) });
        this.result = undefined;
        break;
      case 'fail': {
        const e = Object.assign(new Error(`sealing failed: ${m.message}`), m.code === undefined ? {} : { code: m.code });
        // The worker forgot the append: nothing it was sent will be answered.
        this.thread.hold(-this.outstanding);
        this.outstanding = 0;
        this.pool.finished(this.thread, this.id, this.ring);
        this.fail(e);
        break;
      }
    }
  }

  /** @internal */
  fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(e);
    const r = this.result;
    this.result = undefined;
    r?.reject(e);
  }

  /** Posts the slot being filled, if it holds anything. */
  private post(): void {
    const slot = this.current;
    if (slot === undefined) return;
    this.current = undefined;
    if (this.filled === 0) {
      this.free.push(slot);
      return;
    }
    this.send({ kind: 'seal', op: 'data', id: this.id, slot, len: this.filled });
    this.filled = 0;
  }

  private send(m: ToSealer): void {
    this.outstanding++;
    this.thread.hold(1);
    this.thread.post(m);
  }
}
