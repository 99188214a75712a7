/**
 * One download of the open pool (open-pool.ts): a Readable for any consumer, and a DirectBody for
 * one that lets it reuse its ring. A download has one part per byte thread opening it (usually
 * one; two when the pool stripes it, open-protocol.ts `Stripe`), each with a ring of its own;
 * the parts' filled slots are handed on in turn, which is the run's order.
 */
import { closeSync } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import type { DirectBody, SendTarget } from '../../core/direct-body.js';
import type { ByteThread } from '../workers/threads.js';
import { BlobIntegrityError } from './chunk-format.js';
import type { BudgetGrant } from '../../core/download-budget.js';
import type { FromOpener, ToOpener } from './open-protocol.js';
import type { SockSend } from './sock-send.js';
import { copyInto } from '../../core/shared-copy.js';

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
  /** What the download held of the pool's budget (download-budget.ts) is free again. */
  release(grants: readonly BudgetGrant[]): void;
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

/** A download the pool lets its thread write to the client's socket (open-send.ts). */
export interface SendPlan {
  addon: SockSend;
  stallMs: number;
  /** Bytes the client must take in each `stallMs` window (the response rule). */
  minBytes: number;
  /** Through the thread's send pipe (open-pipe.ts): its send(2)s overlap the opening of the next pieces. */
  pipe: boolean;
  /** The pipe's thread runs as SCHED_BATCH (open-pipe.ts). */
  pipeBatch: boolean;
  /** Counts the downloads that went to their socket from the thread. */
  started(): void;
}

/**
 * The hand-over to the thread: `asked` (send posted; slots may still come), `switched` (no more
 * will; writing what was posted), `going` (the thread writes to `dup`). The dup is ours, closed
 * once the worker no longer touches it (finished, failed, stopped or died).
 */
interface Handover {
  state: 'asked' | 'switched' | 'going';
  dup: number;
  closed: boolean;
  sentPast: ((bytes: number) => void) | undefined;
  /** Says the response was cut by the response rule (SendTarget.cut). */
  cut: (() => void) | undefined;
  /** Bytes the thread reported sent. */
  bytes: number;
  /** The run's last bytes, left in the ring for the response's end: ring[at, at + len). */
  tail: { at: number; len: number } | undefined;
}

function post(part: Part, m: ToOpener): void {
  part.thread.post(m);
}

export class RingDownload extends Readable implements DirectBody {
  /** Its rings are in the pool's budget already (HeldBytes). */
  readonly heldBytes = 0;
  readonly firstSlot: Promise<void>;
  private settleFirst!: (e?: Error) => void;
  /** The part whose slot comes next. */
  private turn = 0;
  /** Slots the destination's writes still hold. */
  private lent = 0;
  private recycled = false;
  private budgetFreed = false;
  private reading = false;
  /** open() has returned the download: from then on its failures are its consumer's to hear. */
  handedOut = false;
  private sink: { dest: Writable; settle: (e?: Error) => void; waitingDrain: boolean; ending: boolean } | undefined;
  private handover: Handover | undefined;

