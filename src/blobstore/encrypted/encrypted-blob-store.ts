/**
 * Encryption at rest as a BlobStore wrapper: any driver underneath stores only ciphertext.
 *
 * A blob is sealed in GCM chunks under a fresh data key (chunk-format.ts); reads open only the
 * chunks a range covers. Staged uploads are written once, already in that format, with their
 * tail in a small record beside them (staged-upload.ts), so a commit seals the tail, appends it
 * and commits: no second copy of the bytes, no re-read.
 *
 * Blobs stored before encryption existed have no header and are served as they are. No
 * presignedUrl: a URL to the inner store would hand out ciphertext.
 */
import { Readable, pipeline } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import { BlobNotFoundError, type BlobHandle, type BlobStore, type BlobWriter, type ByteRange } from '../blob-store.js';
import { checkDigest, checkRange, checkUploadId } from '../checked-blob-store.js';
import {
  BlobIntegrityError,
  DEFAULT_CHUNK_SIZE,
  HEADER_SIZE,
  chunkSizeLog2,
  cipherRangeFor,
  isSealed,
  parseHeader,
  plaintextSize,
  unwrapDataKey,
  type BlobHeader,
} from './chunk-format.js';
import { OpenTransform } from './chunk-opener.js';
import { INLINE_OPEN_BYTES, InlineBody, openInline } from './open-inline.js';
import type { OpenPool } from './open-pool.js';
import type { SealPool } from './seal-pool.js';
import { openSealedReader } from './sealed-reader.js';
import { plaintextSizeOf } from './staged-state.js';
import { StagedUploads } from './staged-upload.js';
import { StagedWriter } from './staged-writer.js';
import { readAll, withSignal } from './stream-helpers.js';
import type { WrappingKeys } from './wrapping-keys.js';

export interface EncryptedBlobStoreOptions {
  /** Plaintext bytes per sealed chunk, a power of two (default 64 KiB); readers take it from each header. */
  chunkSize?: number;
  name?: string;
  /** Opens downloads off the event loop: from the fd of a driver whose handles have one (fs), else from its stream (S3). */
  opening?: OpenPool;
  /** Seals uploads off the event loop (and, on fs, writes them there too). */
  sealing?: SealPool;
  /**
   * Stored bytes past the header up to which a blob read through an fd is opened on the calling
   * thread from one read (open-inline.ts); default INLINE_OPEN_BYTES, 0: never.
   */
  inlineOpenBytes?: number;
}

const noop = (): void => undefined;

/** Fills `into` from the start of the handle's file, short only at its end. */
async function readFrom(handle: BlobHandle, into: Buffer): Promise<number> {
  let have = 0;
  while (have < into.length) {
    const n = await handle.read(have === 0 ? into : into.subarray(have), have);
    if (n === 0) break;
    have += n;
  }
  return have;
}

