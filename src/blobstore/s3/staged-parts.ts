/**
 * The staged uploads of the S3 driver (s3-blob-store.ts, whose header gives the layout and the
 * crash-safety rules): the state object of each upload, its staged parts and alternating tail,
 * streaming them back, assembling them into a blob at commit, and removing them.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type StorageClass,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Readable, addAbortSignal } from 'node:stream';
import type { PartBuffer } from './part-buffer.js';
import { copySource, isNotFound, mapLimit, type sseHeaders, unquote } from './s3-helpers.js';

/** Concurrent UploadPartCopy requests per commit, and deletes per cleanup. */
const COPY_CONCURRENCY = 4;
const DELETE_CONCURRENCY = 16;
const OCTET_STREAM = 'application/octet-stream';

export interface Staged {
  size: number;
  etag: string;
  /** Hex MD5 of the bytes, as sent in Content-MD5; equal to the unquoted ETag on most stores. */
  md5: string;
}
export interface UploadState {
  v: 1;
  parts: Array<Staged & { n: number }>;
  tail: (Staged & { slot: 0 | 1 }) | null;
  high: number;
}

export function stagedSize(st: UploadState): number {
  let size = st.tail?.size ?? 0;
  for (const p of st.parts) size += p.size;
  return size;
}

/** What the staged objects are written with: the store's client, bucket, key prefix and encryption. */
export interface StagingTarget {
  s3: S3Client;
  Bucket: string;
  /** The key prefix, with its trailing slash ('' for none). */
  base: string;
  sse: ReturnType<typeof sseHeaders>;
  /** The storage class of assembled blobs only: staged parts are read back at once and then deleted. */
  blobClass: { StorageClass?: StorageClass };
}

/** The staging operations over one bucket and prefix, as closures (one set per store). */
export function stagedParts({ s3, Bucket, base, sse, blobClass }: StagingTarget) {
  // Builds every upload key (blobKey in s3-blob-store.ts builds the blob keys), from upload ids that
  // withChecks (checked-blob-store.ts, composed around every driver by app/) has already validated.
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
  return { stateKey, partKey, tailKey, loadState, saveState, putStaged, streamStaged, stagedObjects, removeUpload, assemble, saveTail, removeStagedObjects };
}
