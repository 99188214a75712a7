/**
 * One download's sealed bytes from its blob file's fd, on its byte thread: views of a mapped
 * window (mapped-file.ts) where the download asks for them and mappings are available, else
 * positional reads into a buffer the thread's downloads share (a turn reads at most one batch
 * at a time). A mapping the kernel
 * refuses sends the download to reads for good. A read of a mapping that faulted (the file cut
 * short under it, or a page the disk cannot read) read zeros, which fail their chunk's tag:
 * `failure` then says what happened, naming the file, instead of blaming the blob's bytes.
 */
import { readlinkSync, readSync } from 'node:fs';
import { fileMap, MappedFile, type FileMap } from './mapped-file.js';

/** A blob file that could not be read as it was when its download started: not known to be altered. */
export class BlobFileUnreadableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobFileUnreadableError';
  }
}

/** The read buffer of every download of this thread. */
let shared = Buffer.alloc(0);

export class FdSource {
  private mapped: MappedFile | undefined;
  private poisoned = false;

  /** `map` false: reads even where mappings are available (`fm`: the addon, or a stand-in in tests). */
  constructor(
    private readonly fd: number,
    map: boolean,
    fm: FileMap | undefined = map ? fileMap() : undefined,
  ) {
    this.mapped = map && fm ? MappedFile.of(fm, fd) : undefined;
  }

  /** Whether the bytes come from a mapping (as far as it got). */
  get isMapped(): boolean {
    return this.mapped !== undefined;
  }

  /** The file's bytes [position, position + want), fewer where the file ends; valid until the next read. */
  read(position: number, want: number): Buffer {
    const view = this.mapped?.read(position, want);
    if (view) return view;
    if (this.mapped) {
      this.mapped.release();
      this.poisoned ||= this.mapped.poisoned;
      this.mapped = undefined;
    }
    if (shared.length < want) shared = Buffer.allocUnsafe(want);
    let have = 0;
    while (have < want) {
      const n = readSync(this.fd, shared, have, want - have, position + have);
      if (n === 0) break;
      have += n;
    }
    return shared.subarray(0, have);
  }

  /**
   * The error to fail the download with when a read of its mapping faulted (the opener's own
   * error, a failed tag, would wrongly say the blob's bytes are altered); undefined otherwise.
   */
  failure(): BlobFileUnreadableError | undefined {
    if (!this.poisoned && !this.mapped?.poisoned) return undefined;
    let file = `fd ${this.fd}`;
    try {
      file = readlinkSync(`/proc/self/fd/${this.fd}`);
    } catch {
      // The fd's number names it then.
    }
    return new BlobFileUnreadableError(
      `blob file ${file} is truncated or unreadable: a read of its mapping faulted (it is shorter than when the download started, or the disk failed a page)`,
    );
  }

  /** The download is over: its window is unmapped (isMapped still says how it read). */
  release(): void {
    this.mapped?.release();
  }
}
