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
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type StorageClass, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { type Readable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestAlgorithm, digestHex, type Digest } from '../../core/digest.js';
import { BlobNotFoundError, isUploadId, type BlobStore, type BlobWriter } from '../blob-store.js';
import { ObjectReader, S3ResponseError, UnframedResponseError } from './object-reader.js';
import { PartBuffer } from './part-buffer.js';
import { stagedParts, stagedSize, type UploadState } from './staged-parts.js';
import { escapeRe, httpRange, isNotFound, sseHeaders } from './s3-helpers.js';
import { createS3Client } from './s3-client.js';
import { DEFAULT_PART_SIZE, MIN_PART_SIZE, type S3Location } from './s3-location.js';

export { createS3Client } from './s3-client.js';
export { parseS3Location, S3LocationError } from './s3-location.js';
export type { S3Location, S3LocationOptions, BlobRedirect, ServerSideEncryption } from './s3-location.js';

/** S3's limit on parts per multipart upload; the tail takes the last. */
const MAX_PARTS = 10_000;
/** A read's URL is used at once; the margin only covers a slow connect. */
const READ_URL_SECONDS = 900;

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

  // Only this function and uploadKey (staged-parts.ts) build keys, from digests and upload ids that
  // withChecks (checked-blob-store.ts, composed around every driver by app/) has already validated.
  function blobKey(digest: Digest): string {
    return `${base}blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }
  const { stateKey, partKey, tailKey, loadState, saveState, putStaged, streamStaged, stagedObjects, removeUpload, assemble, saveTail, removeStagedObjects } =
    stagedParts({
      s3,
      Bucket,
      base,
      sse,
      blobClass,
    });

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
}
