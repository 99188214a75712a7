/** Small stream tools of the encrypted store's write and read paths. */
import { addAbortSignal, Transform, type PassThrough, type Readable, type TransformCallback } from 'node:stream';

/** The last bytes of a stream of pieces, kept as views. */
export class Held {
  private pieces: Buffer[] = [];
  private length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.pieces.push(b);
    this.length += b.length;
  }

  keepLast(n: number): void {
    while (this.pieces.length > 0 && this.length - this.pieces[0]!.length >= n) this.length -= this.pieces.shift()!.length;
    if (this.length > n) {
      this.pieces[0] = this.pieces[0]!.subarray(this.length - n);
      this.length = n;
    }
  }

  /** A copy of its own, letting go of the (larger) buffers the views are into. */
  take(): Buffer {
    return Buffer.concat(this.pieces, this.length);
  }
}

/** Passes bytes [start, end) of the stream through and drops the rest. */
export function window(start: number, end: number): Transform {
  let at = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const from = Math.max(0, start - at);
      const to = Math.min(chunk.length, end - at);
      at += chunk.length;
      cb(null, to > from ? chunk.subarray(from, to) : undefined);
    },
  });
}

/** Settles when `out` wants more or is gone. */
export function drained(out: PassThrough): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done).off('close', done);
      resolve();
    };
    out.on('drain', done).on('close', done);
  });
}

export function withSignal(stream: Readable, signal: AbortSignal | undefined): Readable {
  return signal ? addAbortSignal(signal, stream) : stream;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * Takes the first `n` bytes off `stream` (fewer if it ends first) and leaves the rest in it for
 * whoever pipes it next; async iteration would destroy the stream on the way out.
 */
export async function readHead(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      const want = n - got;
      if (chunk.length > want) stream.unshift(chunk.subarray(want));
      parts.push(chunk.subarray(0, want));
      got += Math.min(want, chunk.length);
      continue;
    }
    if (stream.errored) throw stream.errored;
    if (stream.readableEnded) break;
    if (stream.destroyed) throw new Error('stream closed before its first bytes');
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error): void => {
        stream.off('readable', done).off('end', done).off('close', done).off('error', done);
        if (e) reject(e);
        else resolve();
      };
      stream.on('readable', done).on('end', done).on('close', done).on('error', done);
    });
  }
  return Buffer.concat(parts, got);
}