export function createEncryptedBlobStore(inner: BlobStore, keys: WrappingKeys, opts: EncryptedBlobStoreOptions = {}): BlobStore {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  chunkSizeLog2(chunkSize);
  /**
   * Commits under way in this process, per digest. A later commit waits and then finds the blob
   * instead of sealing it again, and "the blob exists" then also means the inner commit that made
   * it has finished (durably, on fs) before our caller writes metadata.
   */
  const committing = new Map<string, Promise<void>>();
  const staged = new StagedUploads(inner, keys, chunkSize, opts.sealing);
  const inlineBytes = opts.inlineOpenBytes ?? INLINE_OPEN_BYTES;
  const inlineNative = opts.opening?.nativeCipher ?? true;
  const inlineAvx2 = opts.opening?.avx2Cipher ?? true;

  /** The header of a sealed blob, or undefined for a legacy plaintext one. */
  async function headerOf(digest: Digest, storedSize: number, signal?: AbortSignal): Promise<BlobHeader | undefined> {
    if (storedSize < HEADER_SIZE) return undefined;
    const head = await readAll(await inner.read(digest, { start: 0, end: HEADER_SIZE - 1 }, signal));
    return isSealed(head) ? parseHeader(head, digest) : undefined;
  }

  async function openOnce(digest: Digest, range: ByteRange | undefined, signal?: AbortSignal): Promise<Readable> {
    if (inner.open) return openByHandle(inner.open.bind(inner), digest, range, signal);
    const info = await inner.stat(digest);
    if (!info) throw new BlobNotFoundError(digest);
    const header = await headerOf(digest, info.size, signal);
    if (!header) return inner.read(digest, range, signal);
    const size = plaintextSize(info.size, header.chunkSize, `blob ${digest}`);
    const dataKey = unwrapDataKey(header, await keys.byId(header.keyId), digest);
    const run = cipherRangeFor(range, size, header.chunkSize);
    if (!run) return withSignal(Readable.from([]), signal);
    const body = await inner.read(digest, { start: run.cipherStart, end: run.cipherEnd }, signal);
    if (opts.opening) return withSignal(await opts.opening.openStream(body, { dataKey, chunkSize: header.chunkSize, run, label: digest }), signal);
    const open = new OpenTransform({ dataKey, chunkSize: header.chunkSize, run, label: digest });
    pipeline(body, open, noop);
    await open.verified;
    return withSignal(open, signal);
  }

  /**
   * One open file for the header and every chunk: fewer opens than stat + header + body, the
   * header and body are one object's even if a concurrent commit replaces the name meanwhile,
   * and the chunks are read into one buffer (sealed-reader.ts).
   */
  async function openByHandle(
    open: (digest: Digest) => Promise<BlobHandle>,
    digest: Digest,
    range: ByteRange | undefined,
    signal?: AbortSignal,
  ): Promise<Readable> {
    const handle = await open(digest);
    let owned = false;
    try {
      const fd = handle.fd;
      // With an fd, the header and, for a small blob, everything after it in one read (at once
      // when the driver offers readSync, its disk being fast); an inline open then needs nothing
      // more of the file.
      const head = Buffer.allocUnsafe(Math.min(handle.size, HEADER_SIZE + (fd === undefined ? 0 : inlineBytes)));
      const got = head.length < HEADER_SIZE ? 0 : handle.readSync ? handle.readSync(head, 0) : await readFrom(handle, head);
      if (got < HEADER_SIZE || !isSealed(head)) return await inner.read(digest, range, signal);
      const header = parseHeader(head.subarray(0, HEADER_SIZE), digest);
      const size = plaintextSize(handle.size, header.chunkSize, `blob ${digest}`);
      const dataKey = unwrapDataKey(header, await keys.byId(header.keyId), digest);
      const run = cipherRangeFor(range, size, header.chunkSize);
      if (!run) return withSignal(Readable.from([]), signal);
      const open = { dataKey, chunkSize: header.chunkSize, run, label: digest };
      // Nothing to cancel: the bytes are all here and the file is closed below.
      if (got === handle.size && handle.size > HEADER_SIZE)
        return new InlineBody(openInline(head.subarray(0, got), { ...open, native: inlineNative, avx2: inlineAvx2 }));
      owned = true;
      const body = opts.opening && fd !== undefined ? await opts.opening.open(handle, fd, open) : await openSealedReader(handle, open);
      return withSignal(body, signal);
    } finally {
      if (!owned) await handle.close();
    }
  }

  async function commitOnce(uploadId: string, digest: Digest): Promise<void> {
    // Content-addressed: if the blob is there, these bytes are there.
    if (await inner.stat(digest)) {
      await staged.remove(uploadId);
      return;
    }
    await staged.commit(uploadId, digest, await keys.current());
  }

  async function commit(uploadId: string, digest: Digest): Promise<void> {
    // Checked before anything is touched: a refused commit must not consume the staged bytes.
    checkDigest(digest);
    for (let running = committing.get(digest); running; running = committing.get(digest)) await running;
    const work = commitOnce(uploadId, digest);
    const settled = work.then(noop, noop);
    committing.set(digest, settled);
    try {
      await work;
    } finally {
      if (committing.get(digest) === settled) committing.delete(digest);
    }
  }

  const store: BlobStore = {
    name: opts.name ?? `encrypted ${inner.name}`,

    async stat(digest) {
      checkDigest(digest);
      const info = await inner.stat(digest);
      if (!info) return undefined;
      let header: BlobHeader | undefined;
      try {
        header = await headerOf(digest, info.size);
      } catch (e) {
        if (e instanceof BlobNotFoundError) return undefined;
        throw e;
      }
      return header ? { size: plaintextSize(info.size, header.chunkSize, `blob ${digest}`) } : info;
    },

    async read(digest, range, signal) {
      checkDigest(digest);
      checkRange(range);
      try {
        return await openOnce(digest, range, signal);
      } catch (e) {
        // A concurrent commit of the same digest elsewhere can replace the object between our
        // reads with another sealing of the same bytes, so header and body disagree. Once more.
        if (!(e instanceof BlobIntegrityError)) throw e;
        return openOnce(digest, range, signal);
      }
    },

    async writer(uploadId, { append }): Promise<BlobWriter> {
      checkUploadId(uploadId);
      let size = 0;
      const r = append ? await staged.resolve(uploadId) : { kind: 'none' as const };
      if (r.kind === 'none') {
        // The key is settled first, so an unusable key leaves what was staged untouched.
        await staged.restart(uploadId, await keys.current());
      } else {
        // Opened now so that a refused key fails here, before any byte is taken.
        await staged.checkKey(uploadId, r);
        size = plaintextSizeOf(r) ?? 0;
      }
      return new StagedWriter(uploadId, size, staged, opts.sealing !== undefined, writing);
    },

    async readUpload(uploadId, signal) {
      checkUploadId(uploadId);
      return staged.plaintext(uploadId, await staged.resolve(uploadId), signal);
    },

    async statUpload(uploadId) {
      checkUploadId(uploadId);
      return plaintextSizeOf(await staged.resolve(uploadId));
    },

    async deleteUpload(uploadId) {
      checkUploadId(uploadId);
      await staged.remove(uploadId);
    },
    delete: (digest) => inner.delete(digest),
  };
  const writing = { statUpload: (id: string) => store.statUpload(id), commitUpload: commit };
  if (inner.listUploads) {
    const list = inner.listUploads.bind(inner);
    store.listUploads = () => list();
  }
  return store;
}
