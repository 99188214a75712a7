/**
 * The local file-system blob store.
 *
 * Layout under the root:
 *   blobs/<alg>/<first two hex>/<hex>   committed blobs, content-addressed; the two-character
 *                                       fan-out keeps directories small
 *   uploads/<uuid>                      staged bytes of an upload in progress
 *
 * Both live on one file system so that commit is a rename: atomic, so a reader (or a crash)
 * sees either no blob or all of it. Staged bytes are fsynced before the rename and the
 * directory after it, so a committed blob survives power loss before its metadata row exists.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../../core/digest.js';
import { BlobNotFoundError, isUploadId, type BlobStore, type BlobWriter, type ByteRange } from '../blob-store.js';

export function createFsBlobStore(opts: { root: string }): BlobStore {
  const blobsDir = join(opts.root, 'blobs');
  const uploadsDir = join(opts.root, 'uploads');
  const knownDirs = new Set<string>();

  function blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw new Error('invalid digest');
    const hex = digestHex(digest);
    return join(blobsDir, digestAlgorithm(digest), hex.slice(0, 2), hex);
  }

  function uploadPath(id: string): string {
    if (!isUploadId(id)) throw new Error('invalid upload id');
    return join(uploadsDir, id);
  }

  async function ensureDir(dir: string): Promise<void> {
    if (knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    knownDirs.add(dir);
  }

  async function fsyncPath(path: string): Promise<void> {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function sizeOf(path: string): Promise<number | undefined> {
    try {
      return (await stat(path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async function removeIfPresent(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Opens a file for reading, turning ENOENT into BlobNotFoundError before any stream exists. */
  async function openForRead(path: string, what: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(what);
      throw e;
    }
    return fh.createReadStream({
      ...(range && { start: range.start, end: range.end }),
      highWaterMark: 256 * 1024,
      ...(signal && { signal }),
    });
  }

  return {
    name: 'fs',

    async stat(digest) {
      const size = await sizeOf(blobPath(digest));
      return size === undefined ? undefined : { size };
    },

    read(digest, range, signal) {
      return openForRead(blobPath(digest), digest, range, signal);
    },

    async writer(uploadId, { append }): Promise<BlobWriter> {
      const path = uploadPath(uploadId);
      await ensureDir(uploadsDir);
      if (!append) await removeIfPresent(path);
      let size = (await sizeOf(path)) ?? 0;
      return {
        uploadId,
        get size() {
          return size;
        },
        async append(source, signal) {
          const before = size;
          try {
            await pipeline(source, createWriteStream(path, { flags: 'a', highWaterMark: 256 * 1024 }), signal ? { signal } : {});
          } finally {
            // Re-read what really reached the disk, whether the pipeline finished or not.
            size = (await sizeOf(path)) ?? 0;
          }
          return size - before;
        },
        async commit(digest) {
          const target = blobPath(digest);
          await ensureDir(join(target, '..'));
          if ((await sizeOf(path)) === undefined) {
            // An empty upload has no staged file yet.
            await (await open(path, 'a')).close();
          }
          await fsyncPath(path);
          // rename replaces an existing target atomically; its content is the same by construction.
          await rename(path, target);
          await fsyncPath(join(target, '..'));
        },
        async cancel() {
          await removeIfPresent(path);
        },
        async close() {
          // Each append opens and closes its own stream; nothing stays open between requests.
        },
      };
    },

    readUpload(uploadId, signal) {
      return openForRead(uploadPath(uploadId), uploadId, undefined, signal);
    },

    statUpload(uploadId) {
      return sizeOf(uploadPath(uploadId));
    },

    async deleteUpload(uploadId) {
      await removeIfPresent(uploadPath(uploadId));
    },

    async delete(digest) {
      await rm(blobPath(digest), { force: true });
    },
  };
}
