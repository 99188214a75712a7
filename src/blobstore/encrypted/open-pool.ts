/**
 * Opening sealed blobs off the event loop (design decision 6): a download's chunks are read from
 * the blob's fd (or, from a store with no fd, from the store's stream the main thread copies into
 * an input ring: open-feed.ts) and deciphered by the opening task of a byte thread (open-task.ts)
 * into a ring of shared memory of the download's own, and the main thread only hands ring slots
 * to the socket.
 * A slot goes back to the worker when the socket's write of it has completed, so a slow client
 * holds the worker back (at most a ring ahead) and the main thread allocates nothing per chunk.
 *
 * Rings are kept for the next download once every slot is back; a ring whose slots a destroyed
 * socket may still hold is left to the collector instead. The fd belongs to the download and is
 * closed once the worker has said it no longer reads it (finished, failed, stopped, or died).
 */
import { Readable, type Writable } from 'node:stream';
import type { DirectBody } from '../../core/direct-body.js';
import type { BlobHandle } from '../blob-store.js';
import type { ByteThread, ByteThreads } from '../workers/threads.js';
import { BlobIntegrityError, type ChunkRun } from './chunk-format.js';
import { OpenFeed } from './open-feed.js';
import type { FromOpener, OpenerSource, ToOpener } from './open-protocol.js';

export interface OpenPoolOptions {
  /** Plaintext bytes per ring slot (at least one chunk); default 1 MiB. */
  slotBytes?: number;
  /** Slots per download's ring; default 3. */
  slots?: number;
}

export class OpenerLostError extends Error {
  constructor(override readonly cause: Error) {
    super(`an opening thread stopped: ${cause.message}`);
    this.name = 'OpenerLostError';
  }
}

interface Ring {
  sab: SharedArrayBuffer;
  slotBytes: number;
  slots: number;
}

/**
 * Measured (512 MiB download, loaded machine, same run): 1 MiB slots cost the main thread
 * ~0.6 s/GiB against ~0.9 with 256 KiB — a slot is a socket write, a callback and a credit
 * message — and the whole process ~10 % less. Three slots: one on the socket, one ready, one
 * being filled; 3 MiB per download in flight.
 */
const DEFAULT_SLOT = 1024 * 1024;
const DEFAULT_SLOTS = 3;
/** Spare rings kept for later downloads (of the usual slot size): 8 × 3 MiB by default. */
const MAX_SPARE_RINGS = 8;

type OpenRun = { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string };

/** What a download reads from, let go once the worker no longer reads it. */
interface SourceOwner {
  release(): void;
  /** An input slot the worker has read (fed downloads only). */
  taken?(slot: number): void;
}

/** Input slots of a fed download: one the worker reads, one the store's stream fills. */
const INPUT_SLOTS = 2;

export class OpenPool {
  private nextId = 1;
  private readonly downloads = new Map<ByteThread, Map<number, RingDownload>>();
  private spare: Ring[] = [];
  private readonly slotBytes: number;
  private readonly slots: number;

  constructor(
    private readonly threads: ByteThreads,
    opts: OpenPoolOptions = {},
  ) {
    this.slotBytes = opts.slotBytes ?? DEFAULT_SLOT;
    this.slots = opts.slots ?? DEFAULT_SLOTS;
    if (this.slots < 1) throw new Error(`an open pool needs at least one slot per ring, got ${this.slots}`);
    for (const t of threads.threads) {
      const running = new Map<number, RingDownload>();
      this.downloads.set(t, running);
      t.on('open', (m) => running.get((m as FromOpener).id)?.received(m as FromOpener));
      t.onExit((cause) => {
        const lost = [...running.values()];
        running.clear();
        for (const d of lost) d.lost(new OpenerLostError(cause));
      });
    }
  }

  /**
   * The plaintext of `run`, read from `fd` (`handle`'s), which the download then owns: the handle
   * is closed once the worker is done with it, whatever happens. Resolves once the first slot is
   * opened, so a blob that fails authentication is refused before a client has been answered.
   */
  async open(handle: BlobHandle, fd: number, opts: OpenRun): Promise<Readable & DirectBody> {
    return this.begin({ fd }, { release: () => void handle.close().catch(() => undefined) }, opts);
  }

