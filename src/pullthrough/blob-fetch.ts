/**
 * One upstream fetch of a blob, shared by every client that asks for it meanwhile (the cache
 * keeps one per repository and digest on a node). The upstream body streams into a spool file
 * that every reader tails, and at the same time into the registry's verified upload path
 * (hashed, committed and made durable before its row), so the digest becomes visible only once
 * the whole blob is verified (design decision 2).
 *
 * A reader gets each byte as soon as it is spooled, except the last one, which it gets only
 * once the blob is verified and committed: a client can never take a failed fetch (a stall, a
 * short body, a wrong digest) for a complete blob; its response is cut instead.
 *
 * The spool file is unlinked as soon as it is open: the kernel frees it when the fetch and its
 * last reader have closed it, even if the process dies. Its size is bounded by the caller's
 * maximum (the layer size quota); an upstream silent for `idleMs` is aborted.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';

const CHUNK = 64 * 1024;

export interface BlobFetchSource {
  spoolDir: string;
  /** The upstream's body (its status was 200). */
  body: Readable;
  /** The upstream's Content-Length, when it sent one. */
  size: number | undefined;
  maxBytes: number;
  /** Silence from the upstream longer than this aborts the fetch. */
  idleMs: number;
  /** Names the upstream in errors. */
  upstream: string;
  /** Stores the bytes through the registry's verified upload path; resolves once committed. */
  commit(body: Readable): Promise<unknown>;
  /** Called once the fetch has ended (committed or not), before readers hear of it. */
  settled(committed: boolean): void;
}

export class BlobFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobFetchError';
  }
}

export class BlobFetch {
  /** Bytes spooled so far. */
  written = 0;
  /** Verified and committed: the blob is in the registry. */
  done = false;
  failure: Error | undefined;
  /** Resolves when the blob is committed; rejects with the reason it could not be. */
  readonly result: Promise<void>;
  private readonly progress = new EventEmitter();
  private readers = 0;
  private ended = false;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly source: BlobFetchSource,
  ) {
    this.progress.setMaxListeners(0);
    this.result = this.run();
    // Readers and the cache hear of a failure through `failure`; nobody need await this.
    this.result.catch(() => undefined);
  }

  get size(): number | undefined {
    return this.source.size;
  }

  static async start(source: BlobFetchSource): Promise<BlobFetch> {
    const path = join(source.spoolDir, `${randomUUID()}.spool`);
    const fh = await open(path, 'wx+', 0o600);
    try {
      await unlink(path);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new BlobFetch(fh, source);
  }

  private async run(): Promise<void> {
    const { body, maxBytes, idleMs, upstream } = this.source;
    const upload = new PassThrough({ highWaterMark: CHUNK * 4 });
    // A consumer that failed is heard of through `committed`, never as an unhandled 'error'.
    upload.on('error', () => undefined);
    let commitEnded = false;
    const committed = this.source.commit(upload).finally(() => (commitEnded = true));
    committed.catch(() => undefined);
    const commitSettled = committed.then(
      () => undefined,
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    const stall = () => body.destroy(new BlobFetchError(`upstream ${upstream} stalled: no bytes for ${Math.round(idleMs / 1000)} s`));
    try {
      timer = setTimeout(stall, idleMs);
      for await (const chunk of body) {
        // Only the wait for the upstream's next bytes counts, not this side's writes.
        clearTimeout(timer);
        const c = chunk as Buffer;
        if (this.written + c.length > maxBytes) throw new BlobFetchError(`the blob from upstream ${upstream} exceeds ${maxBytes} bytes`);
        await this.fh.write(c, 0, c.length, this.written);
        this.written += c.length;
        this.progress.emit('progress');
        if (!upload.write(c)) await Promise.race([drained(upload), commitSettled]);
        if (commitEnded) {
          await committed;
          throw new BlobFetchError('the registry stopped reading the blob before its end');
        }
        timer = setTimeout(stall, idleMs);
      }
      clearTimeout(timer);
      if (this.source.size !== undefined && this.written !== this.source.size) {
        throw new BlobFetchError(`upstream ${upstream} sent ${this.written} of ${this.source.size} bytes`);
      }
      upload.end();
      await committed;
      this.done = true;
    } catch (e) {
      clearTimeout(timer);
      const reason = e instanceof Error ? e : new Error(String(e));
      this.failure = reason;
      body.destroy();
      upload.destroy(reason);
      await committed.catch(() => undefined);
      throw reason;
    } finally {
      this.ended = true;
      this.source.settled(this.done);
      this.progress.emit('progress');
      await this.closeIfIdle();
    }
  }

  /**
   * A stream of the blob from its first byte, following the spool as it grows; undefined once
   * the fetch has ended and nobody reads its spool any more (read the registry instead).
   */
  reader(): Readable | undefined {
    if (this.closed || (this.ended && this.readers === 0)) return undefined;
    this.readers++;
    let pos = 0;
    let busy = false;
    let again = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.progress.off('progress', wake);
      this.readers--;
      void this.closeIfIdle();
    };
    const out = new Readable({
      highWaterMark: CHUNK,
      read: () => void pump(),
      destroy: (err, cb) => {
        release();
        cb(err);
      },
    });
    const pump = async (): Promise<void> => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          for (;;) {
            if (out.destroyed) return;
            if (this.failure) {
              out.destroy(this.failure);
              return;
            }
            // The last byte waits for the verdict (see the file comment).
            const limit = this.done ? this.written : this.written - 1;
            if (pos < limit) {
              const len = Math.min(CHUNK, limit - pos);
              const buf = Buffer.allocUnsafe(len);
              const { bytesRead } = await this.fh.read(buf, 0, len, pos);
              if (bytesRead === 0) throw new BlobFetchError('the spool file ended early');
              pos += bytesRead;
              if (!out.push(buf.subarray(0, bytesRead))) return;
              continue;
            }
            if (this.done) {
              out.push(null);
              return;
            }
            break;
          }
        } while (again);
      } catch (e) {
        out.destroy(e instanceof Error ? e : new Error(String(e)));
      } finally {
        busy = false;
      }
    };
    const wake = () => void pump();
    this.progress.on('progress', wake);
    out.once('close', release);
    return out;
  }

  private async closeIfIdle(): Promise<void> {
    if (this.closed || !this.ended || this.readers > 0) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}

/** Until the stream wants more, or is gone (its reader failed: the write loop then hears of it). */
function drained(s: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}
