/**
 * Hands a source's pieces to a consumer straight from its 'data' events. An upload piece used to
 * cross a pipe, a Writable sink and its write callbacks (a tick each) between the socket and the
 * copy into a seal slot; under 100 uploads that stream machinery was a fifth of the main thread's
 * upload work (notes/2026-12-04-s11-mixed.md). Here a piece is one listener call, and only a
 * consumer that has to wait (for a seal slot, a hash batch, a slow store) pauses the source until
 * its promise settles; the source's own buffer and TCP hold the sender back meanwhile.
 */
import type { Readable } from 'node:stream';
import { claimPacing } from '../../core/piece-pacing.js';

/** A piece handled at once (undefined), or a promise the source waits for. */
export type Consume = (piece: Buffer) => Promise<void> | undefined;

export interface DriveOptions {
  signal?: AbortSignal | undefined;
  /** Told of a source error or an abort before the piece being handled settles, so a wait can give up. */
  stop?: ((e: Error) => void) | undefined;
  /**
   * The source is the caller's (a request body): a failing consumer or an abort leaves it
   * undestroyed, paused, so that the caller can still answer the client. Otherwise it is
   * destroyed with the error, as a pipeline would.
   */
  keepSource?: boolean;
  /** Ends the drive from elsewhere, as an abort of `signal` would (the store the pieces go to failed). */
  halt?: Halt | undefined;
}

/**
 * A second way to abort a drive, for its caller's own reasons. It replaces an AbortController
 * joined to the request's signal with AbortSignal.any, which made two more signals per upload,
 * weak references, sets and a finalization registration, all alive while the body streams: ~1 KB
 * per upload of the main heap under 200 uploads (notes/2026-12-05-s17-rss.md).
 */
export class Halt {
  private reason: Error | undefined;
  private listener: ((reason: Error) => void) | undefined;

  stop(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    const l = this.listener;
    this.listener = undefined;
    l?.(reason);
  }

  /** @internal The drive's: called at once when already stopped. */
  watch(listener: ((reason: Error) => void) | undefined): void {
    if (listener && this.reason) listener(this.reason);
    else this.listener = listener;
  }
}

const noop = (): void => undefined;

/** As addAbortSignal reports an abort. */
function aborted(reason: unknown): Error {
  return Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * Feeds every piece of `source` to `consume`, in order. Resolves, never rejects, once the piece
 * being handled is finished: with undefined when the source ended, else with the source's error,
 * the consumer's (thrown or rejected) or the abort reason.
 */
export function drive(source: Readable, consume: Consume, opts: DriveOptions = {}): Promise<Error | undefined> {
  const { signal, stop, keepSource = false, halt } = opts;
  if (source.readableEnded) return Promise.resolve(undefined);
  if (source.destroyed) return Promise.resolve(source.errored ?? prematureClose());
  return new Promise((resolve) => {
    /** The last piece's wait, while it lasts. */
    let pending: Promise<void> | undefined;
    let over = false;
    let failed = false;
    const finish = (e: Error | undefined, ours: boolean): void => {
      if (over) return;
      over = true;
      failed = e !== undefined;
      source.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      halt?.watch(undefined);
      if (e) {
        stop?.(e);
        if (ours) {
          if (keepSource) source.pause();
          else {
            // Its error is reported here; nobody else may be listening for it.
            source.on('error', noop);
            source.destroy(e);
          }
        }
      }
      const settle = (): void => resolve(e);
      // The source may end while its last piece still waits: that piece's failure is the answer.
      if (pending) pending.then(settle, (late: unknown) => resolve(e ?? (late as Error)));
      else settle();
    };
    const onData = (piece: Buffer): void => {
      // Taken first: a consumer may release the piece (core/fresh-pieces.ts).
      const bytes = piece.byteLength;
      let p: Promise<void> | undefined;
      if (pending) {
        // Someone else resumed the source while a piece waits: this one goes after it, in order.
        p = pending.then(() => (failed ? undefined : consume(piece)));
      } else {
        try {
          p = consume(piece);
        } catch (e) {
          finish(e as Error, true);
          return;
        }
      }
      if (p !== undefined) wait(p);
      // After the pause above: a pacer holds only bodies still flowing, and resumes what it held.
      spend?.(bytes, piece.byteLength);
    };
    const wait = (p: Promise<void>): void => {
      source.pause();
      pending = p;
      p.then(
        () => {
          if (pending !== p) return;
          pending = undefined;
          if (!over) source.resume();
        },
        (e: unknown) => {
          if (pending === p) pending = undefined;
          finish(e as Error, true);
        },
      );
    };
    const onEnd = (): void => finish(undefined, false);
    const onError = (e: Error): void => finish(e, false);
    const onClose = (): void => {
      if (!source.readableEnded) finish(source.errored ?? prematureClose(), false);
    };
    const onAbort = (): void => finish(aborted(signal!.reason), true);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    if (halt) {
      halt.watch((reason) => finish(aborted(reason), true));
      if (over) return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    // The body's pacing is counted here, in the same call as the piece (no wrapper around emit).
    const spend = claimPacing(source);
    source.on('end', onEnd).on('error', onError).on('close', onClose);
    source.on('data', onData);
    // A source paused before (as a pipe would) flows now.
    if (source.readableFlowing !== true) source.resume();
  });
}
