/**
 * The local file-system blob store, the zero-config default on one machine.
 *
 * Layout under the root:
 *
 *   <root>/
 *     blobs/<alg>/<first two hex>/<hex>   committed blobs, content-addressed. The algorithm level
 *                                         keeps sha256 and sha512 names apart; the two-character
 *                                         fan-out bounds a directory to ~1/256 of all blobs, since
 *                                         huge directories make lookups and backups slow.
 *     uploads/<uploadId>                  the staged bytes of an upload in progress, one flat file
 *                                         per upload so chunked appends are plain O_APPEND writes.
 *
 * Both trees live under one root, hence on one file system, so commit is a rename(2): atomic, so
 * a reader (or a crash) sees either no blob or all of it. The staged file is fsynced before the
 * rename and the directory after it, so a committed blob survives power loss before its metadata
 * row is written (design decision 2). The layout is not an index: listings come from metadata.
 */
import { close, createReadStream, fstat, open as openCb, type Dir } from 'node:fs';
import { mkdir, open, opendir, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { digestAlgorithm, digestHex, type Digest } from '../../core/digest.js';
import { checkDigest, checkUploadId } from '../checked-blob-store.js';
import { openBlobFile } from './blob-handle.js';
import { fsyncDir, fsyncPath, isNotFound, removeIfPresent, sizeOf } from './file-ops.js';
import { StagedFileWriter } from './staged-file-writer.js';
import { SyncGate } from './sync-gate.js';
import { BlobNotFoundError, isUploadId, type BlobStore, type BlobWriter, type ByteRange } from '../blob-store.js';

/** Fewer, larger reads for multi-megabyte layers, at a bounded cost per open stream. */
const READ_CHUNK = 1024 * 1024;
/** A file that grows after it was opened (an upload) is still read whole, in reads this small at least. */
const MIN_READ_CHUNK = 16 * 1024;

export interface FsBlobStoreOptions {
  root: string;
  /** Whether downloads open their files on the calling thread (sync-gate.ts); default: a gate of its own, auto. */
  gate?: SyncGate;
}

export function createFsBlobStore(opts: FsBlobStoreOptions): BlobStore {
  const gate = opts.gate ?? new SyncGate();
  // Absolute, so the directory walk after mkdir ends at the file-system root, not at '.'.
  const root = resolvePath(opts.root);
  const blobsDir = join(root, 'blobs');
  const uploadsDir = join(root, 'uploads');

  // Only these two functions build paths. withChecks (checked-blob-store.ts, composed around
  // every driver by app/) answers bad input with its own errors first; the checks here are the
  // last word, for a driver ever used without it: no path is built from an unchecked name.
  function blobPath(digest: Digest): string {
    checkDigest(digest);
    const hex = digestHex(digest);
    return join(blobsDir, digestAlgorithm(digest), hex.slice(0, 2), hex);
  }

  function uploadPath(id: string): string {
    checkUploadId(id);
    return join(uploadsDir, id);
  }

  /** Creates (flags 'a') or truncates (flags 'w') a staged file; uploads/ is made on first use. */
  async function touch(path: string, flags: 'a' | 'w'): Promise<void> {
    const fh = await open(path, flags).catch(async (e: unknown) => {
      if (!isNotFound(e)) throw e;
      // Trying first and creating the directory on ENOENT keeps mkdir off every later call.
      await mkdir(uploadsDir, { recursive: true });
      return open(path, flags);
    });
    await fh.close();
  }

  /**
   * Commits of a digest under way in this process, settled either way. "The blob already exists"
   * must mean durable, not merely renamed: a commit that finds the target must wait for the one
   * that put it there to finish its directory fsync before its caller writes metadata.
   */
  const committing = new Map<string, Promise<void>>();

  async function commitUpload(uploadId: string, staged: string, digest: Digest): Promise<void> {
    const target = blobPath(digest);
    if ((await sizeOf(target)) !== undefined) {
      await committing.get(digest);
      // Content-addressed: the stored bytes are these bytes, so the staged copy is redundant.
      await removeIfPresent(staged);
      return;
    }
    const done = moveIntoPlace(uploadId, staged, target);
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    const prev = committing.get(digest);
    const entry = prev ? Promise.all([prev, settled]).then(() => undefined) : settled;
    committing.set(digest, entry);
    try {
      await done;
      // moveIntoPlace returns early when a commit of the same upload moved the file first.
      await prev;
    } finally {
      if (committing.get(digest) === entry) committing.delete(digest);
    }
  }

  async function moveIntoPlace(uploadId: string, staged: string, target: string): Promise<void> {
    try {
      await fsyncPath(staged);
    } catch (e) {
      // A concurrent commit of this same upload may have moved the file already.
      if (isNotFound(e) && (await sizeOf(target)) !== undefined) return;
      if (isNotFound(e)) throw new Error(`upload not found: ${uploadId}`);
      throw e;
    }
    const dir = dirname(target);
    const created = await mkdir(dir, { recursive: true });
    try {
      // Replacing a target that appeared meanwhile is harmless: a concurrent commit of the same
      // digest stored the same bytes, and readers holding the old inode keep reading it.
      await rename(staged, target);
    } catch (e) {
      if (isNotFound(e) && (await sizeOf(target)) !== undefined) return;
      throw e;
    }
    // The new name is durable only once its directory is synced; a directory made just now must
    // itself be recorded in its parent, up to the first one that already existed.
    const dirs = [dir];
    if (created !== undefined) {
      for (let d = dir; d !== created && d !== dirname(d); d = dirname(d)) dirs.push(dirname(d));
      dirs.push(dirname(created));
    }
    // Independent of one another, and all of them done before the caller writes the row.
    await Promise.all(dirs.map(fsyncDir));
  }

  return {
    name: 'fs',

    async stat(digest) {
      const size = await sizeOf(blobPath(digest));
      return size === undefined ? undefined : { size };
    },

    async read(digest, range, signal) {
      const stream = await openStream(blobPath(digest), range, signal);
      if (!stream) throw new BlobNotFoundError(digest);
      return stream;
    },

    /** Inline or through the pool, as the gate says (blob-handle.ts). */
    open: (digest) => openBlobFile(blobPath(digest), digest, gate),

    async writer(uploadId, { append }): Promise<BlobWriter> {
      const path = uploadPath(uploadId);
      let size = 0;
      if (!append) {
        await touch(path, 'w');
      } else {
        const existing = await sizeOf(path);
        // The staged file exists from the start, so an empty upload can commit like any other.
        if (existing === undefined) await touch(path, 'a');
        else size = existing;
      }
      return new StagedFileWriter(uploadId, path, size, commitUpload);
    },

    async readUpload(uploadId, signal) {
      const stream = await openStream(uploadPath(uploadId), undefined, signal);
      if (!stream) throw new Error(`upload not found: ${uploadId}`);
      return stream;
    },

    async readSmallUpload(uploadId) {
      let fh: FileHandle;
      try {
        fh = await open(uploadPath(uploadId), 'r');
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
      try {
        const { size } = await fh.stat();
        const buf = Buffer.allocUnsafeSlow(size);
        let got = 0;
        while (got < size) {
          const { bytesRead } = await fh.read(buf, got, size - got, got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        // Cut short meanwhile (rewritten): a copy of its own, as promised, of what was there.
        return got === size ? buf : Buffer.from(buf.subarray(0, got));
      } finally {
        await fh.close();
      }
    },

    async statUpload(uploadId) {
      return sizeOf(uploadPath(uploadId));
    },

    async deleteUpload(uploadId) {
      await removeIfPresent(uploadPath(uploadId));
    },

    async delete(digest) {
      await removeIfPresent(blobPath(digest));
    },

    async *listUploads() {
      let dir: Dir;
      try {
        dir = await opendir(uploadsDir);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      for await (const entry of dir) {
        if (!entry.isFile() || !isUploadId(entry.name)) continue;
        try {
          yield { id: entry.name, modifiedAt: (await stat(join(uploadsDir, entry.name))).mtime };
        } catch (e) {
          // Committed or cancelled while we listed.
          if (!isNotFound(e)) throw e;
        }
      }
    },
  };
}

/**
 * Opens the file before making the stream, so a missing file is an answer (undefined) rather
 * than an 'error' event after the caller has already sent headers. The raw-fd callback API is
 * used because it is the cheapest route to a ReadStream: one open(2), no FileHandle promises
 * per chunk, and the stream closes the fd itself when it ends or is destroyed.
 */
function openStream(path: string, range: ByteRange | undefined, signal: AbortSignal | undefined): Promise<Readable | undefined> {
  return new Promise((resolve, reject) => {
    openCb(path, 'r', (err, fd) => {
      if (err) {
        if (isNotFound(err)) resolve(undefined);
        else reject(err);
        return;
      }
      const make = (highWaterMark: number): void => {
        try {
          resolve(
            createReadStream('', {
              fd,
              highWaterMark,
              ...(range && { start: range.start, end: range.end }),
              ...(signal && { signal }),
            }),
          );
        } catch (e) {
          // A bad range throws synchronously, before the stream owns the fd.
          close(fd, () => reject(e));
        }
      };
      // A ReadStream without an end allocates a whole highWaterMark for every read, the final
      // empty one included: 2 MiB of external memory to read a 200-byte upload record, which
      // drove a full GC every few small pushes. A range bounds the buffers itself.
      if (range) make(READ_CHUNK);
      else fstat(fd, (statErr, st) => (statErr ? close(fd, () => reject(statErr)) : make(bufferFor(st.size))));
    });
  });
}

function bufferFor(size: number): number {
  return Math.max(MIN_READ_CHUNK, Math.min(READ_CHUNK, size));
}