  constructor(
    private readonly home: RingHome,
    readonly parts: Part[],
    private readonly source: SourceOwner,
    private readonly sendPlan?: SendPlan,
    private readonly grants: readonly BudgetGrant[] = [],
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
        this.reportSentPast(m.bytes ?? 0);
        if (m.cut) this.handover?.cut?.();
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
      case 'switched':
        if (this.handover?.state === 'asked') this.handover.state = 'switched';
        this.flow();
        break;
      case 'sent':
        if (this.handover) {
          this.handover.bytes = m.bytes;
          this.handover.tail = m.tail;
        }
        this.finishedReading(part, false);
        this.flow();
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
    const h = this.handover;
    if (h && !h.closed) {
      h.closed = true;
      // Ours since the dup; nothing else closes it. Should that ever fail, the download still ends.
      try {
        closeSync(h.dup);
      } catch {
        // nothing to undo
      }
    }
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
      copyInto(copy, 0, this.view(r.part, r));
      this.credit(r.part, r.slot);
      this.reading = this.push(copy);
    }
    if (this.drained && this.workersDone && !this.destroyed && !this.readableEnded) this.push(null);
  }

  writeTo(dest: Writable, target?: SendTarget): Promise<void> {
    if (this.sink || this.reading) return Promise.reject(new Error('a download is written to one destination, once'));
    this.askToSend(target);
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
    if (this.handover?.state === 'switched') this.letGo(sink);
    if (this.drained && this.workersDone && !sink.ending && !this.destroyed) {
      sink.ending = true;
      // The thread's bytes are counted before the response ends (observers read the count then).
      const h = this.handover;
      if (h) this.reportSentPast(h.bytes);
      // The run's last bytes, which the thread left in its slot for the response's own end: the
      // client cannot have the whole body before the response has ended.
      const last = h?.tail && h.tail.len > 0 ? Buffer.from(this.parts[0]!.ring.sab, h.tail.at, h.tail.len) : undefined;
      const ended = () => {
        if (last) this.lent--;
        const settle = this.sink?.settle;
        this.sink = undefined;
        // Nothing is left to read: the Readable side ends (so the abort signal's watcher, or a
        // pipeline, sees an end rather than a premature close, an error with a stack built for
        // every download), then is destroyed, which releases the rings.
        this.push(null);
        this.destroy();
        settle?.();
      };
      if (last) {
        this.lent++;
        sink.dest.end(last, ended);
      } else {
        sink.dest.end(ended);
      }
    }
  }

  private written(part: Part, slot: number, err: Error | null | undefined): void {
    this.lent--;
    if (!err && !this.destroyed) this.credit(part, slot);
    this.recycle();
    if (this.handover?.state === 'switched' && this.sink) this.letGo(this.sink);
  }

  /**
   * Asks the thread to write the rest to the socket itself, where the pool allows it and `dest`
   * is a plain socket: the first slot is here (open() waited for it), so the response's headers
   * go out with its write, before any byte of the thread's.
   */
  private askToSend(target: SendTarget | undefined): void {
    const plan = this.sendPlan;
    const part = this.parts[0]!;
    if (!plan || target?.socketFd === undefined || this.parts.length !== 1 || part.workerDone || part.ready.length === 0) return;
    const dup = plan.addon.dup(target.socketFd);
    if (dup < 0) return;
    this.handover = { state: 'asked', dup, closed: false, sentPast: target.sentPast, cut: target.cut, bytes: 0, tail: undefined };
    post(part, { kind: 'open', op: 'send', id: part.id });
  }

  /**
   * The thread fills no more slots: once every slot written so far is in the kernel (the write
   * callbacks came, and nothing waits in the response or the socket), the socket is the thread's.
   */
  private letGo(sink: { dest: Writable }): void {
    const h = this.handover!;
    const part = this.parts[0]!;
    if (part.ready.length > 0 || this.lent > 0 || part.workerDone || this.destroyed) return;
    if (sink.dest.writableLength > 0) {
      setImmediate(() => {
        if (this.sink === sink && this.handover?.state === 'switched') this.letGo(sink);
      });
      return;
    }
    h.state = 'going';
    this.sendPlan!.started();
    const { stallMs, minBytes, pipe, pipeBatch } = this.sendPlan!;
    post(part, { kind: 'open', op: 'go', id: part.id, sock: h.dup, stallMs, minBytes, pipe, pipeBatch });
  }

  private reportSentPast(bytes: number): void {
    const h = this.handover;
    if (!h?.sentPast || bytes === 0) return;
    const report = h.sentPast;
    h.sentPast = undefined;
    report(bytes);
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

  /**
   * The rings go back once nothing can touch them: every worker is done, every write completed, and
   * the download is over. Its share of the budget goes back once every worker is done and the
   * download is over, without waiting for writes: a destroyed socket's writes fail as it closes,
   * and the budget must not wait on a client.
   */
  private recycle(): void {
    if (!this.workersDone || !this.destroyed) return;
    this.letGoBudget();
    if (this.recycled || this.lent > 0) return;
    this.recycled = true;
    for (const p of this.parts) this.home.giveBack(p.ring);
  }

  /** @internal Gives back what the download held of the budget, once. */
  letGoBudget(): void {
    if (this.budgetFreed) return;
    this.budgetFreed = true;
    this.home.release(this.grants);
  }
}
