/**
 * The sealing task of a byte thread: seals an append's plaintext into whole GCM chunks (the
 * staged format of staged-upload.ts: every chunk it seals is non-final, since only the commit
 * knows the last one) and, on fs, writes them itself at positions in the staged chunk object's
 * fd (threads share the process's fds), so neither the cipher nor the write runs on the event
 * loop. Elsewhere (S3, memory) the sealed chunks go back with the acknowledgement. When the
 * upload's running hash lives on this thread (hash-task.ts), the same pass feeds it.
 *
 * With the native sealer and an fd (fs), each piece is enciphered and written as it comes and the
 * append holds a cipher context, no plaintext (streamed-chunk.ts); the chunk it ends in is read
 * back and deciphered at the end, to be the tail. Otherwise (S3, memory, no addon) a chunk is
 * sealed only once a byte after it has arrived: until then it is held (held-chunk.ts). Either way
 * what is left at the end (≤ one chunk) is the tail, which the main thread keeps in the upload's
 * record. A whole chunk with a byte after it in the same slot is sealed straight from the slot.
 * Writes are synchronous: this thread exists to do byte work, and the main thread only writes the
 * record after `done`.
 */
import { type Hash, type KeyObject, createCipheriv } from 'node:crypto';
import { fdatasync, writevSync } from 'node:fs';
import { release } from '../../core/fresh-pieces.js';
import { releasePages } from '../../core/malloc-trim.js';
import { QUIET_MS } from '../workers/quiet-memory.js';
import { minorGc } from '../../core/minor-gc.js';
import { TAG_SIZE, chunkAad, chunkNonce, cipherKey } from './chunk-format.js';
import { Granules, HeldChunk } from './held-chunk.js';
import { type NativeSealer, nativeSeal } from './native-seal.js';
import type { FromSealer, ToSealer } from './seal-protocol.js';
import { StreamedChunk } from './streamed-chunk.js';
import type { ThreadMessage } from '../workers/threads.js';

interface Append {
  key: KeyObject;
  /** The native sealer keyed for this append, when the addon is there and chunks go to an fd. */
  sealer: NativeSealer | undefined;
  chunkSize: number;
  index: number;
  sealed: number;
  /** The plaintext not sealed yet (the held path). */
  held: HeldChunk;
  /** The chunk sealed as bytes come (native sealer and fd), instead of `held`. */
  streamed: StreamedChunk | undefined;
  /** The streamed path's tail from the record, not enciphered yet: it goes before the first bytes. */
  pending: Uint8Array | undefined;
  /** Its ciphertext is in the file already, at `position`: enciphered again for the tag, not rewritten. */
  tailStored: boolean;
  fd: number | undefined;
  position: number;
  /** The upload's running hash on this thread, fed the same bytes. */
  hash: Hash | undefined;
  /** Bytes written between early syncs (see SYNC_EVERY). */
  syncEvery: number;
  /** Bytes written since the last early sync started. */
  unsynced: number;
  /** An early sync under way: the fd is not given back (`done`/`fail`) before it settles. */
  syncing: boolean;
  /** The first early sync that failed: it fails the append (see SYNC_EVERY). */
  syncError: NodeJS.ErrnoException | undefined;
  /** The reply waiting for the sync under way. */
  settled: (() => void) | undefined;
}

/**
 * Every GCM update allocates its output (Node has no API to seal into a buffer of ours), and
 * this thread allocates almost nothing else, so V8 collects those buffers only when their sum
 * reaches its external-memory limit: tens of MB of dead chunks, which malloc then keeps. Measured
 * (1 GiB curl push, busy machine, same run): peak RSS 261 MB without, 201 MB with a young-
 * generation collection every 2 MiB sealed (8 chunks), and 154 instead of 223 MB kept after.
 * Outputs written to the staged file are released at once instead (core/fresh-pieces.ts), so on
 * fs this runs only for what could not be: at 2 MiB it cost 1023 scavenges (≈0.55 ms each) per
 * 2 GiB uploaded. Outputs sent back to the main thread (S3, memory) still count.
 */
const COLLECT_EVERY = 2 * 1024 * 1024;

