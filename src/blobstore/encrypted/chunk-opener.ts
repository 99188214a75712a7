/**
 * Opening the sealed chunks of chunk-format.ts: ChunkOpener as plain calls (sealed-reader.ts
 * feeds it one reused buffer), OpenTransform as a stream over any Readable of stored bytes.
 */
import { createDecipheriv, type DecipherGCM, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE, chunkAad, chunkNonce, cipherKey, type ChunkRun } from './chunk-format.js';
import type { NativeGcm, NativeOpener } from './native-gcm.js';

/** A chunk being opened: by Node's Decipher (`d`), or, without one, by the native opener. */
type Opening = { d: DecipherGCM | undefined; cipherLeft: number; plain: Buffer[]; plainAt: number };

/**
 * Plaintext written as it is deciphered, into memory only its owner can let out: `unverified`
 * gets a chunk's plaintext before its tag is checked, and only `verified` makes it the blob's.
 * The owner copies each piece once, where it belongs, and no chunk's pieces are held until its
 * tag. An owner that cannot keep unverified bytes from a reader passes a plain `emit` instead.
 */
export interface DirectOut {
  unverified(plain: Buffer): void;
  verified(): void;
  /**
   * The owner's memory itself, for an opener with the native cipher, which deciphers there
   * instead of calling `unverified`: `claim(n)` counts the next n bytes as unverified and says
   * where in `bytes` they go.
   */
  readonly inPlace?: { bytes: Uint8Array; claim(n: number): number };
}

/** The native cipher and where it writes (an opener has both, or uses Node's crypto). */
type InPlace = { gcm: NativeGcm; opener: NativeOpener; out: NonNullable<DirectOut['inPlace']> };

/**
 * Sealed chunks in (exactly the bytes of `run`, in pieces of any size), plaintext of the run's
 * range out through `emit`. A chunk's plaintext is emitted only after its tag checks. Each piece
 * is deciphered where it lies (GCM deciphers in pieces; only the tag is checked at the end), so
 * a chunk that spans two reads is never copied together first, and nothing keeps a reference
 * to a piece once consume() returns: a reader may refill the same buffer.
 */
export class ChunkOpener {
  /** Made on first use: an opener with the native cipher never needs it. */
  private keyObject: KeyObject | undefined;
  private readonly inPlace: InPlace | undefined;
  private index: number;
  private current: Opening | undefined;
  private readonly tag = Buffer.alloc(TAG_SIZE);
  private tagHave = 0;

  /**
   * With `native` (native-gcm.ts) and an `emit` that offers its memory (DirectOut.inPlace), the
   * chunks are deciphered straight into it; otherwise with Node's crypto. Same bytes either way.
   * `avx2` false: the native opener keeps to OpenSSL's GCM where it could run its own (native-gcm.ts).
   */
  constructor(
    private readonly opts: { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string; native?: NativeGcm | undefined; avx2?: boolean },
    private readonly emit: ((plain: Buffer) => void) | DirectOut,
  ) {
    this.index = opts.run.firstChunk;
    const out = typeof emit === 'function' ? undefined : emit.inPlace;
    this.inPlace = opts.native && out ? { gcm: opts.native, opener: opts.native.create(opts.dataKey, opts.avx2 ?? true), out } : undefined;
  }

  /** Whether chunks are deciphered by the native cipher straight into the owner's memory. */
  get native(): boolean {
    return this.inPlace !== undefined;
  }

  /** Whether every chunk of the run has been opened. */
  get done(): boolean {
    return this.index > this.opts.run.lastChunk;
  }

  consume(piece: Buffer): void {
    let at = 0;
    while (at < piece.length) {
      if (this.done) throw this.fail(`more bytes than chunk ${this.index - 1} ends with`);
      const c = (this.current ??= this.begin());
      if (c.cipherLeft > 0) {
        const n = Math.min(c.cipherLeft, piece.length - at);
        const cipher = n === piece.length ? piece : piece.subarray(at, at + n);
        if (!c.d) this.openInPlace(this.inPlace!, c, cipher);
        else {
          const plain = c.d.update(cipher);
          if (typeof this.emit !== 'function') this.direct(this.emit, c, plain);
          else if (plain.length > 0) c.plain.push(plain);
        }
        c.cipherLeft -= n;
        at += n;
        continue;
      }
      const n = Math.min(TAG_SIZE - this.tagHave, piece.length - at);
      piece.copy(this.tag, this.tagHave, at, at + n);
      this.tagHave += n;
      at += n;
      if (this.tagHave === TAG_SIZE) this.finish(c);
    }
  }

  /** Throws unless the bytes consumed were the whole run. */
  end(): void {
    if (!this.done) throw this.fail(`cut short before chunk ${this.index}`);
  }

