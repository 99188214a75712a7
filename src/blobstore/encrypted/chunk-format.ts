/**
 * The at-rest format of a committed encrypted blob: a fixed header, then the plaintext sealed in
 * fixed-size AES-256-GCM chunks, so a Range read opens only the chunks it covers.
 *
 *   header, 96 bytes:
 *     0  magic "BERTHENC"          8     the wrapped data key is authenticated with bytes 0..31
 *     8  version = 1               1     as AAD, so a header cannot be spliced together from two
 *     9  log2(chunk size)          1     (another key id, another chunk size)
 *    10  reserved, zero            6
 *    16  wrapping key id          16
 *    32  wrap nonce               12
 *    44  wrapped data key         48     AES-256-GCM(wrapping key): 32 bytes + 16-byte tag
 *    92  reserved, zero            4
 *   body: chunk i = GCM(data key, nonce 0000 || u64be(i), AAD u64be(i) || final) ciphertext || tag
 *
 * Every chunk is chunkSize plaintext bytes except the last, which may be shorter, and there is
 * always at least one (an empty blob has one empty final chunk), so cutting a blob back to its
 * header, dropping or appending a chunk, or reordering chunks all fail authentication. The data
 * key is random per blob, which is what makes counter nonces safe: no (key, nonce) pair repeats.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { ByteRange } from '../blob-store.js';
import type { WrappingKey } from './wrapping-keys.js';

export const MAGIC = Buffer.from('BERTHENC', 'latin1');
export const HEADER_SIZE = 96;
export const TAG_SIZE = 16;
export const DATA_KEY_SIZE = 32;
/**
 * 64 KiB for new blobs (256 KiB from session 4 to 14; both read, the header says which). A chunk
 * is sealed only once a byte after it has come, so each streaming upload holds up to one chunk
 * of plaintext on its byte thread: a crowd of uploads filling theirs in step held 200 × 256 KiB
 * (notes/2026-12-05-s15-chunk.md). The set-ups it costs are cheap since the cipher is keyed once
 * per blob (native-seal.ts, native-gcm.ts): ≈1 µs a chunk.
 */
export const DEFAULT_CHUNK_SIZE = 1 << 16;
const VERSION = 1;
/** Offsets in the header: the end of the wrap's AAD, the wrap nonce, the wrapped key, the tail. */
const [WRAP_AAD_END, NONCE_AT, WRAPPED_AT, RESERVED_AT] = [32, 32, 44, 92];
/** 256 B to 16 MiB: a reader holds one chunk in memory, a writer one plus a piece. */
const MIN_LOG2 = 8;
const MAX_LOG2 = 24;

/** Stored bytes failed authentication or are not a well-formed sealed blob. */
export class BlobIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobIntegrityError';
  }
}

export interface BlobHeader {
  chunkSize: number;
  keyId: Buffer;
  /** The 96 header bytes as stored. */
  raw: Buffer;
}

/** log2 of a supported chunk size; throws RangeError for anything else. */
export function chunkSizeLog2(chunkSize: number): number {
  const log2 = Math.log2(chunkSize);
  if (!Number.isInteger(log2) || log2 < MIN_LOG2 || log2 > MAX_LOG2) {
    throw new RangeError(`chunk size must be a power of two from 2^${MIN_LOG2} to 2^${MAX_LOG2}, got ${chunkSize}`);
  }
  return log2;
}

/** Whether stored bytes begin like a sealed blob (anything else is a legacy plaintext blob). */
export function isSealed(head: Buffer): boolean {
  return head.length >= HEADER_SIZE && head.subarray(0, MAGIC.length).equals(MAGIC);
}

/** A new header carrying `dataKey` wrapped under `wrappingKey`. */
export function sealHeader(opts: { wrappingKey: WrappingKey; dataKey: Buffer; chunkSize: number }): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(h, 0);
  h[8] = VERSION;
  h[9] = chunkSizeLog2(opts.chunkSize);
  opts.wrappingKey.id.copy(h, 16, 0, 16);
  const nonce = randomBytes(12);
  nonce.copy(h, NONCE_AT);
  const c = createCipheriv('aes-256-gcm', opts.wrappingKey.key, nonce, { authTagLength: TAG_SIZE });
  c.setAAD(h.subarray(0, WRAP_AAD_END));
  Buffer.concat([c.update(opts.dataKey), c.final(), c.getAuthTag()]).copy(h, WRAPPED_AT);
  return h;
}

