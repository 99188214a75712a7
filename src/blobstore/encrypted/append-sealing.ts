/**
 * The two ways an append of a staged upload (staged-upload.ts) seals its plaintext into whole
 * non-final chunks: on a byte thread (seal-pool.ts; on fs the worker also writes them), or inline
 * on the calling thread when no seal pool is given. Both report the same thing — how many chunks
 * were stored, which plaintext is left over (the new tail) and whether the source failed — and
 * leave the record to their caller. A failing source ends sealing at a chunk boundary (what was
 * stored is then recorded before the failure is reported); a failing store or sealer rejects.
 */
import { PassThrough } from 'node:stream';
import { release, yieldsFreshPieces } from '../../core/fresh-pieces.js';
import type { BlobWriter, LocalAppend, PieceMeter, ThreadHash } from '../blob-store.js';
import { ChunkSealer } from './chunk-format.js';
import { Halt, drive } from './piece-drive.js';
import { nativeSeal } from './native-seal.js';
import type { SealEnd } from './seal-append.js';
import type { SealPool, SealStart } from './seal-pool.js';
import { Held, drained } from './stream-helpers.js';
import type { Readable } from 'node:stream';

/** Sealed bytes queued for the inner store before the append waits for it. */
const OUT_BUFFER = 1024 * 1024;
const noop = (): void => undefined;
const NOT_STREAMED = 'an upload whose tail is stored enciphered is continued only by an append sealed as bytes come';

export interface SealFrom {
  dataKey: Buffer;
  chunkSize: number;
  /** Chunks already stored: the index of the first one sealed now. */
  index: number;
  /** The staged plaintext after them (≤ one chunk). */
  tail: Buffer;
  /**
   * The tail's ciphertext follows the chunks in the chunk object (an append sealed as bytes came
   * left it): only such an append continues from there (see streams()).
   */
  tailStored?: boolean;
}

/**
 * Whether an append through `w` is sealed as bytes come (streamed-chunk.ts): on the byte threads,
 * into a local file, with the native sealer. Only then may an upload whose tail's ciphertext is
 * stored be continued as it is; any other append would write its chunks after those bytes.
 */
export function streams(pool: SealPool | undefined, w: BlobWriter): boolean {
  return pool !== undefined && w.localAppend !== undefined && nativeSeal() !== undefined;
}

export interface Sealed {
  appended: number;
  /** Whole chunks stored by this append. */
  chunks: number;
  /** The plaintext after every stored chunk, a buffer of its own. */
  tail: Buffer;
  /**
   * Bytes stored after the whole chunks: the tail's ciphertext, written as it came (streamed-chunk.ts);
   * 0 when the tail was held as plaintext.
   */
  partial: number;
  sourceError: Error | undefined;
}

/** Sealing on the calling thread, into `w.append`. */
export async function sealInline(from: SealFrom, w: BlobWriter, source: Readable, signal?: AbortSignal, meter?: PieceMeter): Promise<Sealed> {
  const { chunkSize } = from;
  if (from.tailStored) throw new Error(NOT_STREAMED);
  const sealer = new ChunkSealer({ dataKey: from.dataKey, chunkSize, index: from.index });
  // The bytes not sealed yet, always the last (total - sealed * chunkSize) of the plaintext.
  const held = new Held();
  held.push(from.tail);
  sealer.update(from.tail);
  let total = from.tail.length;
  let appended = 0;
  let chunks = 0;
  const out = new PassThrough({ highWaterMark: OUT_BUFFER });
  const storing = w.append(out);
  let storeFailed = false;
  // A source the caller keeps is not destroyed when the store fails: reading it stops instead.
  const halt = new Halt();
  storing.catch(() => {
    storeFailed = true;
    if (meter) halt.stop(new Error('the store failed'));
    else source.destroy();
  });
  // One chunk's work at a time, whatever the size of the pieces the source yields; the source
  // waits only while the store does.
  const seal = (piece: Buffer): Promise<void> | undefined => {
    for (let off = 0; off < piece.length; off += chunkSize) {
      if (storeFailed || out.destroyed) throw new Error('the store failed');
      const slice = piece.subarray(off, off + chunkSize);
      held.push(slice);
      total += slice.length;
      appended += slice.length;
      for (const b of sealer.update(slice)) out.write(b);
      chunks = total > 0 ? Math.ceil(total / chunkSize) - 1 : 0;
      held.keepLast(total - chunks * chunkSize);
      if (out.writableNeedDrain) {
        const rest = piece.subarray(off + chunkSize);
        return drained(out).then(() => (rest.length > 0 ? seal(rest) : undefined));
      }
    }
    return undefined;
  };
  const consume = (piece: Buffer): Promise<void> | undefined => {
    meter?.take(piece);
    return seal(piece);
  };
  const sourceError = await drive(source, consume, { signal, halt, keepSource: meter !== undefined });
  out.end();
  await storing;
  return { appended, chunks, tail: held.take(), partial: 0, sourceError };
}

