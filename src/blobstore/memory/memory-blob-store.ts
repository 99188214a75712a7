/**
 * An in-memory blob store for unit tests of the layers above. It is real code held to the same
 * contract suite as the fs and s3 drivers, so a test that passes against it means something; it
 * is not for production (bytes live in one process and die with it).
 */
import { Readable, Writable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, type BlobStore, type BlobWriter, type ByteRange } from '../blob-store.js';

/** Bytes kept as the chunks they arrived in, so neither append nor commit copies a whole blob. */
interface Bytes {
  chunks: Buffer[];
  size: number;
}

/** The memory store, and what it holds (for tests that check nothing is left behind). */
export interface MemoryBlobStore extends BlobStore {
  contents(): { blobs: string[]; uploads: string[] };
}

/** Inputs are checked by withChecks (checked-blob-store.ts), composed around every driver. */
export function createMemoryBlobStore(): MemoryBlobStore {
  const blobs = new Map<string, Bytes>();
  const uploads = new Map<string, Bytes>();

  function staged(id: string): Bytes {
    let bytes = uploads.get(id);
    if (!bytes) {
      bytes = { chunks: [], size: 0 };
      uploads.set(id, bytes);
    }
    return bytes;
  }

  return {
    name: 'memory',

    async stat(digest) {
      const blob = blobs.get(digest);
      return blob && { size: blob.size };
    },

    async read(digest, range, signal) {
      const blob = blobs.get(digest);
      if (!blob) throw new BlobNotFoundError(digest);
      return streamOf(blob, range, signal);
    },

    async writer(uploadId, { append }): Promise<BlobWriter> {
      if (!append) uploads.delete(uploadId);
      let size = staged(uploadId).size;
      let finished = false;
      return {
        uploadId,
        get size() {
          return size;
        },
        async append(source, signal) {
          if (finished) throw new Error('blob writer is closed');
          const before = size;
          // Looked up per chunk, as the fs driver reopens its file: a cancel in between wins.
          const sink = new Writable({
            write(chunk: Buffer, _enc, cb) {
              const bytes = staged(uploadId);
              // Copied, since a source may reuse its buffers once a write has returned.
              bytes.chunks.push(Buffer.from(chunk));
              bytes.size += chunk.length;
              cb();
            },
          });
          try {
            await pipeline(source, sink, signal ? { signal } : {});
          } finally {
            size = uploads.get(uploadId)?.size ?? 0;
          }
          return size - before;
        },
        async commit(digest) {
          const bytes = uploads.get(uploadId);
          if (!blobs.has(digest)) {
            if (!bytes) throw new Error(`upload not found: ${uploadId}`);
            blobs.set(digest, bytes);
          }
          uploads.delete(uploadId);
          finished = true;
        },
        async cancel() {
          finished = true;
          uploads.delete(uploadId);
        },
        async close() {
          finished = true;
        },
      };
    },

    async readUpload(uploadId, signal) {
      const bytes = uploads.get(uploadId);
      if (!bytes) throw new Error(`upload not found: ${uploadId}`);
      // A snapshot: later appends must not show up in a stream already handed out.
      return streamOf({ chunks: [...bytes.chunks], size: bytes.size }, undefined, signal);
    },

    async statUpload(uploadId) {
      return uploads.get(uploadId)?.size;
    },

    async deleteUpload(uploadId) {
      uploads.delete(uploadId);
    },

    async delete(digest) {
      blobs.delete(digest);
    },

    contents() {
      return { blobs: [...blobs.keys()], uploads: [...uploads.keys()] };
    },
  };
}

/** Streams the inclusive `range` of `bytes` as views into the stored chunks, without copying. */
function streamOf(bytes: Bytes, range: ByteRange | undefined, signal: AbortSignal | undefined): Readable {
  const start = range?.start ?? 0;
  const end = range ? range.end + 1 : bytes.size;
  function* slices(): Generator<Buffer> {
    let offset = 0;
    for (const chunk of bytes.chunks) {
      const next = offset + chunk.length;
      if (next > start && offset < end) {
        yield chunk.subarray(Math.max(0, start - offset), Math.min(chunk.length, end - offset));
      }
      if (next >= end) return;
      offset = next;
    }
  }
  const stream = Readable.from(slices(), { objectMode: false });
  return signal ? addAbortSignal(signal, stream) : stream;
}