  /** Chunk `index`'s stored length: known from the run, the last one's from where the run ends. */
  storedLength(i: number): number {
    const { chunkSize, run } = this.opts;
    const sealed = chunkSize + TAG_SIZE;
    return i < run.lastChunk ? sealed : run.cipherEnd + 1 - (HEADER_SIZE + i * sealed);
  }

  /** Skips to chunk `i` (past the run's end: done); only between chunks. */
  skipTo(i: number): void {
    if (this.current) throw new Error('a chunk opener skips only between chunks');
    this.index = Math.min(Math.max(i, this.index), this.opts.run.lastChunk + 1);
  }

  /** The chunk being opened next. */
  get next(): number {
    return this.index;
  }

  private begin(): Opening {
    const i = this.index;
    const stored = this.storedLength(i);
    if (stored < TAG_SIZE || stored > this.opts.chunkSize + TAG_SIZE) throw this.fail(`chunk ${i} is shorter than its tag`);
    this.tagHave = 0;
    const final = i === this.opts.run.finalChunk;
    if (this.inPlace) {
      this.inPlace.gcm.begin(this.inPlace.opener, i, final);
      return { d: undefined, cipherLeft: stored - TAG_SIZE, plain: [], plainAt: i * this.opts.chunkSize };
    }
    this.keyObject ??= cipherKey(this.opts.dataKey);
    const d = createDecipheriv('aes-256-gcm', this.keyObject, chunkNonce(i), { authTagLength: TAG_SIZE });
    d.setAAD(chunkAad(i, final));
    return { d, cipherLeft: stored - TAG_SIZE, plain: [], plainAt: i * this.opts.chunkSize };
  }

  private finish(c: Opening): void {
    const i = this.index;
    if (c.d) {
      c.d.setAuthTag(this.tag);
      try {
        c.d.final();
      } catch {
        throw this.fail(`chunk ${i} failed authentication`);
      }
    } else if (!this.inPlace!.gcm.finish(this.inPlace!.opener, this.tag)) throw this.fail(`chunk ${i} failed authentication`);
    this.current = undefined;
    this.index++;
    if (typeof this.emit !== 'function') {
      this.emit.verified();
      return;
    }
    for (const p of c.plain) {
      const slice = this.inRun(c, p);
      if (slice.length > 0) this.emit(slice);
      c.plainAt += p.length;
    }
  }

  /**
   * Deciphers `cipher` (plaintext at c.plainAt of the blob) into the owner's memory, the part
   * inside the run's range only: GCM must see every byte of a chunk, so the bytes before and
   * after the range are deciphered and dropped.
   */
  private openInPlace(p: InPlace, c: Opening, cipher: Buffer): void {
    const { start, end } = this.opts.run;
    const n = cipher.length;
    const from = Math.min(n, Math.max(0, start - c.plainAt));
    const to = Math.max(from, Math.min(n, end - c.plainAt));
    if (from > 0) p.gcm.update(p.opener, cipher.subarray(0, from));
    if (to > from) p.gcm.update(p.opener, from === 0 && to === n ? cipher : cipher.subarray(from, to), p.out.bytes, p.out.claim(to - from));
    if (to < n) p.gcm.update(p.opener, cipher.subarray(to));
    c.plainAt += n;
  }

  private direct(out: DirectOut, c: Opening, plain: Buffer): void {
    const slice = this.inRun(c, plain);
    if (slice.length > 0) out.unverified(slice);
    c.plainAt += plain.length;
  }

  /** The part of `p` (plaintext at c.plainAt of the blob) inside the run's range. */
  private inRun(c: Opening, p: Buffer): Buffer {
    const { start, end } = this.opts.run;
    const at = c.plainAt;
    return p.subarray(Math.max(0, start - at), Math.max(0, Math.min(p.length, end - at)));
  }

  fail(what: string): BlobIntegrityError {
    return new BlobIntegrityError(`blob ${this.opts.label}: ${what}`);
  }
}

/**
 * ChunkOpener as a stream. `verified` settles once the first chunk has been opened (or the
 * stream failed first), so a reader can fail before it answers a client.
 */
export class OpenTransform extends Transform {
  readonly verified: Promise<void>;
  private settle!: (e?: Error | null) => void;
  private readonly opener: ChunkOpener;

  constructor(opts: { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string }) {
    super();
    // Every chunk of a run has plaintext in its range but an empty blob's (settled at the end).
    this.opener = new ChunkOpener(opts, (plain) => {
      this.settle();
      this.push(plain);
    });
    this.verified = new Promise<void>((resolve, reject) => {
      this.settle = (e) => (e ? reject(e) : resolve());
    });
    this.verified.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.opener.consume(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.opener.end();
      this.settle();
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.settle(err ?? this.opener.fail('read ended before its first chunk'));
    cb(err);
  }
}