/**
 * Sealing on a byte thread. On a driver with local files the worker writes the chunks to the
 * staged file itself; elsewhere they come back and go into `w.append` from here. `hash`, the
 * upload's running hash, is fed every byte appended: by the worker, in the same pass, when it
 * holds the hash.
 */
export async function sealOffThread(
  pool: SealPool,
  from: SealFrom,
  w: BlobWriter,
  source: Readable,
  signal?: AbortSignal,
  hash?: ThreadHash,
  meter?: PieceMeter,
): Promise<Sealed> {
  // A source the caller keeps (a request body it must still answer) is never destroyed here: a
  // failing store stops reading it instead.
  const halt = new Halt();
  const dispose = (): void => {
    if (meter) halt.stop(new Error('the store failed'));
    else source.destroy();
  };
  // A hash on another set of threads is fed from here, a copy of its own.
  const hashHere = hash && !pool.owns(hash.thread) ? hash : undefined;
  let local: Awaited<ReturnType<NonNullable<BlobWriter['localAppend']>>> | undefined;
  try {
    local = w.localAppend ? await w.localAppend() : undefined;
  } catch (e) {
    dispose();
    throw e;
  }
  let out: PassThrough | undefined;
  let storing: Promise<number> | undefined;
  let storeFailed = false;
  if (!local) {
    out = new PassThrough({ highWaterMark: OUT_BUFFER });
    storing = w.append(out);
    storing.catch(() => {
      storeFailed = true;
      dispose();
    });
  }
  let append: ReturnType<SealPool['begin']>;
  try {
    const sink = out;
    const to = local ? { target: toFile(from, local, nativeSeal() !== undefined) } : { onSealed: (b: Buffer) => sink!.write(b) };
    append = pool.begin({ ...from, ...to, ...(hash && !hashHere && { hash: { thread: hash.thread, id: hash.id } }) });
  } catch (e) {
    dispose();
    if (local) await local.done().catch(noop);
    else {
      out!.destroy();
      await storing!.catch(noop);
    }
    throw e;
  }
  let appended = 0;
  // Pieces nothing else holds are freed once copied into slots (core/fresh-pieces.ts): a slot
  // wait keeps the rest of the piece until it is copied too.
  const fresh = yieldsFreshPieces(source);
  const body = 'complete' in source ? (source as Readable & { complete: boolean }) : undefined;
  // A request body's next piece waits in its socket for a slot (SealAppend.reserve). Asked once
  // the parser is done with the socket read of the last piece (a microtask later): its last piece
  // comes before the body is known complete, and a complete body needs no slot.
  const nextSlot = (): Promise<void> | undefined => (body && !body.complete ? append.reserve() : undefined);
  const consume = (piece: Buffer): Promise<void> | undefined => {
    if (storeFailed || out?.destroyed) throw new Error('the store failed');
    meter?.take(piece);
    appended += piece.length;
    const hashing = hashHere?.update(piece);
    const copying = append.write(piece);
    if (fresh) {
      if (copying) copying.then(() => release(piece), noop);
      else release(piece);
    }
    const sealing = copying ? copying.then(nextSlot) : body && append.slotless ? Promise.resolve().then(nextSlot) : undefined;
    const waiting = hashing && sealing ? Promise.all([hashing, sealing]).then(noop) : (hashing ?? sealing);
    // Sealed bytes coming back wait for the store like the plaintext waits for the worker.
    if (out?.writableNeedDrain) return waiting ? waiting.then(() => drained(out)) : drained(out);
    return waiting;
  };
  // A client gone while its append waits for a slot leaves the queue at once.
  const sourceError = await drive(source, consume, {
    signal,
    halt,
    stop: (e) => append.abandon(e),
    keepSource: meter !== undefined,
  });
  let ended: SealEnd;
  try {
    ended = await append.end();
  } finally {
    // Only now does nothing write the file any more.
    if (local) await local.done();
    else {
      out!.end();
      await storing;
    }
  }
  return { appended, chunks: ended.chunks, tail: ended.tail, partial: ended.partial, sourceError };
}

/** Where the worker writes: after the chunks, where the tail's ciphertext goes (or already is). */
function toFile(from: SealFrom, local: LocalAppend, streamed: boolean): NonNullable<SealStart['target']> {
  if (!from.tailStored) return { fd: local.fd, position: local.position, ...(streamed && { streamed }) };
  if (!streamed) throw new Error(NOT_STREAMED);
  return { fd: local.fd, position: local.position - from.tail.length, streamed, tailStored: true };
}
