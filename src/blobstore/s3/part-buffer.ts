/**
 * The one part of an upload held in memory while it fills: a buffer that grows by doubling up to
 * the part's size (so a 2 KiB upload does not allocate 10 MiB) and hashes what it holds for
 * Content-MD5, which lets S3 reject a part corrupted on the way.
 */
import { createHash, type Hash } from 'node:crypto';

const INITIAL = 256 * 1024;

export class PartBuffer {
  private data = Buffer.alloc(0);
  private hash: Hash = createHash('md5');
  length = 0;

  constructor(private capacity: number) {}

  get full(): boolean {
    return this.length === this.capacity;
  }

  /** Copies as much of `chunk` from `offset` as fits; returns the number of bytes taken. */
  write(chunk: Buffer, offset: number): number {
    const n = Math.min(chunk.length - offset, this.capacity - this.length);
    if (n <= 0) return 0;
    if (this.length + n > this.data.length) {
      let size = Math.max(INITIAL, this.data.length * 2);
      while (size < this.length + n) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, this.capacity));
      this.data.copy(grown, 0, 0, this.length);
      this.data = grown;
    }
    // Copied, not kept: a source may reuse its buffers once it has handed them over.
    chunk.copy(this.data, this.length, offset, offset + n);
    this.hash.update(chunk.subarray(offset, offset + n));
    this.length += n;
    return n;
  }

  /** The bytes held; valid until the next write or reset. */
  bytes(): Buffer {
    return this.data.subarray(0, this.length);
  }

  md5(): Buffer {
    return this.hash.copy().digest();
  }

  /** Empties the buffer for the next part, keeping its memory when it is big enough. */
  reset(capacity: number): void {
    this.capacity = capacity;
    this.length = 0;
    this.hash = createHash('md5');
  }
}
