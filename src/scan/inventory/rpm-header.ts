/**
 * RPM header blobs, as stored in the rpmdb's Packages table: the header without its 8-byte
 * magic, i.e. index count and data length (big-endian int32), the index entries (tag, type,
 * offset, count), then the data store. Format: rpm's lib/header.c (headerImport) and the
 * "RPM file format" document. Only the few tags needed to name a package are read.
 */

export const TAG = { NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, ARCH: 1022, SOURCERPM: 1044 } as const;
const TYPE = { INT32: 4, STRING: 6, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
const MAX_INDEX = 100_000;

export interface RpmHeader {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  sourceRpm?: string;
}

export class RpmHeaderError extends Error {}

export function parseRpmHeader(blob: Uint8Array): RpmHeader {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 8) throw new RpmHeaderError('rpm header too short');
  const il = b.readUInt32BE(0);
  const dl = b.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > MAX_INDEX || dataStart + dl > b.length) throw new RpmHeaderError('rpm header sizes out of range');
  const data = b.subarray(dataStart, dataStart + dl);
  const strings = new Map<number, string>();
  const ints = new Map<number, number>();
  for (let i = 0; i < il; i++) {
    const o = 8 + i * 16;
    const tag = b.readUInt32BE(o);
    const type = b.readUInt32BE(o + 4);
    const offset = b.readInt32BE(o + 8);
    const count = b.readUInt32BE(o + 12);
    if (offset < 0 || offset >= data.length || count === 0) continue;
    if (type === TYPE.STRING || type === TYPE.STRING_ARRAY || type === TYPE.I18NSTRING) {
      const end = data.indexOf(0, offset);
      if (end < 0) throw new RpmHeaderError('unterminated string in rpm header');
      strings.set(tag, data.toString('utf8', offset, end));
    } else if (type === TYPE.INT32 && offset + 4 <= data.length) {
      ints.set(tag, data.readInt32BE(offset));
    }
  }
  const name = strings.get(TAG.NAME);
  const version = strings.get(TAG.VERSION);
  const release = strings.get(TAG.RELEASE);
  if (!name || !version || release === undefined) throw new RpmHeaderError('rpm header lacks name, version or release');
  return { name, version, release, epoch: ints.get(TAG.EPOCH), arch: strings.get(TAG.ARCH), sourceRpm: strings.get(TAG.SOURCERPM) };
}

/** "bash-5.1.8-6.el9.src.rpm" → name "bash", version "5.1.8", release "6.el9". */
export function parseSourceRpm(file: string): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(file);
  return m ? { name: m[1]!, version: m[2]!, release: m[3]! } : undefined;
}
