/**
 * The one seam between Berth and the bytes it stores: content-addressed blobs plus staged
 * uploads. Drivers (fs, s3, memory) know nothing about repositories, manifests or metadata;
 * verification of digests and sizes happens above, in registry/uploads, while bytes stream.
 *
 * A blob is committed from a staged upload with an atomic move: readers see either nothing or
 * all of it. Commit is idempotent (committing bytes that are already stored under the digest
 * just discards the staged copy), which is what makes concurrent pushes of one layer safe.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import type { ByteThread } from './workers/threads.js';

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobInfo {
  size: number;
}

export interface BlobWriter {
  readonly uploadId: string;
  /** Bytes staged so far, including those from earlier writers of the same upload. */
  readonly size: number;
  /**
   * Appends everything `source` yields to the staged upload and resolves with the number of
   * bytes appended. Rejects (leaving earlier staged bytes intact) if the source errors.
   */
  append(source: Readable, signal?: AbortSignal, hash?: ThreadHash, meter?: PieceMeter): Promise<number>;
  /**
   * Set when append() feeds a `hash` it is given with every byte it appends, in the same pass
   * over the bytes as its own work (the encrypted store's sealing on the byte threads); a writer
   * without it ignores the argument and the caller hashes.
   */
  readonly feedsHash?: boolean;
  /**
   * Set when append() takes a `meter`: it then reads the source straight from its 'data' events
   * (no stream in between), hands every piece to the meter before taking it, and leaves the
   * source undestroyed (paused) when it fails, so that the caller can still answer the client.
   * A writer without it ignores the argument and the caller meters the source itself.
   */
  readonly meters?: boolean;
  /**
   * Atomically makes the staged bytes the blob `digest` and removes the staged upload. Succeeds
   * if the blob already exists even when the staged bytes are gone (a retried completion).
   * A writer is spent after commit, cancel or close: append then rejects.
   */
  commit(digest: Digest): Promise<void>;
  /** Discards the staged upload. */
  cancel(): Promise<void>;
  /** Releases resources but keeps the staged bytes for a later writer (chunked uploads). */
  close(): Promise<void>;
  /**
   * Local files only (fs): the staged file opened for positional writes, which a worker thread
   * of this process may make instead of `append` (encrypted/seal-pool.ts does, off the event loop).
   */
  localAppend?(): Promise<LocalAppend>;
}

/** The caller's check on every piece an append takes (BlobWriter.meters). */
export interface PieceMeter {
  /** Called with each piece before it is appended; throwing stops the append there, with that error. */
  take(piece: Buffer): void;
}

/** A running hash kept on one of the byte threads (registry/hash-pool.ts), fed in order. */
export interface ThreadHash {
  /** The thread holding it, and its id there: work on that thread may feed it directly. */
  readonly thread: ByteThread;
  readonly id: number;
  /** Feeds bytes from this thread instead; a promise asks the caller to wait before feeding more. */
  update(chunk: Uint8Array): Promise<void> | undefined;
}

/** A staged upload's file open for positional writes at its end (BlobWriter.localAppend). */
export interface LocalAppend {
  readonly fd: number;
  /** Where the staged bytes end: the first write goes there. */
  readonly position: number;
  /** Closes the fd once nothing writes it any more and settles the writer's size from the file; resolves the bytes appended. */
  done(): Promise<number>;
}

/** A stored blob opened for reads at positions, by a reader that reuses its own buffer. */
export interface BlobHandle {
  readonly size: number;
  /**
   * The file descriptor, when the handle is a local file: a worker thread of this process may
   * read it positionally until the handle is closed (encrypted/open-pool.ts does, off the event loop).
   */
  readonly fd?: number;
  /** Reads up to `into.length` bytes at `position`; resolves how many (0 at the end). */
  read(into: Buffer, position: number): Promise<number>;
  /**
   * The same read done at once on the calling thread, and fully: fewer than `into.length` bytes
   * only at the end of the file. Offered only while the driver finds such reads fast (fs: its
   * SyncGate); without it, read.
   */
  readSync?(into: Buffer, position: number): number;
  close(): Promise<void>;
}

export interface BlobStore {
  readonly name: string;
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** Streams a blob or a range of it. Rejects with BlobNotFoundError when absent. */
  read(digest: Digest, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /**
   * Opens the staged upload `uploadId` (a UUID; drivers must reject anything else).
   * `append: false` starts it afresh, discarding anything staged under that id; `append: true`
   * on an id with nothing staged starts an empty upload.
   */
  writer(uploadId: string, opts: { append: boolean }): Promise<BlobWriter>;
  /** Streams the bytes staged so far (to re-hash an upload resumed on another node); rejects if none. */
  readUpload(uploadId: string, signal?: AbortSignal): Promise<Readable>;
  /**
   * The whole of a small staged upload (an encrypted upload's record) in one buffer of its own,
   * which the caller may release (core/fresh-pieces.ts), or undefined when none is staged.
   * Optional: without it such an upload is read through readUpload. A stream's reads leave
   * their buffers to the GC (a file stream allocates one more for the read that finds the end),
   * which under a crowd of commits was tens of MB of garbage (issue 14).
   */
  readSmallUpload?(uploadId: string): Promise<Buffer | undefined>;
  /** Size of a staged upload, or undefined when none is staged. */
  statUpload(uploadId: string): Promise<number | undefined>;
  /** Discards a staged upload; no error when absent. */
  deleteUpload(uploadId: string): Promise<void>;
  /** Deletes a blob; no error when absent. */
  delete(digest: Digest): Promise<void>;
  /**
   * Every staged upload with the time it last changed, for the garbage collector to find staged
   * bytes whose session is gone (a crash between the two). Only drivers that can list cheaply
   * offer it.
   */
  listUploads?(): AsyncIterable<{ id: string; modifiedAt: Date }>;
  /**
   * Opens a blob for positional reads; rejects with BlobNotFoundError when absent. Offered by
   * drivers with cheap random access (fs), so the encrypted store reads each sealed chunk into
   * one buffer of its own instead of a fresh buffer per read (less garbage, fewer collections).
   */
  open?(digest: Digest): Promise<BlobHandle>;
  /** A URL a client may GET the blob from directly, when the backend can presign. */
  presignedUrl?(digest: Digest, ttlSeconds: number): Promise<string>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly digest: string) {
    super(`blob not found: ${digest}`);
    this.name = 'BlobNotFoundError';
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Upload ids come from clients' URLs; only canonical lowercase UUIDs may reach a driver. */
export function isUploadId(s: string): boolean {
  return UUID_RE.test(s);
}
