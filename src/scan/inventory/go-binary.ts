/**
 * Go build info from ELF binaries, read as the binary streams past (nothing is kept).
 * The linker writes a 32-byte header, "\xff Go buildinf:" + pointer size + flags, 16-byte
 * aligned near the start of the first writable segment (see Go's src/debug/buildinfo). With
 * flags bit 2 set (Go ≥ 1.18) the Go version and module info follow inline as varint-prefixed
 * strings; before that, the header holds two pointers to Go string headers elsewhere in the file.
 *
 * Bounds: only files with an exec bit, ELF magic and at most `maxBinaryBytes` are searched (the
 * whole file is scanned for the header, so large binaries are covered). The inline format needs
 * at most 1 MiB after the header. The pointer format needs random access, so the first
 * `binaryRetainBytes` of the file and 1 MiB after the header are retained while the file streams
 * by; Go < 1.18 binaries whose strings lie outside those windows are reported without modules.
 */
import type { Prober, ProbeSink } from '../layers/read-layers.js';
import type { ScanLimits } from '../layers/limits.js';
import { goPackages, parseModinfo, type GoBuildInfo } from './go-modinfo.js';
import type { Extractor, Package } from './types.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER = 32;
const AFTER_HEADER = 1024 * 1024;
const MAX_HITS = 256;
export const GO_PROBER_ID = 'go-buildinfo';

export function goBinaryProber(limits: ScanLimits): Prober {
  return {
    id: GO_PROBER_ID,
    match: (_path, e) => (e.mode & 0o111) !== 0 && e.size >= 64 && e.size <= limits.maxBinaryBytes,
    open: () => new GoBuildInfoSink(limits.binaryRetainBytes),
  };
}

interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
  writable: boolean;
}
/** Bytes seen at a file offset; `owner` is the candidate header a capture belongs to. */
interface Region {
  start: number;
  buf: Buffer;
  owner?: number;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export class GoBuildInfoSink implements ProbeSink {
  private pos = 0;
  private retained = 0;
  private regions: Region[] = [];
  private isElf?: boolean;
  private le = true;
  /** PT_LOAD segments; undefined until the program header table has streamed by. */
  private segments?: Segment[];
  private tail = Buffer.alloc(0);
  /** Magic hits not yet judged, in file order. */
  private candidates: number[] = [];
  private header?: number;
  private hits = 0;

  constructor(private readonly retainBytes: number) {}

  write(chunk: Buffer): boolean {
    const start = this.pos;
    this.pos += chunk.length;
    if (this.retained < this.retainBytes) {
      const n = Math.min(chunk.length, this.retainBytes - this.retained);
      this.regions.push({ start, buf: chunk.subarray(0, n) });
      this.retained += n;
    }
    for (const off of this.header !== undefined ? [this.header] : this.candidates) {
      const end = off + HEADER + AFTER_HEADER;
      if (off < start && start < end) this.regions.push({ start, buf: chunk.subarray(0, Math.min(chunk.length, end - start)), owner: off });
    }
    if (this.isElf === undefined) {
      const head = this.readAt(0, 64);
      if (!head) return true; // fewer than 64 bytes so far
      this.isElf = head.subarray(0, 4).equals(ELF_MAGIC);
      if (!this.isElf) return false;
      this.le = head[5] !== 2;
    }
    this.segments ??= this.programHeaders();
    if (this.header === undefined) {
      this.search(chunk, start);
      this.judgeCandidates(false);
    }
    return this.header === undefined || this.pos < this.header + HEADER + AFTER_HEADER;
  }

  end(): GoBuildInfo | undefined {
    if (!this.isElf) return undefined;
    if (this.header === undefined) this.judgeCandidates(true);
    if (this.header === undefined) return undefined;
    const h = this.readAt(this.header, HEADER)!;
    const ptrSize = h[14]!;
    const flags = h[15]!;
    let vers: Buffer | undefined;
    let mod: Buffer | undefined;
    if (flags & 2) {
      const after = this.readAt(this.header + HEADER, Math.min(AFTER_HEADER, this.pos - this.header - HEADER));
      const v = after && decodeString(after, 0);
      vers = v?.s;
      mod = v ? decodeString(after, v.next)?.s : undefined;
    } else {
      const le = (flags & 1) === 0;
      vers = this.readGoString(readPtr(h, 16, ptrSize, le), ptrSize, le);
      mod = this.readGoString(readPtr(h, 16 + ptrSize, ptrSize, le), ptrSize, le);
    }
    if (!vers || vers.length === 0) return undefined;
    return parseModinfo(vers.toString('utf8'), stripFraming(mod).toString('utf8'));
  }

  /** Records 16-aligned magic hits, including one straddling the previous chunk. */
  private search(chunk: Buffer, start: number): void {
    const edge = Buffer.concat([this.tail, chunk.subarray(0, MAGIC.length - 1)]);
    const edgeStart = start - this.tail.length;
    for (let i = edge.indexOf(MAGIC); i >= 0 && i < this.tail.length; i = edge.indexOf(MAGIC, i + 1)) {
      // The straddling bytes before `start` are only in `tail`: capture them with the hit.
      this.addCandidate(edgeStart + i, [
        { start: edgeStart + i, buf: Buffer.from(edge.subarray(i, this.tail.length)) },
        { start, buf: chunk.subarray(0, HEADER + AFTER_HEADER) },
      ]);
    }
    for (let i = chunk.indexOf(MAGIC); i >= 0; i = chunk.indexOf(MAGIC, i + 1)) {
      this.addCandidate(start + i, [{ start: start + i, buf: chunk.subarray(i, i + HEADER + AFTER_HEADER) }]);
    }
    // The bytes just before the next chunk, even when this chunk is shorter than the magic.
    const keep = MAGIC.length - 1;
    this.tail = Buffer.from(chunk.length >= keep ? chunk.subarray(chunk.length - keep) : Buffer.concat([this.tail, chunk]).subarray(-keep));
  }

  private addCandidate(offset: number, regions: Region[]): void {
    if (offset % 16 !== 0) return;
    // Real binaries hold a handful of hits; a file made of them is not worth the work.
    if (++this.hits > MAX_HITS) throw new Error('too many Go build info candidates');
    this.candidates.push(offset);
    for (const r of regions) this.regions.push({ ...r, owner: offset });
  }

  /**
   * A hit is the header when its size and flag bytes are sane and it lies in a writable
   * segment: the magic also occurs as a string constant in the rodata of programs that embed it.
   */
  private judgeCandidates(final: boolean): void {
    while (this.header === undefined && this.candidates.length > 0) {
      const off = this.candidates[0]!;
      const h = this.readAt(off, HEADER);
      if (!final && (!h || this.segments === undefined)) return; // judge once the bytes are here
      this.candidates.shift();
      const segs = this.segments ?? [];
      const ok =
        h !== undefined &&
        (h[14] === 4 || h[14] === 8) &&
        h[15]! <= 3 &&
        (segs.length === 0 || segs.some((s) => s.writable && off >= s.offset && off < s.offset + s.filesz));
      if (ok) this.header = off;
      else this.regions = this.regions.filter((r) => r.owner !== off);
    }
    if (this.header !== undefined) {
      this.regions = this.regions.filter((r) => r.owner === undefined || r.owner === this.header);
      this.candidates = [];
    }
  }

  private programHeaders(): Segment[] | undefined {
    const id = this.readAt(0, 64)!;
    const is64 = id[4] === 2;
    const le = this.le;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const phoff = is64 ? u64(id, 32) : u32(id, 28);
    const entSize = u16(id, is64 ? 54 : 42);
    const count = u16(id, is64 ? 56 : 44);
    if (entSize < (is64 ? 56 : 32) || count === 0) return [];
    const table = this.readAt(phoff, entSize * count);
    if (!table) return phoff + entSize * count > this.retainBytes ? [] : undefined;
    const segs: Segment[] = [];
    for (let i = 0; i < count; i++) {
      const o = i * entSize;
      if (u32(table, o) !== 1) continue; // PT_LOAD
      const flags = u32(table, is64 ? o + 4 : o + 24);
      const writable = (flags & 3) === 2; // PF_W without PF_X
      segs.push(
        is64
          ? { offset: u64(table, o + 8), vaddr: u64(table, o + 16), filesz: u64(table, o + 32), writable }
          : { offset: u32(table, o + 4), vaddr: u32(table, o + 8), filesz: u32(table, o + 16), writable },
      );
    }
    return segs;
  }

  private readGoString(addr: number, ptrSize: number, le: boolean): Buffer | undefined {
    const hdr = this.readVaddr(addr, 2 * ptrSize);
    if (!hdr) return undefined;
    const len = readPtr(hdr, ptrSize, ptrSize, le);
    if (len > AFTER_HEADER) return undefined;
    return this.readVaddr(readPtr(hdr, 0, ptrSize, le), len);
  }

  private readVaddr(addr: number, len: number): Buffer | undefined {
    const s = this.segments?.find((x) => addr >= x.vaddr && addr + len <= x.vaddr + x.filesz);
    return s ? this.readAt(s.offset + (addr - s.vaddr), len) : undefined;
  }

  /** Bytes at a file offset, if retained or captured regions cover all of them. */
  private readAt(off: number, len: number): Buffer | undefined {
    const out = Buffer.alloc(len);
    let covered = 0;
    // Regions overlap and arrive out of order; extend the covered prefix until done or stuck.
    for (let progress = true; progress && covered < len; ) {
      progress = false;
      for (const r of this.regions) {
        const at = off + covered;
        if (at >= r.start && at < r.start + r.buf.length) {
          const n = Math.min(r.start + r.buf.length - at, len - covered);
          r.buf.copy(out, covered, at - r.start, at - r.start + n);
          covered += n;
          progress = true;
          if (covered === len) break;
        }
      }
    }
    return covered === len ? out : undefined;
  }
}

function readPtr(b: Buffer, o: number, size: number, le: boolean): number {
  if (size === 4) return le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  return Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
}

/** A uvarint length, then that many bytes (Go's encoding/binary.Uvarint). */
function decodeString(b: Buffer, off: number): { s: Buffer; next: number } | undefined {
  let len = 0;
  let i = off;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= b.length || shift > 63) return undefined;
    len += (b[i]! & 0x7f) * 2 ** shift;
    if ((b[i]! & 0x80) === 0) break;
  }
  const start = i + 1;
  if (start + len > b.length) return undefined;
  return { s: b.subarray(start, start + len), next: start + len };
}

/** cmd/go wraps module info in 16-byte binary sentinels (modload.infoStart/infoEnd). */
function stripFraming(mod: Buffer | undefined): Buffer {
  return mod && mod.length >= 33 && mod[mod.length - 17] === 0x0a ? mod.subarray(16, mod.length - 16) : Buffer.alloc(0);
}

export const goExtractor: Extractor = {
  name: 'go',
  probers: (limits) => [goBinaryProber(limits)],
  extract({ view }) {
    const out: Package[] = [];
    for (const { path, value } of view.derived<GoBuildInfo>(GO_PROBER_ID)) out.push(...goPackages(value, path));
    return out;
  },
};
