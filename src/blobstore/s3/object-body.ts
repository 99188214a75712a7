/**
 * The body of an object read by object-reader.ts: pieces of the connection's slabs, ended after
 * Content-Length bytes. Read as a Readable, each piece is handed on as it is (a view, no copy),
 * and its slab is left to the collector. Written with writeTo (a DirectBody, what blob GETs use),
 * each piece goes straight to the destination and its slab returns to the pool once every write
 * from it completed: a 1 MiB allocation per MiB read cost a full collection every few dozen MiB
 * (external memory), most of what was left of a relay's CPU once the SDK was out of the way.
 */
import { Readable, type Writable } from 'node:stream';
import type { DirectBody } from '../../core/direct-body.js';

export const SLAB_BYTES = 1024 * 1024;
/**
 * A lean relay's slabs: what a body granted lean by the download budget reads into (a slow
 * reader is served as well by 64 KiB reads, and 3 of them are 1/16 of a full relay's hold), and
 * what a connection reads an answer's head into and idles on.
 */
export const LEAN_SLAB_BYTES = 64 * 1024;

export class Slab {
  used = 0;
  /** Pieces handed out whose writes have not completed. */
  lent = 0;
  /** No further reads go here; it may be reused once nothing is lent. */
  retired = false;
  /** A piece went to a reader whose release we cannot see: never reuse. */
  given = false;

  constructor(
    readonly buf: Buffer,
    readonly pool: SlabPool,
  ) {}

  retire(): void {
    this.retired = true;
    this.recycle();
  }

  recycle(): void {
    if (this.retired && this.lent === 0 && !this.given) this.pool.put(this.buf);
  }
}

export class SlabPool {
  private readonly free: Buffer[] = [];

  /**
   * @param size each slab's bytes
   * @param minRead below this much room left, a slab is retired and reads go to a fresh one
   * @param keep free slabs kept for reuse, across connections (a relay in flight holds two or three)
   */
  constructor(
    readonly size: number,
    readonly minRead: number,
    private readonly keep: number,
  ) {}

  take(): Slab {
    return new Slab(this.free.pop() ?? Buffer.allocUnsafe(this.size), this);
  }

  put(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }
}

/** What the body needs of its connection. */
export interface BodySource {
  /** Called with each piece read; returns false to stop reading until resume(). */
  onData: ((piece: Buffer, slab: Slab) => boolean) | undefined;
  onEnd: ((err: Error | undefined) => void) | undefined;
  resume(): void;
  /** Reads after the next one go to lean slabs (LEAN_SLAB_BYTES) or full ones. */
  readsLean(lean: boolean): void;
}

interface Sink {
  dest: Writable;
  waitingDrain: boolean;
  settle(e?: Error): void;
}

export class ObjectBody extends Readable implements DirectBody {
  private left: number;
  /** Bytes that came with the head, before anyone asked for them (a copy, not a slab's). */
  private first: Buffer | undefined;
  private started = false;
  private sink: Sink | undefined;
  /** Told lean() before it began: reads stay in lean slabs. */
  private isLean = false;
  /** A slab being filled and one or two whose pieces the destination still writes (HeldBytes). */
  readonly heldBytes = 3 * SLAB_BYTES;
  /** The same in lean slabs, once lean() was called (HeldBytes). */
  readonly leanHeldBytes = 3 * LEAN_SLAB_BYTES;

  constructor(
    private readonly source: BodySource,
    length: number,
    first: Buffer,
    private readonly done: (reusable: boolean) => void,
  ) {
    super({ highWaterMark: 2 * SLAB_BYTES });
    // The caller checked that `first` is no longer than the body.
    this.left = length - first.length;
    this.first = first.length > 0 ? first : undefined;
    source.onData = (piece, slab) => this.accept(piece, slab);
    source.onEnd = (err) => {
      if (this.left > 0) this.destroy(err ?? new Error(`S3 connection closed with ${this.left} bytes of the object unread`));
    };
  }

  writeTo(dest: Writable): Promise<void> {
    if (this.started) return Promise.reject(new Error('an object body is written to one destination, once'));
    this.started = true;
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
        settle: (e) => {
          this.sink = undefined;
          dest.off('close', onClose).off('error', onError);
          if (!e) return resolve();
          // As a pipe would: the destination is cut, and its own error is ours, already reported.
          dest.on('error', () => undefined);
          dest.destroy(e);
          reject(e);
        },
      };
      if (this.destroyed) return this.sink.settle(this.errored ?? new Error('the object body was destroyed'));
      this.begin();
    });
  }

  /**
   * Reads lean slabs (the download budget granted the lean shape); called before the body is
   * read or written. Else, once it begins, it reads full slabs: the head came in a lean one.
   */
  lean(): void {
    if (!this.started) this.isLean = true;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.begin();
    } else if (this.left > 0) {
      this.source.resume();
    }
  }

  private begin(): void {
    if (!this.isLean) this.source.readsLean(false);
    const first = this.first;
    this.first = undefined;
    if (first) this.deliver(first, undefined);
    if (this.left === 0) this.finish();
    else if (!this.destroyed) this.source.resume();
  }

  private accept(piece: Buffer, slab: Slab): boolean {
    if (piece.length > this.left) {
      this.destroy(new Error('S3 sent more bytes than its Content-Length'));
      return false;
    }
    this.left -= piece.length;
    const more = this.deliver(piece, slab);
    if (this.left > 0) return more;
    this.finish();
    // The connection is the pool's now (idle and reading, to notice a close); leave it so.
    return true;
  }

  /** Hands a piece on; false when the taker wants no more for now. */
  private deliver(piece: Buffer, slab: Slab | undefined): boolean {
    const sink = this.sink;
    if (!sink) {
      if (slab) slab.given = true;
      return this.push(piece);
    }
    if (slab) slab.lent++;
    const ok = sink.dest.write(piece, () => {
      if (!slab) return;
      slab.lent--;
      slab.recycle();
    });
    if (ok || sink.waitingDrain) return ok;
    sink.waitingDrain = true;
    sink.dest.once('drain', () => {
      sink.waitingDrain = false;
      if (this.left > 0 && !this.destroyed) this.source.resume();
    });
    return false;
  }

  private finish(): void {
    this.source.onData = this.source.onEnd = undefined;
    this.done(true);
    const sink = this.sink;
    if (!sink) {
      this.push(null);
      return;
    }
    sink.dest.end(() => {
      this.sink = undefined;
      this.destroy();
      sink.settle();
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.left > 0) {
      this.left = 0;
      this.source.onData = this.source.onEnd = undefined;
      this.done(false);
    }
    this.sink?.settle(err ?? new Error('the object body was destroyed'));
    cb(err);
  }
}
