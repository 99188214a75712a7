/**
 * Blobs on any S3-compatible store (AWS S3, Ceph RGW, MinIO), for stateless nodes sharing a bucket.
 *
 * Layout under the prefix:
 *
 *   blobs/<alg>/<hex>          committed blobs. No fan-out level: S3 keys are not directories.
 *   uploads/<id>/state         JSON: staged parts [{n, size, etag, md5}], the tail, and `high`, the
 *                              highest part number ever written. Rewritten after every part, so
 *                              any node can resume the upload from it without listing anything.
 *   uploads/<id>/part.<n>      staged part n: exactly partSizeFor(n) bytes (≥ 5 MiB), immutable.
 *   uploads/<id>/tail.<0|1>    the last < partSizeFor(n) bytes, if any.
 *
 * Why parts are plain objects and not parts of a multipart upload opened at the first append:
 * S3 cannot read the parts of an unfinished multipart upload, yet readUpload must stream staged
 * bytes (a node resuming someone else's upload re-hashes them). So the multipart upload is made
 * at commit, when the digest and so the blob key is known, from the staged objects with
 * UploadPartCopy. That server-side copy costs what the "complete to a staging key, then
 * CopyObject to the blob key" route costs, and no multipart upload is left dangling while a
 * client dawdles between chunks (nor needs finding without a listing after a crash).
 *
 * S3 wants every part but the last ≥ 5 MiB, so an append ending mid-part stores its remainder as
 * the tail, and the next append reads it back into the part it fills. The tail alternates
 * between two keys so that the object a saved state names is never overwritten: a reader (or a
 * crash between writing the tail and the state) always finds the bytes the state promises, and
 * every read and copy of a staged object is checked against the ETag and MD5 in the state.
 *
 * Crash safety: state is written after the object it names, and the state write is never
 * aborted, so a saved state never names missing bytes. A part written but not recorded is at
 * most number high+1, which deleteUpload removes blind. A blob appears atomically
 * (CompleteMultipartUpload, or one PutObject for the empty blob), and staged objects are removed after it, the state last, so that an
 * interrupted cleanup stays visible to listUploads.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type StorageClass,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestAlgorithm, digestHex, type Digest } from '../../core/digest.js';
import { BlobNotFoundError, isUploadId, type BlobStore, type BlobWriter } from '../blob-store.js';
import { ObjectReader, S3ResponseError, UnframedResponseError } from './object-reader.js';
import { PartBuffer } from './part-buffer.js';
import { copySource, escapeRe, httpRange, isNotFound, mapLimit, sseHeaders, unquote } from './s3-helpers.js';
import { createS3Client } from './s3-client.js';
import { DEFAULT_PART_SIZE, MIN_PART_SIZE, type S3Location } from './s3-location.js';

export { createS3Client } from './s3-client.js';
export { parseS3Location, S3LocationError } from './s3-location.js';
export type { S3Location, S3LocationOptions, BlobRedirect, ServerSideEncryption } from './s3-location.js';

/** S3's limit on parts per multipart upload; the tail takes the last. */
const MAX_PARTS = 10_000;
/** Concurrent UploadPartCopy requests per commit, and deletes per cleanup. */
const COPY_CONCURRENCY = 4;
const DELETE_CONCURRENCY = 16;
const OCTET_STREAM = 'application/octet-stream';
/** A read's URL is used at once; the margin only covers a slow connect. */
const READ_URL_SECONDS = 900;

interface Staged {
  size: number;
  etag: string;
  /** Hex MD5 of the bytes, as sent in Content-MD5; equal to the unquoted ETag on most stores. */
  md5: string;
}
interface UploadState {
  v: 1;
  parts: Array<Staged & { n: number }>;
  tail: (Staged & { slot: 0 | 1 }) | null;
  high: number;
}

/**
 * Part n's size grows by partSize every 1000 parts, so that the 10,000-part limit allows
 * 55 × 1000 × partSize (550 GiB at 10 MiB) while small blobs keep small parts.
 */
export function partSizeFor(partSize: number, n: number): number {
  return partSize * (1 + Math.floor((n - 1) / 1000));
}

