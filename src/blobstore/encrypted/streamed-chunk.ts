/**
 * One append's chunk sealed as its bytes come (seal-task.ts, on the path with the native sealer and
 * an fd): each piece is enciphered at once with the chunk's non-final nonce and AAD and written at
 * its place, and the append keeps the cipher context, not the plaintext. GCM's ciphertext does not
 * depend on the AAD (the "final" flag changes only the tag), so these are the bytes the stored
 * format has whether the chunk turns out to be the last or not; a chunk's tag is made once a byte
 * after it has come, as the held path does. Held this way, 200 uploads streaming hold 200 contexts
 * (~1 KB each, in OpenSSL's memory) instead of up to a chunk of plaintext each
 * (notes/2026-12-06-s21-rss.md §3: +92 KB per added upload on the byte threads).
 *
 * An append that ends inside a chunk (or exactly at its end, with no byte after it) hands back the
 * plaintext of that chunk as the tail, as the held path does, so the record and the commit do not
 * change: tail() reads the chunk's ciphertext back from the file and deciphers it (a transient
 * buffer, once per ending append). Those ciphertext bytes stay in the file past the whole chunks
 * until the record holds their plaintext; staged-upload.ts cuts them off only then (inStep in
 * staged-state.ts says why that order keeps every counter nonce to one plaintext).
 */
import type { Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { TAG_SIZE } from './chunk-format.js';
import type { NativeSeal, NativeSealer } from './native-seal.js';

export class StreamedChunk {
  /** Bytes of chunk `index` enciphered so far (a full chunk waits for a byte after it for its tag). */
  filled = 0;
  /** Whole chunks sealed, tags written. */
  sealed = 0;

  constructor(
    private readonly native: NativeSeal,
    private readonly sealer: NativeSealer,
    private readonly chunkSize: number,
    /** The chunk the next bytes belong to. */
    private index: number,
  ) {}

  /** Bytes feed() may write for `len` more bytes: the ciphertext and a tag per chunk they end. */
  room(len: number): number {
    return len + (Math.floor((this.filled + len) / this.chunkSize) + 1) * TAG_SIZE;
  }

  /**
   * Enciphers `bytes` into `out` from `at` on, with the tag of every chunk that fills and has a
   * byte after it (in `bytes`, or to come when `more`); returns where the output ends. `hash` is
   * fed each piece just before the cipher reads it (the same bytes, still in the cache).
   */
  feed(bytes: Uint8Array, more: boolean, out: Uint8Array, at: number, hash?: Hash): number {
    for (let from = 0; from < bytes.length; ) {
      if (this.filled === this.chunkSize) at = this.tag(out, at);
      if (this.filled === 0) this.native.begin(this.sealer, this.index, false);
      const n = Math.min(bytes.length - from, this.chunkSize - this.filled);
      const piece = bytes.subarray(from, from + n);
      hash?.update(piece);
      this.native.update(this.sealer, piece, out, at);
      at += n;
      from += n;
      this.filled += n;
    }
    if (more && this.filled === this.chunkSize) at = this.tag(out, at);
    return at;
  }

  /**
   * The plaintext of the chunk begun and not sealed: its ciphertext, the `filled` bytes before
   * `end` in `fd`, read back and deciphered (CTR: enciphering the ciphertext again from the
   * chunk's start). What is read back is checked first against the tag of what was enciphered
   * (the context's): bytes altered in the file since, here or by an earlier append whose tail
   * this one continued, would otherwise become the record's tail and the blob's, though the
   * running hash saw the true ones. `work`: room for `filled` bytes, overwritten. The context is
   * spent after it: the append is over.
   */
  tail(fd: number, end: number, work: Uint8Array): Uint8Array<ArrayBuffer> {
    const tail = new Uint8Array(this.filled);
    if (tail.length === 0) return tail;
    const tags = new Uint8Array(2 * TAG_SIZE);
    this.native.finish(this.sealer, tags, 0);
    for (let got = 0; got < tail.length; ) {
      const n = readSync(fd, tail, got, tail.length - got, end - tail.length + got);
      if (n === 0) throw Object.assign(new Error('the staged chunk ended before its tail was read back'), { code: 'EIO' });
      got += n;
    }
    this.native.begin(this.sealer, this.index, false);
    this.native.update(this.sealer, tail, tail, 0);
    // Enciphered again, the plaintext gives back what was read, and the tag over that.
    this.native.begin(this.sealer, this.index, false);
    this.native.update(this.sealer, tail, work, 0);
    this.native.finish(this.sealer, tags, TAG_SIZE);
    if (!Buffer.from(tags.buffer, 0, TAG_SIZE).equals(Buffer.from(tags.buffer, TAG_SIZE, TAG_SIZE))) {
      throw Object.assign(new Error('the staged tail read back is not what was written (altered on disk)'), { code: 'EBADMSG' });
    }
    return tail;
  }

  private tag(out: Uint8Array, at: number): number {
    this.native.finish(this.sealer, out, at);
    this.index++;
    this.sealed++;
    this.filled = 0;
    return at + TAG_SIZE;
  }
}