/** Checks the fixed fields of a header; `label` (a digest) names the blob in errors. */
export function parseHeader(raw: Buffer, label: string): BlobHeader {
  if (!isSealed(raw)) throw new BlobIntegrityError(`blob ${label}: not a sealed blob header`);
  const h = raw.subarray(0, HEADER_SIZE);
  if (h[8] !== VERSION) throw new BlobIntegrityError(`blob ${label}: unknown format version ${h[8]}`);
  const log2 = h[9]!;
  if (log2 < MIN_LOG2 || log2 > MAX_LOG2) throw new BlobIntegrityError(`blob ${label}: bad chunk size 2^${log2}`);
  // The reserved bytes are outside the wrap's AAD; insisting on zeros keeps them meaningless.
  if (h.subarray(10, 16).some((b) => b !== 0) || h.subarray(RESERVED_AT).some((b) => b !== 0)) {
    throw new BlobIntegrityError(`blob ${label}: reserved header bytes are not zero`);
  }
  return { chunkSize: 2 ** log2, keyId: Buffer.from(h.subarray(16, 32)), raw: Buffer.from(h) };
}

/**
 * Each wrapping key's KeyObject, made once per key's bytes: given raw bytes, every decipher builds
 * a key object of its own. Measured (session 13, Node 24, one core): unwrapping a data key took
 * 50-90 µs from raw bytes, 5-19 µs with a KeyObject — most of a small blob GET's cipher work.
 */
const wrapKeyObjects = new WeakMap<Buffer, KeyObject>();

function wrapKeyObject(k: WrappingKey): KeyObject {
  if (k.keyObject) return k.keyObject;
  let o = wrapKeyObjects.get(k.key);
  if (!o) {
    o = createSecretKey(k.key);
    wrapKeyObjects.set(k.key, o);
  }
  return o;
}

/** The blob's data key. Fails with BlobIntegrityError for a wrong key or a tampered header. */
export function unwrapDataKey(header: BlobHeader, wrappingKey: WrappingKey, label: string): Buffer {
  if (!wrappingKey.id.equals(header.keyId)) throw new BlobIntegrityError(`blob ${label}: sealed under another wrapping key`);
  const h = header.raw;
  const d = createDecipheriv('aes-256-gcm', wrapKeyObject(wrappingKey), h.subarray(NONCE_AT, WRAPPED_AT), { authTagLength: TAG_SIZE });
  d.setAAD(h.subarray(0, WRAP_AAD_END));
  d.setAuthTag(h.subarray(WRAPPED_AT + DATA_KEY_SIZE, RESERVED_AT));
  const key = d.update(h.subarray(WRAPPED_AT, WRAPPED_AT + DATA_KEY_SIZE));
  try {
    d.final();
  } catch {
    throw new BlobIntegrityError(`blob ${label}: its data key failed authentication (tampered header or wrong key)`);
  }
  return key;
}

export function ciphertextSize(plaintextSize: number, chunkSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextSize / chunkSize));
  return HEADER_SIZE + plaintextSize + chunks * TAG_SIZE;
}

/** The inverse of ciphertextSize; a size no plaintext seals to is a BlobIntegrityError. */
export function plaintextSize(ciphertextSize: number, chunkSize: number, label = 'blob'): number {
  const body = ciphertextSize - HEADER_SIZE;
  const sealed = chunkSize + TAG_SIZE;
  const whole = Math.floor(body / sealed);
  const rest = body % sealed;
  // A final chunk shorter than its tag, or an empty final chunk after full ones, is never written.
  if (body < TAG_SIZE || (rest > 0 && rest < TAG_SIZE) || (rest === TAG_SIZE && whole > 0)) {
    throw new BlobIntegrityError(`${label}: ${ciphertextSize} bytes is not the size of a sealed blob with ${chunkSize}-byte chunks`);
  }
  return rest === 0 ? whole * chunkSize : whole * chunkSize + rest - TAG_SIZE;
}

/** The chunks a read needs, where they are stored, and which plaintext bytes of them to emit. */
export interface ChunkRun {
  firstChunk: number;
  lastChunk: number;
  /** The blob's last chunk, sealed with the final flag. */
  finalChunk: number;
  /** Inclusive offsets of the run in the stored object (header included). */
  cipherStart: number;
  cipherEnd: number;
  /** Plaintext offsets to emit, [start, end) within the whole blob. */
  start: number;
  end: number;
}

/**
 * Maps a plaintext range (inclusive, already validated) to the chunk run covering it, with the
 * end clamped to the blob as a file read would. Undefined when the range starts past the end.
 * A whole read of an empty blob still covers its one empty chunk, which proves it is not cut short.
 */
