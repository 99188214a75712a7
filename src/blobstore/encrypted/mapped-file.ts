/**
 * A download's sealed bytes read through a mapping of the blob file (native/file-map.cc) instead
 * of a pread into a buffer: the opener deciphers from the page cache's own pages, so the bytes
 * are copied once (by the decipher, into the ring slot) instead of twice. Measured in C++ on this
 * VM (notes/2026-12-05-s18-mmap.md): per GiB of a cached 512 MiB file, pread + open 0.25–0.31
 * CPU-s, 8 MiB windows + open 0.23–0.25 (paired 0.80–0.99); the page faults (one per 64 KiB,
 * the kernel's fault-around) eat most of what the copy saved.
 *
 * The file is mapped in windows (WINDOW bytes, page-aligned, clipped to the file's size at the
 * start of the download), one at a time per download, unmapped as the next one is mapped and when
 * the download ends: a download holds at most one window of address space and page tables,
 * whatever the blob's size. Only pages inside the file's size at the download's start are mapped,
 * and Berth never writes or truncates a committed blob file (GC unlinks them, which leaves a
 * mapping readable). A file cut short under a running server anyway, or a page the disk cannot
 * read, would fault (SIGBUS) and kill the process: the addon's guard reads zeros there instead
 * (they fail the chunk's tag, nothing of it is sent) and marks the window `poisoned`, and the
 * download fails naming the file (fd-source.ts).
 *
 * Optional: Linux only, the addon built, BERTH_MAPPED_READS not `off`; any mapping the kernel
 * refuses sends that download back to preads (fd-source.ts). Used only where the configuration
 * asks for it (downloadReads `mapped`): what a mapping saves depends on how the page cache holds
 * the file. Uploads write a blob a few chunks at a time, so its pages sit in small folios, mapped
 * 4 KiB at a time; on the session-22 machine (a PVM guest) deciphering such a mapping cost the
 * byte thread 3-4x a pread and a decipher from the buffer, while a file written in 2 MiB writes
 * mapped as cheaply as it preads (notes/2026-12-06-s22-down.md).
 */
import { fstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadLinuxAddon, type LoadedAddon } from '../../core/linux-addon.js';

export interface FileMap {
  /** An ArrayBuffer over [offset, offset + length) of fd's file (offset page-aligned), or -errno. */
  map(fd: number, offset: number, length: number): ArrayBuffer | number;
  /** Detaches and unmaps a buffer map() returned; false for any other. */
  unmap(buffer: ArrayBuffer): boolean;
  /** Whether a read of a live buffer map() returned faulted (the file shrank, or an I/O error) and read zeros. */
  poisoned(buffer: ArrayBuffer): boolean;
}

/** Bytes mapped at a time (fewer windows cost fewer munmaps and TLB shootdowns; measured 2–8 MiB alike). */
export const WINDOW = 8 * 1024 * 1024;
/** Window starts are multiples of this: a page on every Linux (4 KiB, 16 KiB, 64 KiB). */
const ALIGN = 64 * 1024;

const ADDON = fileURLToPath(new URL('../../../native/file-map.node', import.meta.url));

let state: LoadedAddon<FileMap> | undefined;

/** The addon, or undefined (then fileMapUnavailable() says why). Loaded once per thread. */
export function fileMap(env = process.env): FileMap | undefined {
  state ??= load(env);
  return state.addon;
}

/** Why downloads read blob files with preads, or undefined when they map them. */
export function fileMapUnavailable(env = process.env): string | undefined {
  state ??= load(env);
  return state.why;
}

function load(env: NodeJS.ProcessEnv): LoadedAddon<FileMap> {
  if (env.BERTH_MAPPED_READS === 'off') return { addon: undefined, why: 'turned off (BERTH_MAPPED_READS=off)' };
  return loadLinuxAddon<FileMap>(ADDON);
}

/** One download's window onto its blob file. */
export class MappedFile {
  private window: ArrayBuffer | undefined;
  private from = 0;
  private to = 0;
  /** A window already released faulted. */
  private faulted = false;

  private constructor(
    private readonly fm: FileMap,
    private readonly fd: number,
    private readonly size: number,
  ) {}

  /** A mapped reader of `fd`, or undefined when its size cannot be read (the caller preads). */
  static of(fm: FileMap, fd: number): MappedFile | undefined {
    try {
      return new MappedFile(fm, fd, fstatSync(fd).size);
    } catch {
      return undefined;
    }
  }

  /**
   * The file's bytes [position, position + want), or fewer where the file ends; a view valid
   * until the next read or release. undefined: the kernel refused the mapping (the caller preads).
   */
  read(position: number, want: number): Buffer | undefined {
    const end = Math.min(position + want, this.size);
    if (end <= position) return Buffer.alloc(0);
    if (!this.window || position < this.from || end > this.to) {
      this.release();
      const from = position - (position % ALIGN);
      const to = Math.min(this.size, Math.max(from + WINDOW, end));
      const mapped = this.fm.map(this.fd, from, to - from);
      if (typeof mapped === 'number') return undefined;
      [this.window, this.from, this.to] = [mapped, from, to];
    }
    return Buffer.from(this.window, position - this.from, end - position);
  }

  /** Whether a read of any of this reader's windows faulted: the file shrank under it, or the disk failed a page. */
  get poisoned(): boolean {
    return this.faulted || (this.window !== undefined && this.fm.poisoned(this.window));
  }

  /** Unmaps the window (views of it become empty); the reader may map again. */
  release(): void {
    if (this.window) {
      // The mark goes with the mapping: read it first.
      this.faulted ||= this.fm.poisoned(this.window);
      this.fm.unmap(this.window);
    }
    this.window = undefined;
  }
}
