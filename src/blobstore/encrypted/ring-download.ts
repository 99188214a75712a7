/**
 * One download of the open pool (open-pool.ts): a Readable for any consumer, and a DirectBody for
 * one that lets it reuse its ring. A download has one part per byte thread opening it (usually
 * one; two when the pool stripes it, open-protocol.ts `Stripe`), each with a ring of its own;
 * the parts' filled slots are handed on in turn, which is the run's order.
 */
import { Readable, type Writable } from 'node:stream';
import type { DirectBody } from '../../core/direct-body.js';
import type { ByteThread } from '../workers/threads.js';
import { BlobIntegrityError } from './chunk-format.js';
import type { FromOpener, ToOpener } from './open-protocol.js';

export interface Ring {
  sab: SharedArrayBuffer;
  slotBytes: number;
  slots: number;
}

/** What a download reads from, let go once no worker reads it any more. */
export interface SourceOwner {
  release(): void;
  /** An input slot the worker has read (fed downloads only). */
  taken?(slot: number): void;
}

/** What the download needs of its pool. */
export interface RingHome {
  forget(thread: ByteThread, id: number): void;
  giveBack(ring: Ring): void;
}

/** One thread's share of a download. */
export interface Part {
  thread: ByteThread;
  id: number;
  ring: Ring;
  /** Filled slots not yet handed on, in order. */
  ready: Array<{ slot: number; len: number }>;
  /** The worker no longer touches the source (it finished, failed, stopped or died). */
  workerDone: boolean;
}

function post(part: Part, m: ToOpener): void {
  part.thread.post(m);
}

export class RingDownload extends Readable implements DirectBody {
  readonly firstSlot: Promise<void>;
  private settleFirst!: (e?: Error) => void;
  /** The part whose slot comes next. */
  private turn = 0;
  /** Slots the destination's writes still hold. */
  private lent = 0;
  private recycled = false;
  private reading = false;
  /** open() has returned the download: from then on its failures are its consumer's to hear. */
  handedOut = false;
  private sink: { dest: Writable; settle: (e?: Error) => void; waitingDrain: boolean; ending: boolean } | undefined;

  constructor(
    private readonly home: RingHome,
    readonly parts: Part[],
    private readonly source: SourceOwner,
  ) {
    super({ highWaterMark: parts[0]!.ring.slotBytes });
    this.firstSlot = new Promise<void>((resolve, reject) => {
      this.settleFirst = (e) => (e ? reject(e) : resolve());
    });
    this.firstSlot.catch(() => undefined);
  }

  start(part: Part, m: ToOpener): void {
    post(part, m);
    part.thread.hold(1);
  }

  received(part: Part, m: FromOpener): void {
    switch (m.op) {
      case 'data':
        part.ready.push({ slot: m.slot, len: m.len });
        if (m.last) this.finishedReading(part, false);
        // The first part holds the run's first chunk: its slot proves the blob opens.
        if (part === this.parts[0]) this.settleFirst();
        this.flow();
        break;
      case 'end':
        this.finishedReading(part, false);
        if (part === this.parts[0]) this.settleFirst();
        this.flow();
        break;
      case 'fail': {
        this.finishedReading(part, false);
        const e = m.integrity ? new BlobIntegrityError(m.message) : new Error(m.message);
        this.fail(e);
        break;
      }
      case 'stopped':
        this.finishedReading(part, false);
        break;
      case 'taken':
        if (!part.workerDone) this.source.taken?.(m.slot);
        break;
    }
  }

  /** @internal Sealed bytes for the worker, from the store's stream (openStream: one part). */
  feedInput(slot: number, len: number, last: boolean): void {
    const part = this.parts[0]!;
    if (!part.workerDone) post(part, { kind: 'open', op: 'input', id: part.id, slot, len, last });
  }

  /** @internal The part's worker died: it reads nothing any more. */
  lost(part: Part, e: Error): void {
    this.finishedReading(part, true);
    this.fail(e);
  }

