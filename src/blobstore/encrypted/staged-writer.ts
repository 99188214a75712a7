/**
 * The encrypted store's writer of one staged upload (staged-upload.ts does the work). A class, not
 * an object literal of closures: a writer lives as long as its request, and under 200 uploads
 * streaming the literal's closures, context and dictionary-mode properties were ~0.6 KB per
 * upload of the main heap (notes/2026-12-05-s17-rss.md).
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import type { BlobStore, BlobWriter, PieceMeter, ThreadHash } from '../blob-store.js';
import type { StagedUploads } from './staged-upload.js';

export class StagedWriter implements BlobWriter {
  readonly meters = true;
  private finished = false;

  constructor(
    readonly uploadId: string,
    /** Plaintext staged so far. */
    private bytes: number,
    private readonly staged: StagedUploads,
    /** Set when the store seals on the byte threads, which then feed the upload's running hash. */
    readonly feedsHash: boolean,
    /** The store itself: its commit (one per digest at a time) and its view of what stayed. */
    private readonly store: Pick<BlobStore, 'statUpload'> & { commitUpload(uploadId: string, digest: Digest): Promise<void> },
  ) {}

  get size(): number {
    return this.bytes;
  }

  async append(source: Readable, signal?: AbortSignal, hash?: ThreadHash, meter?: PieceMeter): Promise<number> {
    if (this.finished) {
      if (!meter) source.destroy();
      throw new Error('blob writer is closed');
    }
    try {
      const done = await this.staged.append(this.uploadId, source, signal, hash, meter);
      this.bytes = done.size;
      return done.appended;
    } catch (e) {
      // The store, not this writer, knows what stayed.
      this.bytes = (await this.store.statUpload(this.uploadId).catch(() => undefined)) ?? this.bytes;
      throw e;
    }
  }

  async commit(digest: Digest): Promise<void> {
    await this.store.commitUpload(this.uploadId, digest);
    this.finished = true;
  }

  async cancel(): Promise<void> {
    this.finished = true;
    await this.staged.remove(this.uploadId);
  }

  async close(): Promise<void> {
    this.finished = true;
  }
}