  /**
   * The plaintext of `run`, from `sealed`: exactly the run's stored bytes (a store's ranged read),
   * which the download then owns (destroyed if it ends early). Resolves as open() does.
   */
  async openStream(sealed: Readable, opts: OpenRun): Promise<Readable & DirectBody> {
    let download: RingDownload | undefined;
    const feed = new OpenFeed(sealed, this.slotBytes, INPUT_SLOTS, {
      input: (slot, len, last) => download?.feedInput(slot, len, last),
      failed: (e) => download?.fail(e),
    });
    return this.begin({ input: feed.sab, inputSlotBytes: feed.slotBytes }, feed, opts, (d) => {
      download = d;
      feed.begin();
    });
  }

  private async begin(source: OpenerSource, owner: SourceOwner, opts: OpenRun, started?: (d: RingDownload) => void): Promise<Readable & DirectBody> {
    const thread = this.threads.least((t) => this.downloads.get(t)!.size);
    const id = this.nextId++;
    const download = new RingDownload(this, thread, id, owner, this.ring(opts.chunkSize));
    const { dataKey, chunkSize, run, label } = opts;
    try {
      download.start({ kind: 'open', op: 'start', id, source, dataKey, chunkSize, run, label, ring: download.ring.sab, slotBytes: download.ring.slotBytes });
    } catch (e) {
      // Never started (the threads are closed): nothing reads the source.
      owner.release();
      throw e;
    }
    this.downloads.get(thread)!.set(id, download);
    started?.(download);
    await download.firstSlot;
    download.handedOut = true;
    return download;
  }

  /** Downloads under way (for tests and diagnostics). */
  get active(): number {
    let n = 0;
    for (const m of this.downloads.values()) n += m.size;
    return n;
  }

  /** Spare rings (for tests: a download that finished cleanly gives its ring back). */
  get spareRings(): number {
    return this.spare.length;
  }

  /** @internal */
  forget(thread: ByteThread, id: number): void {
    this.downloads.get(thread)?.delete(id);
  }

  /** @internal A ring no one holds any more. */
  giveBack(ring: Ring): void {
    if (ring.slotBytes === this.slotBytes && this.spare.length < MAX_SPARE_RINGS) this.spare.push(ring);
  }

  private ring(chunkSize: number): Ring {
    const slotBytes = Math.max(chunkSize, this.slotBytes);
    if (slotBytes === this.slotBytes && this.spare.length > 0) return this.spare.pop()!;
    return { sab: new SharedArrayBuffer(slotBytes * this.slots), slotBytes, slots: this.slots };
  }
}

/** One download: a Readable for any consumer, and a DirectBody for one that lets it reuse its ring. */
class RingDownload extends Readable implements DirectBody {
  readonly firstSlot: Promise<void>;
  private settleFirst!: (e?: Error) => void;
  /** Filled slots not yet handed on, in order. */
  private readonly ready: Array<{ slot: number; len: number }> = [];
  /** The worker has sent the last of the plaintext. */
  private last = false;
  /** The worker no longer touches the fd (it finished, failed, stopped or died). */
  private workerDone = false;
  /** Slots the destination's writes still hold. */
  private lent = 0;
  private recycled = false;
  private reading = false;
  /** open() has returned the download: from then on its failures are its consumer's to hear. */
  handedOut = false;
  private sink: { dest: Writable; settle: (e?: Error) => void; waitingDrain: boolean; ending: boolean } | undefined;

  constructor(
    private readonly pool: OpenPool,
    private readonly thread: ByteThread,
    private readonly id: number,
    private readonly source: SourceOwner,
    readonly ring: Ring,
  ) {
    super({ highWaterMark: ring.slotBytes });
    this.firstSlot = new Promise<void>((resolve, reject) => {
      this.settleFirst = (e) => (e ? reject(e) : resolve());
    });
    this.firstSlot.catch(() => undefined);
  }

  start(m: ToOpener): void {
    this.post(m);
    this.thread.hold(1);
  }

  received(m: FromOpener): void {
    switch (m.op) {
      case 'data':
        this.ready.push({ slot: m.slot, len: m.len });
        if (m.last) this.finishedReading(false);
        this.settleFirst();
        this.flow();
        break;
      case 'end':
        this.finishedReading(false);
        this.settleFirst();
        this.flow();
        break;
      case 'fail': {
        this.finishedReading(false);
        const e = m.integrity ? new BlobIntegrityError(m.message) : new Error(m.message);
        this.fail(e);
        break;
      }
      case 'stopped':
        this.finishedReading(false);
        break;
      case 'taken':
        if (!this.workerDone) this.source.taken?.(m.slot);
        break;
    }
  }

  /** @internal Sealed bytes for the worker, from the store's stream (openStream). */
  feedInput(slot: number, len: number, last: boolean): void {
    if (!this.workerDone) this.post({ kind: 'open', op: 'input', id: this.id, slot, len, last });
  }