/**
 * Writes land in the page cache; the commit's fsync (fs-blob-store.ts, before the rename and the
 * metadata row) then had every byte of the upload to write back at once, since nothing else
 * starts writeback below vm.dirty_background_ratio (GiBs here): a 512 MiB upload ended with a
 * 0.47 s fsync after its last byte arrived, while the disk idled during the body. So every
 * SYNC_EVERY bytes written, an fdatasync starts on the libuv pool while sealing goes on, and the
 * closing fsync finds little left. Durability still rests on that fsync alone; these only move
 * the writeback earlier. One may fail (EIO): the kernel then reports that error to this fd only,
 * not to the commit's fsync on a later one, so it fails the append. Its bytes are past the
 * record, i.e. dead, and the upload's next append or commit rebases it into a new chunk object
 * (staged-rebase.ts) instead of committing what may not be on disk. One sync at a time per
 * thread, the others skipped (they are hints): a crowd of uploads must not fill libuv's pool,
 * which every file operation of the process shares. Measured, 512 MiB curl uploads at load 20:
 * the time from the last body byte to the answer 0.52-0.93 s without, 0.10-0.21 s at 16 MiB
 * (8 MiB and 64 MiB no better); see notes/2026-12-04-s10-up.md.
 */
export const SYNC_EVERY = 16 * 1024 * 1024;

/** Bytes of free granules a thread keeps once an append ends while others run (held-chunk.ts). */
const FREE_GRANULES = 2 * 1024 * 1024;

