/**
 * A file-append stream that gathers chunks into large writes. Node's fs.WriteStream writes each
 * chunk as it comes unless a write is already in flight; a slow client's body arrives in small
 * socket reads, so a hundred slow uploads meant thousands of small writes per second, each a
 * thread-pool hand-off from the event loop. Here chunks are kept (not copied) until GATHER bytes
 * are pending and then written with one writev(2); the end of the stream writes the rest.
 *
 * Bytes still pending when the stream fails are not written: the staged file on disk is the
 * truth of what was appended, as the caller already assumes after any failure.
 */
import { close, open, writev } from 'node:fs';
import { Writable } from 'node:stream';

/** Bytes gathered before a write. */
const GATHER = 256 * 1024;
/** Chunks gathered before a write, below the kernel's IOV_MAX (1024). */
const MAX_CHUNKS = 512;

export class AppendStream extends Writable {
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly path: string,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
  }

  override _construct(cb: (error?: Error | null) => void): void {
    open(this.path, 'a', (err, fd) => {
      this.fd = fd;
      cb(err);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.gather(chunk);
    this.writeIfFull(cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (error?: Error | null) => void): void {
    for (const c of chunks) this.gather(c.chunk);
    this.writeIfFull(cb);
  }

  override _final(cb: (error?: Error | null) => void): void {
    this.writePending(cb);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.pending = [];
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) cb(err);
    else close(fd, (closeErr) => cb(err ?? closeErr));
  }

  private gather(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  private writeIfFull(cb: (error?: Error | null) => void): void {
    if (this.pendingBytes >= GATHER || this.pending.length >= MAX_CHUNKS) this.writePending(cb);
    else cb();
  }

  private writePending(cb: (error?: Error | null) => void): void {
    const bufs = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.writeAll(bufs, cb);
  }

  /** writev(2) may write less than asked (a signal, a nearly full disk): the rest is written again. */
  private writeAll(bufs: Buffer[], cb: (error?: Error | null) => void): void {
    if (bufs.length === 0 || this.fd === undefined) {
      cb();
      return;
    }
    writev(this.fd, bufs, (err, written) => {
      if (err) {
        cb(err);
        return;
      }
      let i = 0;
      while (i < bufs.length && written >= bufs[i]!.length) written -= bufs[i++]!.length;
      const rest = bufs.slice(i);
      if (rest.length > 0 && written > 0) rest[0] = rest[0]!.subarray(written);
      this.writeAll(rest, cb);
    });
  }
}
