/**
 * One upstream fetch of a blob, shared by every client that asks for it meanwhile (the cache
 * keeps one per repository and digest on a node). The upstream body streams into a spool file
 * that every reader tails, the registry's verified upload path among them (hashed, committed
 * and made durable before its row), so the digest becomes visible only once the whole blob is
 * verified (design decision 2).
 *
 * The upload tails the spool like any reader, so the upstream is read at its own pace. A client
 * gets each byte as soon as it is spooled, except the last one, which it gets only once the blob
 * is verified and committed: a client can never take a failed fetch (a stall, a short body, a
 * wrong digest) for a complete blob; its response is cut instead.
 *
 * The spool file is unlinked as soon as it is open: the kernel frees it when the fetch and its
 * last reader have closed it, even if the process dies. Its size is bounded by the caller's
 * maximum (the layer size quota); an upstream silent for `idleMs` is aborted.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
/** Bytes of the latest chunks kept in memory per fetch, so readers keeping up skip the file. */
const WINDOW = 1024 * 1024;
/** Bytes received but not yet in the spool file past which the upstream waits for the disk. */
const MAX_UNWRITTEN = 4 * 1024 * 1024;

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
  /** The latest spooled chunks: readers that keep up take them from here, not from the file. */
  private readonly recent: Array<{ start: number; bytes: Buffer }> = [];
  private recentBytes = 0;
  /** Bytes the spool file holds (the window holds those after them). */
  private durable = 0;
  /** The spool file's writes, in order. */
  private writing: Promise<void> = Promise.resolve();
  /** Every byte of the upstream's body is in the spool. */
  private spooled = false;
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
    // The upload tails the spool as the clients do (without waiting for a verdict it makes), so
    // the upstream is read as fast as it sends, never at the pace of the commit path.
    const upload = this.tail(false)!;
    // A failure reaches the commit through `committed`; the upload stream is destroyed with it
    // below, possibly when the commit no longer listens to it. An 'error' event nobody listens
    // to ends the process: an upstream that drops a connection mid-blob took the node down.
    upload.on('error', () => undefined);
    const committed = this.source.commit(upload);
    committed.catch((e: unknown) => {
      // The registry refused the bytes (a quota, a full disk): the upstream need not go on.
      if (!this.spooled) body.destroy(e instanceof Error ? e : new Error(String(e)));
    });
    let timer: NodeJS.Timeout | undefined;
    const stall = () => body.destroy(new BlobFetchError(`upstream ${upstream} stalled: no bytes for ${Math.round(idleMs / 1000)} s`));
    try {
      timer = setTimeout(stall, idleMs);
      for await (const chunk of body) {
        // Only the wait for the upstream's next bytes counts, not this side's writes.
        clearTimeout(timer);
        const c = chunk as Buffer;
        if (this.written + c.length > maxBytes) throw new BlobFetchError(`the blob from upstream ${upstream} exceeds ${maxBytes} bytes`);
        // Readers take the chunk from the window at once; the file gets it in order behind them.
        const at = this.written;
        this.remember(c);
        this.written += c.length;
        this.progress.emit('progress');
        this.writing = this.writing.then(async () => {
          await this.fh.write(c, 0, c.length, at);
          this.durable = at + c.length;
          this.trim();
        });
        if (this.written - this.durable > MAX_UNWRITTEN) await this.writing;
        timer = setTimeout(stall, idleMs);
      }
      clearTimeout(timer);
      await this.writing;
      if (this.source.size !== undefined && this.written !== this.source.size) {
        throw new BlobFetchError(`upstream ${upstream} sent ${this.written} of ${this.source.size} bytes`);
      }
      this.spooled = true;
      this.progress.emit('progress');
      await committed;
      this.done = true;
    } catch (e) {
      clearTimeout(timer);
      this.writing.catch(() => undefined);
      const reason = e instanceof Error ? e : new Error(String(e));
      this.failure = reason;
      body.destroy();
      upload.destroy(reason);
      await committed.catch(() => undefined);
      throw reason;
    } finally {
      this.ended = true;
      this.recent.length = 0;
      this.recentBytes = 0;
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
    return this.tail(true);
  }

  /** `verdict`: the last byte (and the end) only once the blob is committed (see the file comment). */
  private tail(verdict: boolean): Readable | undefined {
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
            const complete = verdict ? this.done : this.spooled;
            const limit = complete || !verdict ? this.written : this.written - 1;
            if (pos < limit) {
              let bytes = this.recentAt(pos, limit);
              if (!bytes) {
                if (pos >= this.durable) break;
                const len = Math.min(CHUNK, limit - pos, this.durable - pos);
                const buf = Buffer.allocUnsafe(len);
                const { bytesRead } = await this.fh.read(buf, 0, len, pos);
                if (bytesRead === 0) throw new BlobFetchError('the spool file ended early');
                bytes = buf.subarray(0, bytesRead);
              }
              pos += bytes.length;
              if (!out.push(bytes)) return;
              continue;
            }
            if (complete) {
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

  /** Keeps the chunk just spooled in the window (dropping the oldest past WINDOW bytes). */
  private remember(c: Buffer): void {
    this.recent.push({ start: this.written, bytes: c });
    this.recentBytes += c.length;
  }

  /** Drops the oldest chunks past WINDOW bytes, never one the file does not hold yet. */
  private trim(): void {
    for (let r = this.recent[0]; r && this.recentBytes - r.bytes.length >= WINDOW && r.start + r.bytes.length <= this.durable; r = this.recent[0]) {
      this.recentBytes -= r.bytes.length;
      this.recent.shift();
    }
  }

  /** The bytes from `pos` (up to `limit`) of the chunk holding it, if it is still in the window. */
  private recentAt(pos: number, limit: number): Buffer | undefined {
    const first = this.recent[0];
    if (!first || pos < first.start) return undefined;
    for (const r of this.recent) {
      const end = r.start + r.bytes.length;
      if (pos < end) return r.bytes.subarray(pos - r.start, Math.min(end, limit) - r.start);
    }
    return undefined;
  }

  private async closeIfIdle(): Promise<void> {
    if (this.closed || !this.ended || this.readers > 0) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}
