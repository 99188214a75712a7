/**
 * A streaming tar reader: ustar, GNU long names/links (L/K) and PAX headers (x/g; path,
 * linkpath, size). Entries are handed to a callback one at a time with a body that can be read
 * as it streams; whatever the callback leaves unread is skipped. Nothing but one header (and a
 * bounded PAX/long-name payload) is ever buffered.
 * References: POSIX.1-2017 pax "ustar Interchange Format" and "pax Header Block"; GNU tar manual
 * "Basic Tar Format"; Go's archive/tar for the header-only types and base-256 numbers.
 */
import { ByteReader } from './byte-reader.js';
import { CorruptLayerError, ScanLimitError } from './errors.js';

const BLOCK = 512;

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** The path as written in the archive; callers normalize it. */
  readonly path: string;
  readonly type: TarEntryType;
  readonly size: number;
  readonly linkname: string;
  readonly mode: number;
}

export interface TarBody {
  /** The entry's bytes as they stream; stopping early is fine. */
  pieces(): AsyncGenerator<Buffer>;
}

export interface TarReadOptions {
  maxMetadataBytes: number;
  signal?: AbortSignal;
}

interface Overrides {
  path?: string;
  linkpath?: string;
  size?: number;
}

export async function readTar(chunks: AsyncIterable<Buffer>, opts: TarReadOptions, onEntry: (entry: TarEntry, body: TarBody) => Promise<void>): Promise<void> {
  const reader = new ByteReader(chunks[Symbol.asyncIterator]());
  let local: Overrides = {};
  for (;;) {
    opts.signal?.throwIfAborted();
    const at = reader.position;
    const h = await reader.readExact(BLOCK, 'a tar header');
    if (h === undefined) {
      // Only the end-of-archive marker says the archive is whole: a stream that simply stops on
      // a block boundary was cut there, and scanning it as complete would hide whatever came
      // after. An empty stream is an empty archive.
      if (at === 0) return;
      throw new CorruptLayerError(`layer truncated: the tar archive stops at byte ${at} without its end-of-archive marker`);
    }
    // The marker is two zero blocks; like Go's reader we accept a stream ending after the first
    // (nothing can be missing by then). What follows is not read here: see readOneLayer.
    if (isZeroBlock(h)) return;
    verifyChecksum(h, at);

    const flag = String.fromCharCode(h[156]!);
    let size = parseNumeric(h, 124, 12, at);
    const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > opts.maxMetadataBytes) throw new ScanLimitError('maxTarMetadataBytes', opts.maxMetadataBytes, 'tar metadata entry too large');
      const payload = size === 0 ? Buffer.alloc(0) : await reader.readExact(size, 'a tar metadata entry');
      if (payload === undefined) throw new CorruptLayerError('layer truncated after a tar metadata header');
      await reader.skip(pad(size), 'tar padding');
      if (flag === 'x') local = { ...local, ...parsePax(payload, at) };
      // Global headers are validated but not applied: a global `path` would rename every later
      // entry, which no layer writer intends; Go's reader does not apply them either.
      else if (flag === 'g') parsePax(payload, at);
      else if (flag === 'L') local.path = cString(payload);
      else local.linkpath = cString(payload);
      continue;
    }

    const merged = local;
    local = {};
    if (merged.size !== undefined) size = merged.size;
    const type = entryType(flag);
    // Header-only types carry no data whatever their size field says (as in Go's archive/tar).
    const dataSize = type === 'dir' || type === 'symlink' || type === 'hardlink' || isDevice(flag) ? 0 : size;
    const magic = h.toString('latin1', 257, 263);
    const prefix = magic === 'ustar\0' ? cString(h.subarray(345, 500)) : '';
    const name = cString(h.subarray(0, 100));
    const entry: TarEntry = {
      path: merged.path ?? (prefix ? `${prefix}/${name}` : name),
      type,
      size: dataSize,
      linkname: merged.linkpath ?? cString(h.subarray(157, 257)),
      mode: parseNumeric(h, 100, 8, at),
    };

    let consumed = 0;
    const body: TarBody = {
      async *pieces() {
        for await (const p of reader.pieces(dataSize - consumed, 'a tar entry')) {
          consumed += p.length;
          yield p;
        }
      },
    };
    await onEntry(entry, body);
    await reader.skip(dataSize - consumed + pad(dataSize), 'a tar entry');
  }
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'dir';
    default:
      return 'other';
  }
}

function isDevice(flag: string): boolean {
  return flag === '3' || flag === '4' || flag === '6';
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function verifyChecksum(h: Buffer, at: number): void {
  const stored = parseNumeric(h, 148, 8, at);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some historic tars summed signed chars; both are accepted, as GNU tar and Go do.
  if (stored !== unsigned && stored !== signed) throw new CorruptLayerError(`bad tar header checksum at byte ${at}`);
}

/** Octal text, or GNU base-256 when the high bit of the first byte is set. */
function parseNumeric(h: Buffer, off: number, len: number, at: number): number {
  const f = h.subarray(off, off + len);
  if (f[0]! & 0x80) {
    if (f[0]! & 0x40) throw new CorruptLayerError(`negative tar number at byte ${at + off}`);
    let v = f[0]! & 0x3f;
    for (let i = 1; i < f.length; i++) {
      v = v * 256 + f[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw new CorruptLayerError(`tar number too large at byte ${at + off}`);
    }
    return v;
  }
  const s = f.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new CorruptLayerError(`bad tar number ${JSON.stringify(s)} at byte ${at + off}`);
  return parseInt(s, 8);
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

/** PAX records are "<length> <key>=<value>\n", the length counting the whole record. */
function parsePax(b: Buffer, at: number): Overrides {
  const out: Overrides = {};
  let off = 0;
  while (off < b.length) {
    if (b[off] === 0) break; // some writers pad the payload with NULs
    const sp = b.indexOf(0x20, off);
    const len = sp < 0 ? NaN : Number(b.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= 0 || off + len > b.length || b[off + len - 1] !== 0x0a) {
      throw new CorruptLayerError(`bad PAX record in the header at byte ${at}`);
    }
    const rec = b.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq < 0) throw new CorruptLayerError(`bad PAX record in the header at byte ${at}`);
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'linkpath') out.linkpath = value;
    else if (key === 'size') {
      if (!/^\d+$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) throw new CorruptLayerError(`bad PAX size at byte ${at}`);
      out.size = Number(value);
    }
    off += len;
  }
  return out;
}
