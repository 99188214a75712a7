/**
 * One download's sealed bytes from its blob file's fd, on its byte thread: views of a mapped
 * window (mapped-file.ts) where mappings are available, else positional reads into a buffer the
 * thread's downloads share (a turn reads at most one batch at a time). A mapping the kernel
 * refuses sends the download to reads for good.
 */
import { readSync } from 'node:fs';
import { fileMap, MappedFile, type FileMap } from './mapped-file.js';

/** The read buffer of every download of this thread. */
let shared = Buffer.alloc(0);

export class FdSource {
  private mapped: MappedFile | undefined;

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

  /** The download is over: its window is unmapped (isMapped still says how it read). */
  release(): void {
    this.mapped?.release();
  }
}