  /** @internal The worker died: it reads nothing any more. */
  lost(e: Error): void {
    this.finishedReading(true);
    this.fail(e);
  }

  /** @internal Ends the download with `e`: open()'s rejection before it returned, the consumer's error after. */
  fail(e: Error): void {
    this.settleFirst(e);
    // Before open() returned, its rejection is the one report: no one listens to the stream yet.
    if (!this.handedOut) this.on('error', () => undefined);
    this.destroy(e);
  }

  /** The source is no longer read by the worker: let it go (close the fd), and let the thread go idle. */
  private finishedReading(threadGone: boolean): void {
    if (this.workerDone) return;
    this.workerDone = true;
    this.last = true;
    this.pool.forget(this.thread, this.id);
    if (!threadGone) this.thread.hold(-1);
    this.source.release();
    this.recycle();
  }

  private credit(slot: number): void {
    if (!this.workerDone) this.post({ kind: 'open', op: 'credit', id: this.id, slot });
  }

  private post(m: ToOpener): void {
    this.thread.post(m);
  }

  private view(r: { slot: number; len: number }): Buffer {
    return Buffer.from(this.ring.sab, r.slot * this.ring.slotBytes, r.len);
  }

  private flow(): void {
    if (this.sink) this.writeSlots();
    else if (this.reading) this.pushSlots();
  }

  // Readable: each slot is copied out and credited at once.
  override _read(): void {
    this.reading = true;
    this.pushSlots();
  }

  private pushSlots(): void {
    while (this.reading && this.ready.length > 0) {
      const r = this.ready.shift()!;
      const copy = Buffer.allocUnsafe(r.len);
      copy.set(this.view(r));
      this.credit(r.slot);
      this.reading = this.push(copy);
    }
    if (this.ready.length === 0 && this.last && !this.destroyed && !this.readableEnded) this.push(null);
  }

  writeTo(dest: Writable): Promise<void> {
    if (this.sink || this.reading) return Promise.reject(new Error('a download is written to one destination, once'));
    // The failure reaches the caller through the promise; as a Readable, no one listens.
    this.on('error', () => undefined);
    return new Promise<void>((resolve, reject) => {
      const onClose = () => {
        if (!dest.writableFinished) this.destroy(new Error('the client went away before the blob was sent'));
      };
      const onError = (e: Error) => this.destroy(e);
      dest.on('close', onClose).on('error', onError);
      this.sink = {
        dest,
        waitingDrain: false,
        ending: false,
        settle: (e) => {
          dest.off('close', onClose).off('error', onError);
          if (e) {
            // As a pipe would: the destination is cut, and its own error is ours, already reported.
            dest.on('error', () => undefined);
            dest.destroy(e);
            reject(e);
          } else {
            resolve();
          }
        },
      };
      if (this.destroyed) this.sink.settle(this.errored ?? new Error('the download was destroyed'));
      else this.writeSlots();
    });
  }

  private writeSlots(): void {
    const sink = this.sink!;
    while (!sink.waitingDrain && this.ready.length > 0) {
      const r = this.ready.shift()!;
      this.lent++;
      const ok = sink.dest.write(this.view(r), (err) => this.written(r.slot, err));
      if (!ok) {
        sink.waitingDrain = true;
        sink.dest.once('drain', () => {
          sink.waitingDrain = false;
          this.writeSlots();
        });
      }
    }
    if (this.ready.length === 0 && this.last && this.workerDone && !sink.ending && !this.destroyed) {
      sink.ending = true;
      sink.dest.end(() => {
        const settle = this.sink?.settle;
        this.sink = undefined;
        // Nothing is left to read; ending the Readable side releases the ring.
        this.destroy();
        settle?.();
      });
    }
  }

  private written(slot: number, err: Error | null | undefined): void {
    this.lent--;
    if (!err && !this.destroyed) this.credit(slot);
    this.recycle();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (!this.workerDone) this.post({ kind: 'open', op: 'stop', id: this.id });
    this.settleFirst(err ?? new Error('the download was destroyed before its first slot'));
    const sink = this.sink;
    this.sink = undefined;
    sink?.settle(err ?? new Error('the download was destroyed'));
    this.recycle();
    cb(err);
  }

  /** The ring goes back once nothing can touch it: the worker is done, every write completed, and the download is over. */
  private recycle(): void {
    if (this.recycled || !this.workerDone || this.lent > 0 || !this.destroyed) return;
    this.recycled = true;
    this.pool.giveBack(this.ring);
  }
}
