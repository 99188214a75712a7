/**
 * Encryption at rest as a BlobStore wrapper: any driver underneath stores only ciphertext.
 *
 * Staged uploads are AES-256-CTR behind a 32-byte prefix (staging-cipher.ts), because appends
 * come in pieces of any size. The blob is sealed in GCM chunks under a fresh data key
 * (chunk-format.ts) into a second staged upload, which commit then commits under the digest.
 * Usually that seal is written as the bytes are appended (live-seal.ts); when it cannot be (the
 * upload was resumed on another node or after a restart), commit re-reads the staged upload once:
 * decrypt, hash, seal, and check the hash against the digest. Reads open only the chunks a range covers.
 *
 * Blobs stored before encryption existed have no header and are served as they are. No
 * presignedUrl: a URL to the inner store would hand out ciphertext.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable, Transform, addAbortSignal, pipeline } from 'node:stream';
import { createDigester, digestAlgorithm, isDigest, type Digest } from '../../core/digest.js';
import { BlobNotFoundError, isUploadId, type BlobStore, type BlobWriter, type ByteRange } from '../blob-store.js';
import {
  BlobIntegrityError, DATA_KEY_SIZE, DEFAULT_CHUNK_SIZE, HEADER_SIZE, OpenTransform, chunkSizeLog2, cipherRangeFor,
  createSealTransform, isSealed, parseHeader, plaintextSize, sealHeader, unwrapDataKey, type BlobHeader,
} from './chunk-format.js';
import { LiveSeals } from './live-seal.js';
import { STAGING_PREFIX_SIZE, createStagingCipher, newStagingPrefix, parseStagingPrefix, stagingKey } from './staging-cipher.js';
import type { WrappingKey, WrappingKeys } from './wrapping-keys.js';

export interface EncryptedBlobStoreOptions {
  /** Plaintext bytes per sealed chunk, a power of two (default 64 KiB); readers take it from each header. */
  chunkSize?: number;
  name?: string;
  /** Uploads sealed as they arrive at once, beyond which the least recently appended falls back (default 10,000). */
  maxLiveSeals?: number;
}

const noop = (): void => undefined;

