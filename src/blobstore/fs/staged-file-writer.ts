/**
 * The fs driver's writer of one staged upload file: appends through AppendStream, or hands the
 * caller the file for its own positioned writes (localAppend); the disk, not a counter, says how
 * many bytes the upload holds after each. Commit is the store's (a rename under its tree).
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../core/digest.js';
import type { BlobWriter, LocalAppend } from '../blob-store.js';
import { AppendStream } from './append-stream.js';
import { removeIfPresent, sizeOf } from './file-ops.js';

/** Lets chunks queue while a write is in flight, so they reach the disk in one writev (see AppendStream). */
const WRITE_BUFFER = 1024 * 1024;

/**
 * A writer of one staged file. A class, not an object literal of closures: a writer lives as long
 * as its request, and under 200 uploads streaming the literal's closures and context (and those
 * of its localAppend) were ~0.7 KB per upload of the main heap (notes/2026-12-05-s17-rss.md).
 */
export class StagedFileWriter implements BlobWriter {
  private finished = false;

  constructor(
    readonly uploadId: string,
    private readonly path: string,
    private bytes: number,
    private readonly commitUpload: (uploadId: string, staged: string, digest: Digest) => Promise<void>,
  ) {}

  get size(): number {
    return this.bytes;
  }

  async append(source: Readable, signal?: AbortSignal): Promise<number> {
    if (this.finished) throw new Error('blob writer is closed');
    const before = this.bytes;
    try {
      const sink = new AppendStream(this.path, WRITE_BUFFER);
      await pipeline(source, sink, signal ? { signal } : {});
    } finally {
      // After a failure some of the bytes may have reached the file; the disk is the truth.
      this.bytes = (await sizeOf(this.path)) ?? 0;
    }
    return this.bytes - before;
  }

  async localAppend(): Promise<LocalAppend> {
    if (this.finished) throw new Error('blob writer is closed');
    // Not O_APPEND: Linux's pwrite on such an fd ignores the position and appends.
    const fh = await open(this.path, 'r+');
    let position: number;
    try {
      position = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new LocalFile(this, fh, position);
  }

  /** @internal LocalFile.done(): the file is closed; the disk says what it holds. */
  async settle(): Promise<number> {
    this.bytes = (await sizeOf(this.path)) ?? 0;
    return this.bytes;
  }

  async commit(digest: Digest): Promise<void> {
    await this.commitUpload(this.uploadId, this.path, digest);
    this.finished = true;
  }

  async cancel(): Promise<void> {
    this.finished = true;
    await removeIfPresent(this.path);
  }

  async close(): Promise<void> {
    // Each append opens and closes its own file; nothing is held between requests.
    this.finished = true;
  }
}

class LocalFile implements LocalAppend {
  readonly fd: number;

  constructor(
    private readonly writer: StagedFileWriter,
    private readonly fh: FileHandle,
    readonly position: number,
  ) {
    this.fd = fh.fd;
  }

  async done(): Promise<number> {
    try {
      await this.fh.close();
    } finally {
      await this.writer.settle();
    }
    return this.writer.size - this.position;
  }
}