export function sealTask(
  reply: (m: FromSealer, transfer?: ArrayBuffer[]) => void,
  hashOf: (id: number) => Hash | undefined,
  /** How long the thread runs no append before its buffers go back (see forget()). */
  quietMs = QUIET_MS,
): (m: ThreadMessage) => void {
  const appends = new Map<number, Append>();
  /** The pending hand-back of the thread's buffers once its last append ended (see forget()). */
  let idle: ReturnType<typeof setTimeout> | undefined;
  let sinceCollect = 0;
  let syncing = 0;
  const native = nativeSeal();
  /**
   * Where the native sealer puts the chunks one message completes before they are written in one
   * call: one buffer for the thread (a message is sealed and written before the next is taken), so
   * a crowd of appends adds nothing per append; it grows to the most one message completes (five
   * chunks for a bulk slot), and its pages go back when the thread's last append ends.
   */
  let scratch = Buffer.alloc(0);
  /** The held chunks' granules, shared by the thread's appends (held-chunk.ts). */
  const granules = new Granules();
  /** Where a held chunk is put together to be sealed in one call: one for the thread, like the scratch. */
  let whole = Buffer.alloc(0);

  /** Seals `plain` (a whole chunk, and a byte follows) into the scratch at `at`; returns the end. */
  function sealInto(a: Append, plain: Uint8Array, at: number): number {
    native!.seal(a.sealer!, a.index, false, plain, scratch, at);
    a.index++;
    a.sealed++;
    return at + a.chunkSize + TAG_SIZE;
  }

  function seal(a: Append, plain: Uint8Array): Buffer[] {
    const c = createCipheriv('aes-256-gcm', a.key, chunkNonce(a.index), { authTagLength: TAG_SIZE });
    c.setAAD(chunkAad(a.index, false));
    const body = c.update(plain);
    c.final();
    a.index++;
    a.sealed++;
    return [body, c.getAuthTag()];
  }

  /**
   * Seals the held chunk (full, and a byte follows), put together in one piece of memory first:
   * into the scratch at `used` (returns the new end) or, with Node's cipher, onto `out`.
   */
  function sealHeld(a: Append, used: number, out: Buffer[]): number {
    if (whole.length < a.chunkSize) whole = Buffer.allocUnsafeSlow(a.chunkSize);
    const plain = a.held.copyTo(whole);
    if (a.sealer) used = sealInto(a, plain, used);
    else out.push(...seal(a, plain));
    a.held.clear();
    return used;
  }

  /**
   * An append is over: its granules go back, all but a few freed while others run. Once the thread
   * runs none, its scratch and `whole` go back too, but only after `quietMs` with no append: uploads one
   * after another (a push of many layers) would otherwise fault the same ~1.2 MiB in again at each,
   * ~300 first touches at 12-17 µs each on this PVM machine, a fifth of a 16 MiB upload's sealing
   * (notes/2026-12-06-s22-faults.md). A crowd's rule is unchanged, as the seal slots' is.
   */
  function forget(a: Append): void {
    a.held.clear();
    if (appends.size > 0) {
      granules.drain(FREE_GRANULES);
      return;
    }
    granules.drain();
    clearTimeout(idle);
    idle = setTimeout(() => {
      if (appends.size > 0) return; // its last append's end sets the timer again
      if (scratch.length > 0) releasePages(scratch);
      if (whole.length > 0) releasePages(whole);
    }, quietMs);
    // A closing thread is not kept for it.
    idle.unref();
  }

  /** Counts sealed bytes left to the GC (not released: sent back, or not ours to free). */
  function dropped(bytes: number): void {
    sinceCollect += bytes;
    if (sinceCollect < COLLECT_EVERY) return;
    sinceCollect = 0;
    minorGc();
  }

  function write(a: Append, pieces: Buffer[]): void {
    let total = 0;
    for (const p of pieces) total += p.length;
    let done = 0;
    while (done < total) {
      // A short write (rare on a regular file) continues from where it stopped.
      const rest: Buffer[] = [];
      let skip = done;
      for (const p of pieces) {
        if (skip >= p.length) skip -= p.length;
        else {
          rest.push(skip > 0 ? p.subarray(skip) : p);
          skip = 0;
        }
      }
      done += writevSync(a.fd!, rest, a.position + done);
    }
    a.position += total;
    a.unsynced += total;
    if (a.unsynced >= a.syncEvery && syncing === 0) syncBehind(a);
  }

  function syncBehind(a: Append): void {
    a.unsynced = 0;
    a.syncing = true;
    syncing++;
    fdatasync(a.fd!, (e) => {
      syncing--;
      a.syncing = false;
      if (e) a.syncError ??= e;
      const then = a.settled;
      a.settled = undefined;
      then?.();
    });
  }

  /** Runs `then` once no early sync of `a` is under way (the fd may be closed after it). */
  function afterSync(a: Append, then: () => void): void {
    if (a.syncing) a.settled = then;
    else then();
  }

  function failure(id: number, e: unknown): FromSealer {
    const code = (e as { code?: unknown }).code;
    return { kind: 'seal', op: 'fail', id, message: (e as Error).message, ...(typeof code === 'string' && { code }) };
  }

  /** The streamed path's data, enciphered into the scratch as it comes: returns what to write there. */
  function stream(a: Append, s: StreamedChunk, bytes: Uint8Array, more: boolean): [number, number] {
    const pending = a.pending;
    const most = s.room((pending?.length ?? 0) + bytes.length);
    if (scratch.length < most) scratch = Buffer.allocUnsafeSlow(most);
    let used = 0;
    let skip = 0;
    if (pending) {
      // The same bytes at the same place as before, never others (see streamed-chunk.ts).
      a.pending = undefined;
      used = s.feed(pending, false, scratch, 0);
      if (a.tailStored) {
        skip = used;
        a.position += used;
      }
    }
    return [skip, s.feed(bytes, more, scratch, used, a.hash)];
  }

  /** `more`: a byte follows these `len` bytes (seal-protocol.ts), so a chunk they end is sealed now. */
  function data(id: number, a: Append, slot: number, buf: Uint8Array, len: number, more: boolean): void {
    const bytes = buf.subarray(0, len);
    const out: Buffer[] = [];
    let used = 0;
    if (a.streamed) {
      const [from, to] = stream(a, a.streamed, bytes, more);
      if (to > from) write(a, [scratch.subarray(from, to)]);
      reply({ kind: 'seal', op: 'ack', id, slot });
      return;
    }
    if (a.sealer) {
      const most = (Math.floor((a.held.filled + len) / a.chunkSize) + 1) * (a.chunkSize + TAG_SIZE);
      if (scratch.length < most) scratch = Buffer.allocUnsafeSlow(most);
    }
    for (let at = 0; at < len; ) {
      // Full, and a byte follows: that chunk is not the last.
      if (a.held.filled === a.chunkSize) used = sealHeld(a, used, out);
      // Hashed at most a chunk at a time, just before the cipher or the copy reads the same
      // bytes: a bulk slot (1 MiB, seal-pool.ts) is larger than a core's L2, so hashing it whole
      // first made them read it from memory again.
      if (a.held.filled === 0 && (len - at > a.chunkSize || (more && len - at === a.chunkSize))) {
        // A whole chunk with a byte after it: sealed from the slot, never copied.
        const plain = bytes.subarray(at, at + a.chunkSize);
        a.hash?.update(plain);
        if (a.sealer) used = sealInto(a, plain, used);
        else out.push(...seal(a, plain));
        at += a.chunkSize;
        continue;
      }
      const n = Math.min(len - at, a.chunkSize - a.held.filled);
      const piece = bytes.subarray(at, at + n);
      a.hash?.update(piece);
      a.held.append(piece);
      at += n;
    }
    if (more && a.held.filled === a.chunkSize) used = sealHeld(a, used, out);
    if (a.fd === undefined) {
      // Copied into the message when it is posted, after this turn: the GC frees these.
      for (const b of out) dropped(b.length);
      reply({ kind: 'seal', op: 'ack', id, slot, ...(out.length > 0 && { sealed: out }) });
      return;
    }
    try {
      if (used > 0) write(a, [scratch.subarray(0, used)]);
      else if (out.length > 0) write(a, out);
    } finally {
      // Written (or failed): the cipher's outputs are freed now rather than by a collection.
      for (const b of out) if (!release(b)) dropped(b.length);
    }
    reply({ kind: 'seal', op: 'ack', id, slot });
  }

  /**
   * The streamed path's end: the tail is the chunk begun, read back (`partial`: its ciphertext is
   * in the file after the whole chunks), or the record's tail as it came when no byte did.
   */
  function ended(id: number, a: Append, s: StreamedChunk): void {
    let tail: Uint8Array<ArrayBuffer>;
    try {
      if (scratch.length < s.filled) scratch = Buffer.allocUnsafeSlow(s.filled);
      tail = a.pending ? new Uint8Array(a.pending) : s.tail(a.fd!, a.position, scratch);
    } catch (e) {
      reply(failure(id, e));
      return;
    }
    const partial = a.pending && !a.tailStored ? 0 : tail.length;
    reply({ kind: 'seal', op: 'done', id, chunks: s.sealed, tail, ...(partial > 0 && { partial }) }, [tail.buffer]);
  }

  return (message) => {
    const m = message as ToSealer;
    switch (m.op) {
      case 'start': {
        // Sealed chunks sent back (no fd) are buffers of their own: Node's cipher makes those.
        const sealer = native && m.fd !== undefined ? native.create(m.dataKey, m.avx2 !== false) : undefined;
        const streamed = sealer && m.streamed ? new StreamedChunk(native!, sealer, m.chunkSize, m.index) : undefined;
        const held = new HeldChunk(granules, m.chunkSize);
        if (!streamed) held.append(m.tail);
        appends.set(m.id, {
          key: cipherKey(Buffer.from(m.dataKey.buffer, m.dataKey.byteOffset, m.dataKey.byteLength)),
          sealer,
          chunkSize: m.chunkSize,
          index: m.index,
          sealed: 0,
          held,
          streamed,
          pending: streamed && m.tail.length > 0 ? m.tail : undefined,
          tailStored: m.tailStored === true,
          fd: m.fd,
          position: m.position ?? 0,
          hash: m.hashId === undefined ? undefined : hashOf(m.hashId),
          syncEvery: m.syncEvery ?? SYNC_EVERY,
          unsynced: 0,
          syncing: false,
          syncError: undefined,
          settled: undefined,
        });
        break;
      }
      case 'data': {
        const a = appends.get(m.id);
        if (!a) break;
        try {
          if (a.syncError) throw a.syncError;
          data(m.id, a, m.slot, m.buf, m.len, m.more === true);
        } catch (e) {
          appends.delete(m.id);
          forget(a);
          afterSync(a, () => reply(failure(m.id, e)));
        }
        break;
      }
      case 'end': {
        const a = appends.get(m.id);
        if (!a) break;
        appends.delete(m.id);
        afterSync(a, () => {
          if (a.syncError) reply(failure(m.id, a.syncError));
          else if (a.streamed) ended(m.id, a, a.streamed);
          else {
            // A buffer of its own, moved to the main thread rather than cloned: a crowd of
            // uploads ends together, and each clone was up to a chunk of garbage on both threads.
            const tail = new Uint8Array(a.held.filled);
            a.held.copyTo(tail);
            reply({ kind: 'seal', op: 'done', id: m.id, chunks: a.sealed, tail }, [tail.buffer]);
          }
          forget(a);
        });
        break;
      }
    }
  };
}
