/**
 * The record of a staged upload (format v2, see staged-upload.ts): which object holds its sealed
 * chunks, how many there are, where they end, and the tail — the plaintext after the last whole
 * chunk, which only the end of the upload can seal (the final chunk is flagged as such).
 *
 *    0  magic "BERTHSTG"                  8
 *    8  version = 1                       1
 *    9  reserved, zero                    3
 *   12  generation of the chunk object    4   u32be; 0 is the upload id itself
 *   16  sequence number                   8   u64be; the newer of the two slots wins
 *   24  sealed chunks                     8   u64be
 *   32  end                               8   u64be; stored bytes of the chunk object they fill
 *   40  tail length                       4   u32be, at most one chunk
 *   44  reserved, zero                    4
 *   48  the chunk object's header        96   chunk-format.ts: chunk size, key id, wrapped data key
 *  144  nonce                            12   random per write
 *  156  tail: AES-256-GCM ciphertext, then its 16-byte tag
 *
 * The tail is sealed under a key derived from the upload's data key (HKDF, so its random nonces
 * never meet the chunks' counter nonces), with bytes 0..155 and the upload id as AAD: a record
 * cannot be edited, moved to another upload, or spliced from two. The clear fields let statUpload
 * answer without a key. A record is rewritten whole, alternating between two slots, so a crash
 * while one is written leaves the other, older one intact.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { release } from '../../core/fresh-pieces.js';
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE, isSealed, parseHeader, type BlobHeader } from './chunk-format.js';

export const RECORD_MAGIC = Buffer.from('BERTHSTG', 'latin1');
const VERSION = 1;
const HEADER_AT = 48;
const NONCE_AT = HEADER_AT + HEADER_SIZE;
export const RECORD_FIXED_SIZE = NONCE_AT + 12;
const TAIL_INFO = 'berth staged tail v1';

export interface StagedRecord {
  generation: number;
  seq: number;
  /** Whole chunks sealed (none of them final). */
  chunks: number;
  /** Stored bytes of the chunk object that the header and those chunks fill. */
  end: number;
  tailLength: number;
  header: BlobHeader;
  /** The record as stored. */
  raw: Buffer;
}

/**
 * An upload id of its own for one of the upload's side objects (a record slot, a chunk object
 * after a rebase), derived so that any node finds it from the upload id alone.
 */
export function sideId(uploadId: string, label: string): string {
  const h = createHash('sha256').update(`berth staged v2\0${uploadId}\0${label}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const slotId = (uploadId: string, slot: 0 | 1): string => sideId(uploadId, `record.${slot}`);
export const chunkObjectId = (uploadId: string, generation: number): string => (generation === 0 ? uploadId : sideId(uploadId, `chunks.${generation}`));

function tailKey(dataKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), TAIL_INFO, 32));
}

function aad(raw: Buffer, uploadId: string): Buffer {
  return Buffer.concat([raw.subarray(0, NONCE_AT + 12), Buffer.from(uploadId, 'latin1')]);
}

export function encodeRecord(
  uploadId: string,
  r: { generation: number; seq: number; chunks: number; end: number; header: Buffer },
  dataKey: Buffer,
  tail: Buffer,
): Buffer {
  const raw = Buffer.alloc(RECORD_FIXED_SIZE + tail.length + TAG_SIZE);
  RECORD_MAGIC.copy(raw, 0);
  raw[8] = VERSION;
  raw.writeUInt32BE(r.generation, 12);
  raw.writeBigUInt64BE(BigInt(r.seq), 16);
  raw.writeBigUInt64BE(BigInt(r.chunks), 24);
  raw.writeBigUInt64BE(BigInt(r.end), 32);
  raw.writeUInt32BE(tail.length, 40);
  r.header.copy(raw, HEADER_AT);
  randomBytes(12).copy(raw, NONCE_AT);
  const c = createCipheriv('aes-256-gcm', tailKey(dataKey), raw.subarray(NONCE_AT, NONCE_AT + 12), { authTagLength: TAG_SIZE });
  c.setAAD(aad(raw, uploadId));
  const sealed = c.update(tail);
  sealed.copy(raw, RECORD_FIXED_SIZE);
  // Up to a chunk, dead once copied: freed now rather than by a GC (core/fresh-pieces.ts).
  release(sealed);
  c.final();
  c.getAuthTag().copy(raw, RECORD_FIXED_SIZE + tail.length);
  return raw;
}

/**
 * The record's clear fields, or undefined when `raw` is not a whole record (a slot never written,
 * or cut short by a crash while it was rewritten). Nothing is authenticated yet: see openTail.
 */
export function parseRecord(raw: Buffer, uploadId: string): StagedRecord | undefined {
  if (raw.length < RECORD_FIXED_SIZE + TAG_SIZE || !raw.subarray(0, RECORD_MAGIC.length).equals(RECORD_MAGIC)) return undefined;
  const tailLength = raw.readUInt32BE(40);
  if (raw.length !== RECORD_FIXED_SIZE + tailLength + TAG_SIZE) return undefined;
  const label = `staged upload ${uploadId}`;
  if (raw[8] !== VERSION) throw new BlobIntegrityError(`${label}: unknown record version ${raw[8]}`);
  const head = raw.subarray(HEADER_AT, NONCE_AT);
  if (!isSealed(head)) throw new BlobIntegrityError(`${label}: its record holds no chunk header`);
  const header = parseHeader(head, label);
  const r: StagedRecord = {
    generation: raw.readUInt32BE(12),
    seq: Number(raw.readBigUInt64BE(16)),
    chunks: Number(raw.readBigUInt64BE(24)),
    end: Number(raw.readBigUInt64BE(32)),
    tailLength,
    header,
    raw,
  };
  // A tail is empty only before the first chunk: the final chunk is never an empty one after full ones.
  if (
    !Number.isSafeInteger(r.seq) ||
    !Number.isSafeInteger(r.chunks) ||
    r.tailLength > header.chunkSize ||
    (r.chunks > 0 && r.tailLength === 0) ||
    r.end !== HEADER_SIZE + r.chunks * (header.chunkSize + TAG_SIZE)
  ) {
    throw new BlobIntegrityError(`${label}: its record is inconsistent`);
  }
  return r;
}

/** The tail's plaintext, once the record authenticates under the upload's data key. */
export function openTail(r: StagedRecord, uploadId: string, dataKey: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', tailKey(dataKey), r.raw.subarray(NONCE_AT, NONCE_AT + 12), { authTagLength: TAG_SIZE });
  d.setAAD(aad(r.raw, uploadId));
  d.setAuthTag(r.raw.subarray(RECORD_FIXED_SIZE + r.tailLength));
  const tail = d.update(r.raw.subarray(RECORD_FIXED_SIZE, RECORD_FIXED_SIZE + r.tailLength));
  try {
    d.final();
  } catch {
    throw new BlobIntegrityError(`staged upload ${uploadId}: its record failed authentication (tampered with, or spliced)`);
  }
  return tail;
}
