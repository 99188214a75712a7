/**
 * What every blob store shares, in one place around any driver: the input checks (digests and
 * upload ids reach a driver from clients' URLs, and drivers build paths and object keys from
 * them; ranges come from Range headers), abort signals already fired (refused before any I/O),
 * and a hook for metrics. app/ composes it around every store it builds, so drivers check
 * nothing themselves; the contract suite holds each driver to the contract through it.
 */
import type { Readable } from 'node:stream';
import { isDigest, type Digest } from '../core/digest.js';
import { isUploadId, type BlobStore, type BlobWriter, type ByteRange, type LocalAppend, type PieceMeter, type ThreadHash } from './blob-store.js';

/** The operations a metrics hook sees. */
export type BlobOperation =
  | 'stat'
  | 'read'
  | 'open'
  | 'writer'
  | 'append'
  | 'commit'
  | 'cancel'
  | 'readUpload'
  | 'statUpload'
  | 'deleteUpload'
  | 'delete'
  | 'presignedUrl';

/**
 * Called as an operation starts, with the store's name; the function it returns is called once
 * when the operation settles (for `append`, with the bytes appended). Timing is the hook's.
 */
export type BlobStoreObserver = (store: string, op: BlobOperation) => (outcome: { ok: boolean; bytes?: number }) => void;

export function checkDigest(digest: string): void {
  if (!isDigest(digest)) throw new Error(`invalid digest: ${JSON.stringify(digest.slice(0, 200))}`);
}

export function checkUploadId(id: string): void {
  if (!isUploadId(id)) throw new Error(`invalid upload id: ${JSON.stringify(id.slice(0, 200))}`);
}

export function checkRange(range: ByteRange | undefined): void {
  if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
    throw new RangeError(`invalid range ${range.start}-${range.end}`);
  }
}

/**
 * A writer lives as long as its upload's request, one per store layer (the encrypted store and
 * the driver under it are both checked): a class, so that its methods are shared, not closures
 * made per writer, and its object keeps V8's fast properties (an object literal with getters
 * and a property added later became a dictionary). Under 200 uploads streaming the literal's
 * closures, context and dictionary were ~0.8 KB per writer (notes/2026-12-05-s17-rss.md).
 */
class CheckedWriter implements BlobWriter {
  readonly feedsHash: boolean;
  readonly meters: boolean;
  /** Only when the driver has it: callers test for it. */
  readonly localAppend?: () => Promise<LocalAppend>;

  constructor(
    private readonly w: BlobWriter,
    private readonly store: string,
    private readonly observe: BlobStoreObserver | undefined,
  ) {
    this.feedsHash = w.feedsHash === true;
    this.meters = w.meters === true;
    if (w.localAppend) this.localAppend = checkedLocalAppend;
  }

  get uploadId(): string {
    return this.w.uploadId;
  }

  get size(): number {
    return this.w.size;
  }

  // One async frame for the whole append (no inner function handed to a runner): it stays
  // suspended for as long as the body streams.
  async append(source: Readable, signal?: AbortSignal, hash?: ThreadHash, meter?: PieceMeter): Promise<number> {
    const done = this.observe?.(this.store, 'append');
    try {
      if (signal?.aborted) {
        // The source is ours to dispose of, as a pipeline would have (unless the caller meters it: BlobWriter.meters).
        if (!(meter && this.w.meters)) source.destroy();
        signal.throwIfAborted();
      }
      const n = await this.w.append(source, signal, hash, meter);
      done?.({ ok: true, bytes: n });
      return n;
    } catch (e) {
      done?.({ ok: false });
      throw e;
    }
  }

  async commit(digest: Digest): Promise<void> {
    const done = this.observe?.(this.store, 'commit');
    try {
      checkDigest(digest);
      await this.w.commit(digest);
      done?.({ ok: true });
    } catch (e) {
      done?.({ ok: false });
      throw e;
    }
  }

  async cancel(): Promise<void> {
    const done = this.observe?.(this.store, 'cancel');
    try {
      await this.w.cancel();
      done?.({ ok: true });
    } catch (e) {
      done?.({ ok: false });
      throw e;
    }
  }

  close(): Promise<void> {
    return this.w.close();
  }

  /** @internal localAppend, observed as an append. */
  async localAppendObserved(): Promise<LocalAppend> {
    const done = this.observe?.(this.store, 'append');
    try {
      const local = await this.w.localAppend!();
      done?.({ ok: true });
      return local;
    } catch (e) {
      done?.({ ok: false });
      throw e;
    }
  }
}

function checkedLocalAppend(this: CheckedWriter): Promise<LocalAppend> {
  return this.localAppendObserved();
}

export function withChecks(store: BlobStore, opts: { observe?: BlobStoreObserver } = {}): BlobStore {
  const observe = opts.observe;
  async function run<T>(op: BlobOperation, fn: () => Promise<T>, bytesOf?: (v: T) => number): Promise<T> {
    const done = observe?.(store.name, op);
    try {
      const v = await fn();
      done?.({ ok: true, ...(bytesOf && { bytes: bytesOf(v) }) });
      return v;
    } catch (e) {
      done?.({ ok: false });
      throw e;
    }
  }

  const checked: BlobStore = {
    name: store.name,
    stat: (digest) =>
      run('stat', async () => {
        checkDigest(digest);
        return store.stat(digest);
      }),
    read: (digest, range, signal) =>
      run('read', async () => {
        checkDigest(digest);
        checkRange(range);
        signal?.throwIfAborted();
        return store.read(digest, range, signal);
      }),
    writer: (uploadId, o) =>
      run('writer', async () => {
        checkUploadId(uploadId);
        return new CheckedWriter(await store.writer(uploadId, o), store.name, observe);
      }),
    readUpload: (uploadId, signal) =>
      run('readUpload', async () => {
        checkUploadId(uploadId);
        signal?.throwIfAborted();
        return store.readUpload(uploadId, signal);
      }),
    statUpload: (uploadId) =>
      run('statUpload', async () => {
        checkUploadId(uploadId);
        return store.statUpload(uploadId);
      }),
    deleteUpload: (uploadId) =>
      run('deleteUpload', async () => {
        checkUploadId(uploadId);
        return store.deleteUpload(uploadId);
      }),
    delete: (digest) =>
      run('delete', async () => {
        checkDigest(digest);
        return store.delete(digest);
      }),
  };
  if (store.listUploads) {
    const list = store.listUploads.bind(store);
    checked.listUploads = () => list();
  }
  if (store.open) {
    const open = store.open.bind(store);
    checked.open = (digest) =>
      run('open', async () => {
        checkDigest(digest);
        return open(digest);
      });
  }
  if (store.presignedUrl) {
    const presign = store.presignedUrl.bind(store);
    checked.presignedUrl = (digest, ttlSeconds) =>
      run('presignedUrl', async () => {
        checkDigest(digest);
        return presign(digest, ttlSeconds);
      });
  }
  return checked;
}