export function cipherRangeFor(range: ByteRange | undefined, size: number, chunkSize: number): ChunkRun | undefined {
  const start = range?.start ?? 0;
  const end = range ? Math.min(range.end + 1, size) : size;
  if (range && start >= size) return undefined;
  const finalChunk = size === 0 ? 0 : Math.ceil(size / chunkSize) - 1;
  const firstChunk = Math.floor(start / chunkSize);
  const lastChunk = size === 0 ? 0 : Math.floor((end - 1) / chunkSize);
  const sealed = chunkSize + TAG_SIZE;
  const lastLength = lastChunk < finalChunk ? chunkSize : size - finalChunk * chunkSize;
  return {
    firstChunk,
    lastChunk,
    finalChunk,
    cipherStart: HEADER_SIZE + firstChunk * sealed,
    cipherEnd: HEADER_SIZE + lastChunk * sealed + lastLength + TAG_SIZE - 1,
    start,
    end,
  };
}

/**
 * The data key as a KeyObject, made once per blob: given raw bytes, every createCipheriv builds
 * a key object of its own, which on Node 24 costs ~100 µs — more than sealing a 64 KiB chunk.
 */
export function cipherKey(dataKey: Buffer): KeyObject {
  return createSecretKey(dataKey);
}

export function chunkNonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

export function chunkAad(index: number, final: boolean): Buffer {
  const a = Buffer.alloc(9);
  a.writeBigUInt64BE(BigInt(index));
  a[8] = final ? 1 : 0;
  return a;
}

/** Bytes queued as the pieces they arrived in, taken back as views of them. */
class ByteQueue {
  private pieces: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.pieces.push(b);
    this.length += b.length;
  }

  /** The next `n` bytes as views of the pieces they arrived in: nothing is copied. */
  takePieces(n: number): Buffer[] {
    this.length -= n;
    const out: Buffer[] = [];
    while (n > 0) {
      const p = this.pieces[0]!;
      if (p.length <= n) {
        out.push(p);
        this.pieces.shift();
        n -= p.length;
      } else {
        out.push(p.subarray(0, n));
        this.pieces[0] = p.subarray(n);
        n = 0;
      }
    }
    return out;
  }
}

/**
 * Plaintext in, header + sealed chunks out, as plain calls: the state of one sealing, which the
 * encrypted store keeps between requests while an upload is sealed as it arrives. Holds back up
 * to one chunk, since only the end says which chunk is final; it keeps views of the buffers it
 * was given until compact() copies them.
 */
export class ChunkSealer {
  private readonly queue = new ByteQueue();
  private readonly key: KeyObject;
  private index: number;
  private headerSent: boolean;

  /**
   * `header` is emitted before the first chunk; without one, sealing continues a blob whose
   * header and first `index` chunks are already stored (a staged upload resumed).
   */
  constructor(private readonly opts: { dataKey: Buffer; header?: Buffer; chunkSize: number; index?: number }) {
    this.key = cipherKey(opts.dataKey);
    this.index = opts.index ?? 0;
    this.headerSent = opts.header === undefined;
  }

  /** Sealed bytes ready to store (none until more than one chunk is held). */
  update(plain: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.queue.push(plain);
    while (this.queue.length > this.opts.chunkSize) this.seal(out, this.queue.takePieces(this.opts.chunkSize), false);
    return out;
  }

  /** The rest, sealed as the final chunk (an empty blob's one empty chunk included). */
  final(): Buffer[] {
    const out: Buffer[] = [];
    this.seal(out, this.queue.takePieces(this.queue.length), true);
    return out;
  }

  /** Copies what is held back into a buffer of its own, letting go of the (larger) buffers it came in. */
  compact(): void {
    if (this.queue.length > 0) this.queue.push(Buffer.concat(this.queue.takePieces(this.queue.length)));
  }

  /** Seals one chunk from the pieces it arrived in (GCM enciphers in pieces: no copy to join them). */
  private seal(out: Buffer[], plain: Buffer[], final: boolean): void {
    if (!this.headerSent) {
      out.push(this.opts.header!);
      this.headerSent = true;
    }
    const c = createCipheriv('aes-256-gcm', this.key, chunkNonce(this.index), { authTagLength: TAG_SIZE });
    c.setAAD(chunkAad(this.index, final));
    for (const p of plain) out.push(c.update(p));
    c.final();
    out.push(c.getAuthTag());
    this.index++;
  }
}

/** ChunkSealer as a stream. */
export function createSealTransform(opts: { dataKey: Buffer; header: Buffer; chunkSize: number }): Transform {
  const sealer = new ChunkSealer(opts);
  return new Transform({
    transform(this: Transform, chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      for (const b of sealer.update(chunk)) this.push(b);
      cb();
    },
    flush(this: Transform, cb: TransformCallback) {
      for (const b of sealer.final()) this.push(b);
      cb();
    },
  });
}
