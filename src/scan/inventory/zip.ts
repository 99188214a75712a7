/**
 * Just enough ZIP to read entries of a jar held in memory: the end of central directory record
 * (ZIP64 too), central directory entries, local headers, stored and deflated data. Offsets are
 * taken relative to where the archive really starts, so "executable" jars with a launcher
 * script prepended read fine. Format: PKWARE APPNOTE.TXT §4.3.
 */
import { inflateRawSync } from 'node:zlib';

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  /** Absolute offset of the local header in the buffer. */
  localOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_ENTRIES = 500_000;

export function readCentralDirectory(b: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (b.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError('no end of central directory record');
  let count = b.readUInt16LE(eocd + 10);
  let cdSize = b.readUInt32LE(eocd + 12);
  let cdOffset = b.readUInt32LE(eocd + 16);
  let cdEnd = eocd;
  if ((count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) && eocd >= 20 && b.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) {
    const at = Number(b.readBigUInt64LE(eocd - 12));
    const rec = findZip64Record(b, at, eocd - 20);
    count = Number(b.readBigUInt64LE(rec + 32));
    cdSize = Number(b.readBigUInt64LE(rec + 40));
    cdOffset = Number(b.readBigUInt64LE(rec + 48));
    cdEnd = rec;
  }
  // Bytes before the archive (a launcher script) shift every recorded offset by this much.
  const shift = cdEnd - cdSize - cdOffset;
  if (shift < 0 || count > MAX_ENTRIES) throw new ZipError('central directory out of range');
  const entries: ZipEntry[] = [];
  let p = cdOffset + shift;
  for (let i = 0; i < count; i++) {
    if (p + 46 > b.length || b.readUInt32LE(p) !== CENTRAL) throw new ZipError('bad central directory entry');
    const nameLen = b.readUInt16LE(p + 28);
    const extraLen = b.readUInt16LE(p + 30);
    const commentLen = b.readUInt16LE(p + 32);
    if (p + 46 + nameLen + extraLen + commentLen > b.length) throw new ZipError('central directory entry out of range');
    const e: ZipEntry = {
      name: b.toString('utf8', p + 46, p + 46 + nameLen),
      method: b.readUInt16LE(p + 10),
      compressedSize: b.readUInt32LE(p + 20),
      size: b.readUInt32LE(p + 24),
      localOffset: b.readUInt32LE(p + 42),
    };
    applyZip64Extra(e, b.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    e.localOffset += shift;
    entries.push(e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function findZip64Record(b: Buffer, recorded: number, locator: number): number {
  // The recorded offset is relative to the archive start; with a prefix, search back for it.
  if (recorded + 56 <= b.length && b.readUInt32LE(recorded) === ZIP64_EOCD) return recorded;
  const at = locator - 56;
  if (at >= 0 && b.readUInt32LE(at) === ZIP64_EOCD) return at;
  throw new ZipError('ZIP64 end of central directory record not found');
}

/** ZIP64 extra field (id 1): the 64-bit values appear only for fields saturated at 0xffffffff. */
function applyZip64Extra(e: ZipEntry, extra: Buffer): void {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(i);
    const len = extra.readUInt16LE(i + 2);
    if (id === 1) {
      let q = i + 4;
      const take = (): number | undefined => (q + 8 <= i + 4 + len && q + 8 <= extra.length ? Number(extra.readBigUInt64LE((q += 8) - 8)) : undefined);
      if (e.size === 0xffffffff) e.size = take() ?? e.size;
      if (e.compressedSize === 0xffffffff) e.compressedSize = take() ?? e.compressedSize;
      if (e.localOffset === 0xffffffff) e.localOffset = take() ?? e.localOffset;
      return;
    }
    i += 4 + len;
  }
}

/** An entry's bytes, refusing to inflate past maxBytes (zip bombs inside jars). */
export function readEntry(b: Buffer, e: ZipEntry, maxBytes: number): Buffer {
  if (e.size > maxBytes) throw new ZipError('zip entry too large');
  const p = e.localOffset;
  if (p + 30 > b.length || b.readUInt32LE(p) !== LOCAL) throw new ZipError('bad local header');
  const start = p + 30 + b.readUInt16LE(p + 26) + b.readUInt16LE(p + 28);
  const end = start + e.compressedSize;
  if (end > b.length) throw new ZipError('zip entry out of range');
  const raw = b.subarray(start, end);
  if (e.method === 0) return raw;
  if (e.method !== 8) throw new ZipError(`unsupported zip method ${e.method}`);
  try {
    return inflateRawSync(raw, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (err) {
    throw new ZipError(`zip entry does not inflate: ${(err as Error).message}`);
  }
}
