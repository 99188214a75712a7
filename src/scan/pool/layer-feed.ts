/**
 * The pool's side of the layer stream: reads each layer from its source (the blob store, on
 * the event loop's thread, where only I/O and copying happen) and posts it to a worker in
 * chunks, waiting for a credit before each one. A layer stream is opened only when the one
 * before it was posted whole.
 */
import { addAbortSignal, type Readable } from 'node:stream';
import { CHUNK_BYTES, type ToWorker } from './protocol.js';

/** Chunks the worker may still take; a taker waits for one to come back. */
export class Credits {
  private waiter: (() => void) | undefined;

  constructor(private available: number) {}

  give(): void {
    this.available++;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async take(stop: AbortSignal): Promise<void> {
    while (this.available === 0) {
      stop.throwIfAborted();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stop.removeEventListener('abort', done);
          resolve();
        };
        this.waiter = done;
        stop.addEventListener('abort', done, { once: true });
      });
    }
    stop.throwIfAborted();
    this.available--;
  }
}

export interface FeedTarget {
  postMessage(m: ToWorker, transfer?: ArrayBuffer[]): void;
}

/**
 * Posts every layer, then `end`. Stops (with an AbortError) as soon as `stop` fires: the
 * current layer stream is destroyed and the source is told to return, not awaited, so a source
 * stuck opening its next layer cannot hold the scan's end.
 */
export async function feedLayers(target: FeedTarget, layers: AsyncIterable<Readable>, credits: Credits, stop: AbortSignal): Promise<void> {
  const it = layers[Symbol.asyncIterator]();
  let current: Readable | undefined;
  let finished = false;
  try {
    for (;;) {
      stop.throwIfAborted();
      const next = await it.next();
      if (next.done) break;
      current = next.value;
      if (stop.aborted) break;
      // A blob read that stalls is ended when the scan is.
      addAbortSignal(stop, current);
      target.postMessage({ type: 'layer' });
      for await (const chunk of current as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; off += CHUNK_BYTES) {
          await credits.take(stop);
          // A copy of just these bytes, transferred: posting a view would clone its whole
          // backing buffer (often a shared pool), and the source may reuse it.
          const piece = new Uint8Array(chunk.subarray(off, off + CHUNK_BYTES));
          target.postMessage({ type: 'chunk', data: piece }, [piece.buffer as ArrayBuffer]);
        }
      }
      current = undefined;
      target.postMessage({ type: 'layer-end' });
    }
    stop.throwIfAborted();
    finished = true;
    target.postMessage({ type: 'end' });
  } finally {
    current?.destroy();
    if (!finished) it.return?.()?.catch(() => undefined);
  }
}
