/**
 * The main thread's side of a download opened from a store with no fd (S3): the store's stream
 * of sealed bytes is copied into an input ring of shared memory, one slot at a time, for the
 * opening task (open-task.ts) to read. A slot is posted once full (or when the stream ends) and
 * filled again only once the worker says it has taken it; with no slot free, the stream is
 * paused, so a worker held back by a slow client holds back the store's stream too.
 *
 * The copy is one memcpy per byte on the main thread (the stream's own buffers cannot be handed
 * to the worker: they may be slices of a larger pool), against a decipher and a copy per byte
 * that stayed there before.
 */
import type { Readable } from 'node:stream';
import { copyInto } from '../../core/shared-copy.js';

export interface FeedSink {
  /** Input slot `slot` holds `len` sealed bytes for the worker; `last`: the stream ended (`slot` -1 with nothing). */
  input(slot: number, len: number, last: boolean): void;
  /** The stream failed. */
  failed(e: Error): void;
}

export class OpenFeed {
  readonly sab: SharedArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly free: number[];
  private current: { slot: number; len: number } | undefined;
  /** What of the last piece did not fit: copied before the stream flows again. */
  private pending: Buffer | undefined;
  private released = false;
  /** The stream ended while a piece was still pending (a stream ends once its buffer is empty, paused or not). */
  private ended = false;
  private readonly onData = (chunk: Buffer) => this.copy(chunk);
  private readonly onEnd = () => this.end();
  private readonly onError = (e: Error) => {
    if (!this.released) this.sink.failed(e);
  };

  constructor(
    private readonly source: Readable,
    readonly slotBytes: number,
    slots: number,
    private readonly sink: FeedSink,
  ) {
    this.sab = new SharedArrayBuffer(slotBytes * slots);
    this.bytes = new Uint8Array(this.sab);
    this.free = Array.from({ length: slots }, (_, i) => i);
  }

  /** Starts the stream flowing (after the worker has been told of the download). */
  begin(): void {
    this.source.on('error', this.onError).on('end', this.onEnd).on('data', this.onData);
  }

  /** The worker has read input slot `slot`. */
  taken(slot: number): void {
    if (this.released) return;
    this.free.push(slot);
    if (!this.pending || !this.copy(this.pending)) return;
    if (this.ended) this.end();
    else this.source.resume();
  }

  /** The worker no longer reads the ring: the stream is let go (and cut, if it had more). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.source.off('data', this.onData).off('end', this.onEnd);
    this.pending = undefined;
    if (!this.source.readableEnded) this.source.destroy();
  }

  /** Copies `chunk` into the ring; false (the stream paused, the rest kept) when no slot is free. */
  private copy(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length) {
      if (!this.current) {
        const slot = this.free.shift();
        if (slot === undefined) {
          this.pending = chunk.subarray(at);
          this.source.pause();
          return false;
        }
        this.current = { slot, len: 0 };
      }
      const c = this.current;
      const n = Math.min(this.slotBytes - c.len, chunk.length - at);
      copyInto(this.bytes, c.slot * this.slotBytes + c.len, chunk.subarray(at, at + n));
      c.len += n;
      at += n;
      if (c.len === this.slotBytes) {
        this.current = undefined;
        this.sink.input(c.slot, c.len, false);
      }
    }
    this.pending = undefined;
    return true;
  }

  private end(): void {
    this.ended = true;
    if (this.released || this.pending) return;
    const c = this.current;
    this.current = undefined;
    this.sink.input(c?.slot ?? -1, c?.len ?? 0, true);
  }
}