  /** @internal Ends the download with `e`: open()'s rejection before it returned, the consumer's error after. */
  fail(e: Error): void {
    this.settleFirst(e);
    // Before open() returned, its rejection is the one report: no one listens to the stream yet.
    if (!this.handedOut) this.on('error', () => undefined);
    this.destroy(e);
  }

  private get workersDone(): boolean {
    return this.parts.every((p) => p.workerDone);
  }

  /** The part's worker no longer reads the source: let the thread go idle, and the source go once no part reads it. */
  private finishedReading(part: Part, threadGone: boolean): void {
    if (part.workerDone) return;
    part.workerDone = true;
    this.home.forget(part.thread, part.id);
    if (!threadGone) part.thread.hold(-1);
    if (this.workersDone) this.source.release();
    this.recycle();
  }

  /** The next slot in the run's order, if it is ready. */
  private nextSlot(): { part: Part; slot: number; len: number } | undefined {
    const part = this.parts[this.turn]!;
    const r = part.ready.shift();
    if (!r) return undefined;
    this.turn = (this.turn + 1) % this.parts.length;
    return { part, ...r };
  }

  /**
   * Every slot has been handed on: the part whose turn it is has finished and has none left (its
   * next stripe would have been the next slot), or, failed, the download is being torn down anyway.
   */
  private get drained(): boolean {
    const part = this.parts[this.turn]!;
    return part.workerDone && part.ready.length === 0;
  }

  private credit(part: Part, slot: number): void {
    if (!part.workerDone) post(part, { kind: 'open', op: 'credit', id: part.id, slot });
  }

  private view(part: Part, r: { slot: number; len: number }): Buffer {
    return Buffer.from(part.ring.sab, r.slot * part.ring.slotBytes, r.len);
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
    while (this.reading) {
      const r = this.nextSlot();
      if (!r) break;
      const copy = Buffer.allocUnsafe(r.len);
      copy.set(this.view(r.part, r));
      this.credit(r.part, r.slot);
      this.reading = this.push(copy);
    }
    if (this.drained && this.workersDone && !this.destroyed && !this.readableEnded) this.push(null);
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
    while (!sink.waitingDrain) {
      const r = this.nextSlot();
      if (!r) break;
      this.lent++;
      const ok = sink.dest.write(this.view(r.part, r), (err) => this.written(r.part, r.slot, err));
      if (!ok) {
        sink.waitingDrain = true;
        sink.dest.once('drain', () => {
          sink.waitingDrain = false;
          this.writeSlots();
        });
      }
    }
    if (this.drained && this.workersDone && !sink.ending && !this.destroyed) {
      sink.ending = true;
      sink.dest.end(() => {
        const settle = this.sink?.settle;
        this.sink = undefined;
        // Nothing is left to read: the Readable side ends (so the abort signal's watcher, or a
        // pipeline, sees an end rather than a premature close, an error with a stack built for
        // every download), then is destroyed, which releases the rings.
        this.push(null);
        this.destroy();
        settle?.();
      });
    }
  }

  private written(part: Part, slot: number, err: Error | null | undefined): void {
    this.lent--;
    if (!err && !this.destroyed) this.credit(part, slot);
    this.recycle();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    for (const p of this.parts) if (!p.workerDone) post(p, { kind: 'open', op: 'stop', id: p.id });
    this.settleFirst(err ?? new Error('the download was destroyed before its first slot'));
    const sink = this.sink;
    this.sink = undefined;
    sink?.settle(err ?? new Error('the download was destroyed'));
    this.recycle();
    cb(err);
  }

  /** The rings go back once nothing can touch them: every worker is done, every write completed, and the download is over. */
  private recycle(): void {
    if (this.recycled || !this.workersDone || this.lent > 0 || !this.destroyed) return;
    this.recycled = true;
    for (const p of this.parts) this.home.giveBack(p.ring);
  }
}