export function createEncryptedBlobStore(inner: BlobStore, keys: WrappingKeys, opts: EncryptedBlobStoreOptions = {}): BlobStore {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  chunkSizeLog2(chunkSize);
  /**
   * Commits under way in this process, per digest. A later commit waits and then finds the blob
   * instead of sealing it again, and "the blob exists" then also means the inner commit that made
   * it has finished (durably, on fs) before our caller writes metadata.
   */
  const committing = new Map<string, Promise<void>>();
  /** Uploads being sealed as they are appended, in this process. */
  const live = new LiveSeals(inner, chunkSize, opts.maxLiveSeals);

  /** The header of a sealed blob, or undefined for a legacy plaintext one. */
  async function headerOf(digest: Digest, storedSize: number, signal?: AbortSignal): Promise<BlobHeader | undefined> {
    if (storedSize < HEADER_SIZE) return undefined;
    const head = await readAll(await inner.read(digest, { start: 0, end: HEADER_SIZE - 1 }, signal));
    return isSealed(head) ? parseHeader(head, digest) : undefined;
  }

  async function openOnce(digest: Digest, range: ByteRange | undefined, signal?: AbortSignal): Promise<Readable> {
    const info = await inner.stat(digest);
    if (!info) throw new BlobNotFoundError(digest);
    const header = await headerOf(digest, info.size, signal);
    if (!header) return inner.read(digest, range, signal);
    const size = plaintextSize(info.size, header.chunkSize, `blob ${digest}`);
    const dataKey = unwrapDataKey(header, await keys.byId(header.keyId), digest);
    const run = cipherRangeFor(range, size, header.chunkSize);
    if (!run) return withSignal(Readable.from([]), signal);
    const body = await inner.read(digest, { start: run.cipherStart, end: run.cipherEnd }, signal);
    const open = new OpenTransform({ dataKey, chunkSize: header.chunkSize, run, label: digest });
    pipeline(body, open, noop);
    await open.verified;
    return withSignal(open, signal);
  }

  /** Plaintext of a staged upload; rejects (before streaming) when none is staged or its key is unusable. */
  async function openStaged(uploadId: string, signal?: AbortSignal): Promise<Readable> {
    const raw = await inner.readUpload(uploadId, signal);
    try {
      const prefix = await readHead(raw, STAGING_PREFIX_SIZE);
      if (prefix.length === 0) {
        // A writer that died between creating the upload and writing its prefix: an empty upload.
        raw.destroy();
        return withSignal(Readable.from([]), signal);
      }
      const key = await stagingKeyOf(uploadId, prefix);
      const cipher = createStagingCipher(key, 0);
      pipeline(raw, cipher, noop);
      return withSignal(cipher, signal);
    } catch (e) {
      raw.destroy();
      throw e;
    }
  }

  async function stagingKeyOf(uploadId: string, prefix: Buffer): Promise<Buffer> {
    if (prefix.length !== STAGING_PREFIX_SIZE) throw new Error(`staged upload ${uploadId} is corrupt: its prefix is cut short`);
    const { keyId, salt } = parseStagingPrefix(prefix);
    return stagingKey(await keys.byId(keyId), salt, uploadId);
  }

  /** Plaintext size of a staged upload from its stored size. */
  function stagedSize(uploadId: string, stored: number): number {
    if (stored > 0 && stored < STAGING_PREFIX_SIZE) throw new Error(`staged upload ${uploadId} is corrupt: its prefix is cut short`);
    return Math.max(0, stored - STAGING_PREFIX_SIZE);
  }

  /**
   * Opens the inner upload for appending, with the CTR key its prefix names; a fresh prefix if
   * there is none, and then also the wrapping key it is under.
   */
  async function openStagedWriter(uploadId: string, append: boolean): Promise<{ w: BlobWriter; key: Buffer; fresh?: WrappingKey }> {
    const stored = append ? await inner.statUpload(uploadId) : undefined;
    if (stored !== undefined && stored > 0) {
      stagedSize(uploadId, stored);
      const raw = await inner.readUpload(uploadId);
      const prefix = await readHead(raw, STAGING_PREFIX_SIZE).finally(() => raw.destroy());
      const key = await stagingKeyOf(uploadId, prefix);
      return { w: await inner.writer(uploadId, { append: true }), key };
    }
    // The key is settled first, so an unusable key leaves what was staged untouched.
    const wrappingKey = await keys.current();
    const prefix = newStagingPrefix(wrappingKey);
    const w = await inner.writer(uploadId, { append: false });
    await w.append(Readable.from([prefix])).catch(async (e: unknown) => {
      await w.close().catch(noop);
      throw e;
    });
    return { w, key: stagingKey(wrappingKey, parseStagingPrefix(prefix).salt, uploadId), fresh: wrappingKey };
  }

  async function commitOnce(uploadId: string, key: Buffer, digest: Digest): Promise<void> {
    // Content-addressed: if the blob is there, these bytes are there.
    if (await inner.stat(digest)) {
      await live.drop(uploadId);
      await inner.deleteUpload(uploadId);
      return;
    }
    const wrappingKey = await keys.current();
    // Sealed as it arrived: not re-read, nor re-hashed. The registry hashed these very bytes as
    // they arrived; the re-hash below catches staged bytes changed between requests, never read here.
    const stored = await inner.statUpload(uploadId);
    const seal = await live.take(uploadId, key, stored === undefined ? undefined : stagedSize(uploadId, stored), wrappingKey.id);
    if (seal && (await seal.commit(digest))) {
      await inner.deleteUpload(uploadId);
      return;
    }
    const plain = await openStaged(uploadId);
    let sealed: BlobWriter;
    try {
      sealed = await inner.writer(randomUUID(), { append: false });
    } catch (e) {
      plain.destroy();
      throw e;
    }
    try {
      const hash = createDigester(digestAlgorithm(digest));
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      const dataKey = randomBytes(DATA_KEY_SIZE);
      const seal = createSealTransform({ dataKey, header: sealHeader({ wrappingKey, dataKey, chunkSize }), chunkSize });
      pipeline(plain, tap, seal, noop);
      await sealed.append(seal);
      // The registry checked the digest as bytes arrived; a mismatch here means the staged
      // ciphertext changed underneath (corruption, tampering, or a restart under another salt).
      if (`${digestAlgorithm(digest)}:${hash.digest('hex')}` !== digest) {
        throw new Error(`staged upload ${uploadId} does not hash to ${digest}: corrupt or tampered with`);
      }
      await sealed.commit(digest);
    } catch (e) {
      await sealed.cancel().catch(noop);
      throw e;
    }
    await inner.deleteUpload(uploadId);
  }

  async function commit(uploadId: string, key: Buffer, digest: Digest): Promise<void> {
    // Checked before anything is touched: a refused commit must not consume the staged bytes.
    checkDigest(digest);
    for (let running = committing.get(digest); running; running = committing.get(digest)) await running;
    const work = commitOnce(uploadId, key, digest);
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
      if (!append) await live.drop(uploadId);
      const { w, key, fresh } = await openStagedWriter(uploadId, append);
      const wrappingKey = (): Promise<WrappingKey> => (fresh ? Promise.resolve(fresh) : keys.current());
      let finished = false;
      return {
        uploadId,
        get size() {
          return Math.max(0, w.size - STAGING_PREFIX_SIZE);
        },
        async append(source, signal) {
          let cipher: Transform;
          let start: number;
          try {
            if (finished) throw new Error('blob writer is closed');
            // The store, not this writer, knows where the bytes end: another writer may have appended.
            const stored = await inner.statUpload(uploadId);
            if (stored === undefined) throw new Error(`upload not found: ${uploadId}`);
            start = stagedSize(uploadId, stored);
            cipher = createStagingCipher(key, start);
          } catch (e) {
            source.destroy();
            throw e;
          }
          const tap = await live.tap(uploadId, key, start, wrappingKey);
          // CTR keeps lengths, so the bytes appended are the bytes received.
          if (!tap) {
            pipeline(source, cipher, noop);
            return w.append(cipher, signal);
          }
          pipeline(source, tap.transform, cipher, noop);
          let appended: number;
          try {
            appended = await w.append(cipher, signal);
          } catch (e) {
            await tap.done(undefined);
            throw e;
          }
          await tap.done(Math.max(0, w.size - STAGING_PREFIX_SIZE));
          return appended;
        },
        async commit(digest) {
          await commit(uploadId, key, digest);
          finished = true;
          await w.close();
        },
        async cancel() {
          finished = true;
          await live.drop(uploadId);
          await w.cancel();
        },
        async close() {
          finished = true;
          await w.close();
        },
      };
    },

    async readUpload(uploadId, signal) {
      checkUploadId(uploadId);
      return openStaged(uploadId, signal);
    },

    async statUpload(uploadId) {
      const stored = await inner.statUpload(uploadId);
      return stored === undefined ? undefined : stagedSize(uploadId, stored);
    },

    async deleteUpload(uploadId) {
      checkUploadId(uploadId);
      await live.drop(uploadId);
      await inner.deleteUpload(uploadId);
    },
    delete: (digest) => inner.delete(digest),
  };
  if (inner.listUploads) {
    const list = inner.listUploads.bind(inner);
    store.listUploads = () => list();
  }
  return store;
}

function checkDigest(digest: string): void {
  if (!isDigest(digest)) throw new Error(`invalid digest: ${JSON.stringify(digest.slice(0, 200))}`);
}

function checkUploadId(id: string): void {
  if (!isUploadId(id)) throw new Error(`invalid upload id: ${JSON.stringify(id.slice(0, 200))}`);
}

function checkRange(range: ByteRange | undefined): void {
  if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
    throw new RangeError(`invalid range ${range.start}-${range.end}`);
  }
}

function withSignal(stream: Readable, signal: AbortSignal | undefined): Readable {
  return signal ? addAbortSignal(signal, stream) : stream;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * Takes the first `n` bytes off `stream` (fewer if it ends first) and leaves the rest in it for
 * whoever pipes it next; async iteration would destroy the stream on the way out.
 */
async function readHead(stream: Readable, n: number): Promise<Buffer> {
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