/** `clients` lets several stores on one bucket (one per encryption key) share connections. */
export function createS3BlobStore(loc: S3Location, clients?: { s3: S3Client; presigner: S3Client; objects?: ObjectReader }): BlobStore {
  const s3 = clients?.s3 ?? createS3Client(loc);
  const presigner = clients?.presigner ?? (loc.presignEndpoint ? createS3Client(loc, loc.presignEndpoint) : s3);
  const sse = sseHeaders(loc.sse);
  // Only committed blobs take the class: staged parts are read back at once and then deleted.
  const blobClass = loc.storageClass === undefined ? {} : { StorageClass: loc.storageClass as StorageClass };
  const Bucket = loc.bucket;
  const base = loc.prefix ? `${loc.prefix}/` : '';
  const partSize = Math.max(MIN_PART_SIZE, loc.partSize || DEFAULT_PART_SIZE);
  const objects = clients?.objects ?? new ObjectReader();

  // Only these two functions build keys, from digests and upload ids that withChecks
  // (checked-blob-store.ts, composed around every driver by app/) has already validated.
  function blobKey(digest: Digest): string {
    return `${base}blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }
  function uploadKey(id: string, leaf: string): string {
    return `${base}uploads/${id}/${leaf}`;
  }
  const stateKey = (id: string) => uploadKey(id, 'state');
  const partKey = (id: string, n: number) => uploadKey(id, `part.${n}`);
  const tailKey = (id: string, slot: number) => uploadKey(id, `tail.${slot}`);

  async function loadState(id: string): Promise<UploadState | undefined> {
    const key = stateKey(id);
    let text: string;
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
      text = await res.Body!.transformToString();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const st = JSON.parse(text) as UploadState;
    if (st?.v !== 1 || !Array.isArray(st.parts)) throw new Error(`unreadable upload state at ${key}`);
    return st;
  }

  async function saveState(id: string, st: UploadState): Promise<void> {
    // No abort signal: a state write abandoned in flight may still land, and then this process
    // would disagree with the store about the upload's size.
    await s3.send(new PutObjectCommand({ Bucket, Key: stateKey(id), Body: JSON.stringify(st), ContentType: 'application/json', ...sse }));
  }

  async function putStaged(key: string, buf: PartBuffer, signal?: AbortSignal): Promise<Staged> {
    const md5 = buf.md5();
    const res = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: key,
        Body: buf.bytes(),
        ContentLength: buf.length,
        ContentMD5: md5.toString('base64'),
        ContentType: OCTET_STREAM,
        ...sse,
      }),
      { abortSignal: signal },
    );
    return { size: buf.length, etag: res.ETag!, md5: md5.toString('hex') };
  }

  /** Streams staged objects back to back, each pinned to the ETag its state recorded. */
  function streamStaged(keys: Array<Staged & { key: string }>, signal?: AbortSignal): Readable {
    async function* chunks(): AsyncGenerator<Buffer> {
      for (const { key, etag } of keys) {
        const res = await s3.send(new GetObjectCommand({ Bucket, Key: key, IfMatch: etag }), { abortSignal: signal });
        yield* res.Body as Readable;
      }
    }
    const stream = Readable.from(chunks(), { objectMode: false });
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  function stagedObjects(id: string, st: UploadState): Array<Staged & { key: string }> {
    const objs = st.parts.map((p) => ({ ...p, key: partKey(id, p.n) }));
    if (st.tail) objs.push({ ...st.tail, n: st.parts.length + 1, key: tailKey(id, st.tail.slot) });
    return objs;
  }

  async function removeUpload(id: string, st?: UploadState): Promise<void> {
    st ??= await loadState(id);
    if (!st) return;
    await removeStagedObjects(id, st);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: stateKey(id) }));
  }

  /**
   * Makes the staged objects the object `key`, appearing whole or not at all. Always a multipart
   * copy, even of one object, where CopyObject would be one request instead of three: RGW ignores
   * x-amz-copy-source-if-match (it reads a misspelt header), so on RGW the only check that the
   * copied bytes are the staged bytes the state names is each part's ETag, and it must pass
   * before CompleteMultipartUpload makes anything visible.
   */
  async function assemble(id: string, st: UploadState, key: string): Promise<void> {
    const objs = stagedObjects(id, st);
    if (objs.length === 0) {
      await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: Buffer.alloc(0), ContentLength: 0, ContentType: OCTET_STREAM, ...sse, ...blobClass }));
      return;
    }
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: OCTET_STREAM, ...sse, ...blobClass }));
    try {
      const etags = await mapLimit(objs, COPY_CONCURRENCY, async (o, i) => {
        const res = await s3.send(
          new UploadPartCopyCommand({ Bucket, Key: key, UploadId, PartNumber: i + 1, CopySource: copySource(Bucket, o.key), CopySourceIfMatch: o.etag }),
        );
        const etag = res.CopyPartResult!.ETag!;
        // A part copy's ETag is its bytes' MD5 wherever a PUT's was (not under SSE-KMS, say).
        if (unquote(o.etag) === o.md5 && unquote(etag) !== o.md5) {
          throw Object.assign(new Error(`staged object ${o.key} changed after it was recorded`), { name: 'PreconditionFailed' });
        }
        return etag;
      });
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
    } catch (e) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId })).catch(() => undefined);
      throw e;
    }
  }

  async function sizeOf(key: string): Promise<number | undefined> {
    try {
      return (await s3.send(new HeadObjectCommand({ Bucket, Key: key }))).ContentLength ?? 0;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  return {
    name: 's3',

    async stat(digest) {
      const size = await sizeOf(blobKey(digest));
      return size === undefined ? undefined : { size };
    },

    async read(digest, range, signal) {
      const Key = blobKey(digest);
      try {
        // The object reader's socket, not the SDK's HTTP stack, carries the bytes (see
        // object-reader.ts); the SDK still resolves the endpoint and credentials, and signs.
        const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), { expiresIn: READ_URL_SECONDS }));
        const body = await objects.get(url, range, signal).catch(async (e: unknown) => {
          // The SDK's way for what the reader does not do: bodies framed otherwise, and the
          // retries with backoff that a busy or throttling server's 5xx (503 SlowDown) calls for.
          if (!(e instanceof UnframedResponseError) && !(e instanceof S3ResponseError && e.$metadata.httpStatusCode >= 500)) throw e;
          const res = await s3.send(new GetObjectCommand({ Bucket, Key, ...(range && { Range: httpRange(range) }) }), { abortSignal: signal });
          return res.Body as Readable;
        });
        return signal ? addAbortSignal(signal, body) : body;
      } catch (e) {
        if (isNotFound(e)) throw new BlobNotFoundError(digest);
        throw e;
      }
    },

    async writer(uploadId, { append }): Promise<BlobWriter> {
      stateKey(uploadId);
      const old = await loadState(uploadId);
      let st: UploadState;
      if (append && old) {
        st = old;
      } else {
        // `high` carries over: the old parts are deleted below, but a crash first would orphan them.
        st = { v: 1, parts: [], tail: null, high: old ? Math.max(old.high, old.parts.length) + 1 : 0 };
        // Saved even when empty, so that statUpload sees an upload that was started (as on fs).
        await saveState(uploadId, st);
        if (old) await removeStagedObjects(uploadId, old);
      }
      let size = stagedSize(st);
      let finished = false;
      return {
        uploadId,
        get size() {
          return size;
        },

        async append(source, signal) {
          if (finished) throw new Error('blob writer is closed');
          // Re-read, as the fs driver reopens its file: another writer may have appended since.
          let cur = (await loadState(uploadId)) ?? { v: 1, parts: [], tail: null, high: 0 };
          const before = stagedSize(cur);
          const buf = new PartBuffer(partSizeFor(partSize, cur.parts.length + 1));
          // Whether `buf` holds bytes that `cur` does not yet account for.
          let dirty = false;
          let storeFailed = false;
          async function store<T>(f: () => Promise<T>): Promise<T> {
            try {
              return await f();
            } catch (e) {
              storeFailed = true;
              throw e;
            }
          }
          try {
            const tail = cur.tail;
            if (tail) {
              await store(async () => {
                const res = await s3.send(new GetObjectCommand({ Bucket, Key: tailKey(uploadId, tail.slot), IfMatch: tail.etag }), { abortSignal: signal });
                for await (const c of res.Body as Readable) {
                  if (buf.write(c as Buffer, 0) !== (c as Buffer).length) throw new Error(`staged tail of ${uploadId} outgrew its part`);
                }
              });
            }
            await pipeline(
              source,
              async (chunks: AsyncIterable<Uint8Array>) => {
                for await (const piece of chunks) {
                  // Web streams hand over Uint8Arrays; a Buffer view of the same memory copies nothing.
                  const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
                  for (let off = 0; off < chunk.length; ) {
                    off += buf.write(chunk, off);
                    dirty = true;
                    if (!buf.full) continue;
                    const n = cur.parts.length + 1;
                    if (n >= MAX_PARTS) throw new Error(`upload ${uploadId} exceeds S3's ${MAX_PARTS} parts`);
                    const part = await store(() => putStaged(partKey(uploadId, n), buf, signal));
                    const next: UploadState = { v: 1, parts: [...cur.parts, { n, ...part }], tail: null, high: Math.max(cur.high, n) };
                    await store(() => saveState(uploadId, next));
                    cur = next;
                    size = stagedSize(cur);
                    buf.reset(partSizeFor(partSize, n + 1));
                    dirty = false;
                  }
                }
              },
              signal ? { signal } : {},
            );
          } catch (e) {
            if (!source.destroyed) source.destroy();
            // Bytes received before a client failed are still a prefix of its upload: keep them,
            // so it can resume from there. Not when the store failed, which would fail again.
            if (dirty && !storeFailed) await saveTail(uploadId, cur, buf).catch(() => undefined);
            // The store is the truth, whatever got through.
            size = stagedSize((await loadState(uploadId)) ?? cur);
            throw e;
          }
          if (dirty) cur = await saveTail(uploadId, cur, buf);
          size = stagedSize(cur);
          return size - before;
        },

        async commit(digest) {
          const key = blobKey(digest);
          // Content-addressed: if the blob is there, these bytes are there; drop the staged copy.
          if ((await sizeOf(key)) === undefined) {
            const staged = await loadState(uploadId);
            if (staged) {
              try {
                await assemble(uploadId, staged, key);
              } catch (e) {
                // A concurrent commit of the same upload may have won and removed the staged bytes.
                if ((await sizeOf(key)) === undefined) throw e;
              }
            } else if ((await sizeOf(key)) === undefined) {
              throw new Error(`upload not found: ${uploadId}`);
            }
          }
          await removeUpload(uploadId);
          finished = true;
        },

        async cancel() {
          finished = true;
          await removeUpload(uploadId);
        },

        async close() {
          // Nothing is held between requests: every append saves its state before it returns.
          finished = true;
        },
      };
    },

    async readUpload(uploadId, signal) {
      const st = await loadState(uploadId);
      if (!st) throw new Error(`upload not found: ${uploadId}`);
      return streamStaged(stagedObjects(uploadId, st), signal);
    },

    async statUpload(uploadId) {
      const st = await loadState(uploadId);
      return st && stagedSize(st);
    },

    async deleteUpload(uploadId) {
      await removeUpload(uploadId);
    },

    async delete(digest) {
      await s3.send(new DeleteObjectCommand({ Bucket, Key: blobKey(digest) }));
    },

    /**
     * For the garbage collector only, never on a request's path: one LIST per 1000 staged
     * objects under uploads/, which S3 prices and rate-limits like any other request. Multipart
     * uploads are never left open (see above), so the state objects are all there is to find.
     */
    async *listUploads() {
      const stateRe = new RegExp(`^${escapeRe(base)}uploads/([0-9a-f-]{36})/state$`);
      let ContinuationToken: string | undefined;
      do {
        const res = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${base}uploads/`, ContinuationToken }));
        for (const o of res.Contents ?? []) {
          const m = stateRe.exec(o.Key ?? '');
          if (m && isUploadId(m[1]!) && o.LastModified) yield { id: m[1]!, modifiedAt: o.LastModified };
        }
        ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },

    async presignedUrl(digest, ttlSeconds) {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 604_800) {
        throw new RangeError(`presigned URL lifetime must be 1 s to 7 days, got ${ttlSeconds}`);
      }
      return getSignedUrl(presigner, new GetObjectCommand({ Bucket, Key: blobKey(digest) }), { expiresIn: ttlSeconds });
    },
  };

  /** Stores `buf` as the upload's tail, in the slot the saved state does not name. */
  async function saveTail(id: string, cur: UploadState, buf: PartBuffer): Promise<UploadState> {
    const slot = cur.tail?.slot === 0 ? 1 : 0;
    const tail = await putStaged(tailKey(id, slot), buf);
    const next: UploadState = { ...cur, tail: { slot, ...tail } };
    await saveState(id, next);
    return next;
  }

  async function removeStagedObjects(id: string, st: UploadState): Promise<void> {
    const keys = [tailKey(id, 0), tailKey(id, 1)];
    for (let n = 1; n <= Math.max(st.high, st.parts.length) + 1; n++) keys.push(partKey(id, n));
    await mapLimit(keys, DELETE_CONCURRENCY, (Key) => s3.send(new DeleteObjectCommand({ Bucket, Key })));
  }
}

function stagedSize(st: UploadState): number {
  let size = st.tail?.size ?? 0;
  for (const p of st.parts) size += p.size;
  return size;
}
