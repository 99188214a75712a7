/**
 * The opening task of a byte thread: opens a download's sealed chunks into the download's ring
 * (open-protocol.ts). The sealed bytes come straight from the blob's fd (threads share the
 * process's fds: no byte passes through the main thread on its way in), or, for a store with no
 * fd (S3), from the input ring the main thread fills from the store's stream. Reads of an fd are
 * synchronous: this thread exists to do byte work, and a positional read of a cached file costs
 * less than the promise round trip an asynchronous one would add per chunk.
 *
 * Downloads take turns: each turn fills at most one slot of each download that can go on, then
 * yields, so a stop, a credit or more input is seen between turns and no download waits long
 * behind another.
 */
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE } from './chunk-format.js';
import { raiseMallocThresholds } from '../../core/malloc-thresholds.js';
import { minorGc } from '../../core/minor-gc.js';
import type { FdSource } from './fd-source.js';
import { newDownload, type Download, type Feed } from './open-download.js';
import type { FromOpener, ToOpener } from './open-protocol.js';
import { SendPipe } from './open-pipe.js';
import { SocketSends, type Sending } from './open-send.js';
import type { ThreadMessage } from '../workers/threads.js';

/**
 * With Node's crypto (no native opener), every update() allocates its output (Node has no API to
 * decipher into a buffer of ours), and this thread allocates almost nothing else, so without help V8 frees those buffers in batches
 * of tens of MB, which malloc gives back to the kernel and faults in again for the next chunks
 * (raiseMallocThresholds keeps smaller batches). Measured, 512 MiB curl downloads, busy machine,
 * paired rounds, per GiB: 4–12 k minor faults at session start, 0.1–0.9 k with this (one
 * download, two threads on one, four at once); whole server 0.76–0.91x the CPU.
 * A scavenge of this thread's tiny heap costs well under a millisecond.
 */
const COLLECT_EVERY = 1024 * 1024;

/**
 * Sealed bytes read from an fd at once: the chunks that fit (one chunk when it is larger).
 * Deciphering right after the read finds the bytes still in the core's cache; measured in process
 * (notes/2026-12-05-s15-pull.md), 1 MiB reads of four 256 KiB chunks cost more CPU than four
 * reads, and 64 KiB chunks read one by one cost more than in reads of four.
 */
const READ_BATCH = 256 * 1024;

/**
 * A download sent by this thread is opened and written a piece at a time (at least a chunk): the
 * plaintext is still in a cache when the socket copies it (this core's, or, through the send
 * pipe, the shared one: two pieces of 256 KiB).
 */
const SEND_PIECE = 256 * 1024;
/**
 * Slots of a piped download (open-pipe.ts): one piece being written, one queued behind it, one
 * being opened, so neither the pipe's thread nor this one waits for the other.
 */
const PIPE_SLOTS = 3;
/** Bytes a sent download may write in one turn before the thread's other downloads get theirs. */
const SEND_TURN = 1024 * 1024;

export function openTask(reply: (m: FromOpener) => void): (m: ThreadMessage) => void {
  raiseMallocThresholds();
  const downloads = new Map<number, Download>();
  let sinceCollect = 0;
  let scheduled = false;

  function start(m: Extract<ToOpener, { op: 'start' }>): void {
    const d = newDownload(m);
    skipToOwnStripe(d);
    downloads.set(m.id, d);
  }

  /**
   * How much of a slot is filled at a time: the slot, or, for a socket, a piece small enough to
   * be written while its bytes are still in this core's cache.
   */
  const fillBytes = (d: Download): number => (d.out ? Math.min(d.slotBytes, Math.max(SEND_PIECE, d.chunkSize)) : d.slotBytes);

  /** A chunk's plaintext never exceeds chunkSize: more is opened into a slot only while a whole one still fits. */
  const room = (d: Download): boolean => fillBytes(d) - d.at >= d.chunkSize;

  /** Whether the next chunk begins a stripe: a slot holds one stripe, so it is full there. */
  const stripeEnds = (d: Download): boolean => d.stripe !== undefined && d.at > 0 && (d.opener.next - d.firstChunk) % d.stripe.chunks === 0;

  /** Moves a striped download on to the first chunk of its own next stripe (past the run: done). */
  function skipToOwnStripe(d: Download): void {
    const s = d.stripe;
    if (!s || d.opener.done) return;
    const k = Math.floor((d.opener.next - d.firstChunk) / s.chunks);
    const own = k + ((s.part - (k % s.parts) + s.parts) % s.parts);
    if (own === k) return;
    const next = d.firstChunk + own * s.chunks;
    d.opener.skipTo(next);
    d.position = HEADER_SIZE + next * (d.chunkSize + TAG_SIZE);
  }

  /**
   * The sealed bytes of the next chunks to read in one positional read: whole chunks, as many as
   * fit in READ_BATCH (at least one), in the slot's room and in its stripe. Small chunks then cost
   * no read each; a larger read does not pay (see READ_BATCH).
   */
  function batchBytes(d: Download): number {
    const opener = d.opener;
    let chunks = Math.min(Math.floor((fillBytes(d) - d.at) / d.chunkSize), Math.max(1, Math.floor(READ_BATCH / d.chunkSize)));
    const s = d.stripe;
    if (s) chunks = Math.min(chunks, s.chunks - ((opener.next - d.firstChunk) % s.chunks));
    let want = 0;
    for (let i = opener.next; i < opener.next + chunks && i <= d.lastChunk; i++) want += opener.storedLength(i);
    return want;
  }

  function readFromFd(d: Download, fd: FdSource): void {
    const opener = d.opener;
    while (!opener.done && room(d) && !stripeEnds(d)) {
      const want = batchBytes(d);
      const sealed = fd.read(d.position, want);
      const have = sealed.length;
      d.position += have;
      opener.consume(sealed);
      // Fewer bytes than the chunks need: the file ends early.
      if (have < want) opener.end();
    }
  }

  /** Opens what the input ring holds, a chunk's bytes at a time, giving back each input slot once read. */
  function readFromFeed(d: Download, f: Feed): void {
    const opener = d.opener;
    while (!opener.done && room(d) && f.queue.length > 0) {
      const p = f.queue[0]!;
      if (p.at < p.len) {
        const n = Math.min(p.len - p.at, f.chunkLeft);
        const from = p.slot * f.slotBytes + p.at;
        opener.consume(Buffer.from(f.bytes.buffer, f.bytes.byteOffset + from, n));
        p.at += n;
        f.chunkLeft -= n;
        if (f.chunkLeft === 0 && !opener.done) f.chunkLeft = opener.storedLength(opener.next);
      }
      if (p.at === p.len) {
        f.queue.shift();
        if (p.slot >= 0) reply({ kind: 'open', op: 'taken', id: d.id, slot: p.slot });
        if (p.last) f.ended = true;
      }
    }
    // The store gave more than the run: the opener refuses it.
    const extra = opener.done ? f.queue.find((p) => p.at < p.len) : undefined;
    if (extra) opener.consume(Buffer.from(f.bytes.buffer, f.bytes.byteOffset + extra.slot * f.slotBytes + extra.at, extra.len - extra.at));
    // The store's stream ended before the run did.
    if (!opener.done && f.ended && f.queue.length === 0) opener.end();
  }

  /** Opens into one slot of `d`; false once `d` is finished (ended or failed). */
  function fill(d: Download): boolean {
    if (d.into < 0) {
      d.into = d.free.shift()!;
      d.at = 0;
      d.unverified = 0;
    }
    const opener = d.opener;
    try {
      if (d.feed) readFromFeed(d, d.feed);
      else readFromFd(d, d.fd!);
      skipToOwnStripe(d);
      if (opener.done) opener.end();
    } catch (caught) {
      // A faulted mapping read zeros: the file, not the blob's bytes, is at fault.
      const e = d.fd?.failure() ?? caught;
      drop(d);
      const integrity = e instanceof BlobIntegrityError;
      reply({ kind: 'open', op: 'fail', id: d.id, message: (e as Error).message, integrity, ...(d.out && { bytes: d.out.sent }) });
      return false;
    }
    // A slot waiting for more input is kept; the fd path always fills a slot in one go.
    if (!opener.done && room(d) && d.feed) return true;
    const native = opener.native;
    if (d.out) {
      // The slot is the socket's until the piece is written (sends.write or the pipe gives it back).
      if (d.at === 0 && d.out.piped) d.free.push(d.into);
      else sends.piece(d.out, d.into * d.slotBytes, d.at);
      d.into = -1;
      if (!native) collectAfter(d.at);
      return true;
    }
    if (d.at > 0) reply({ kind: 'open', op: 'data', id: d.id, slot: d.into, len: d.at, last: opener.done, native, mapped: d.fd?.isMapped === true });
    else reply({ kind: 'open', op: 'end', id: d.id, native, mapped: d.fd?.isMapped === true });
    // After the slot is on its way: the scavenge delays this thread, not the socket. The native
    // opener allocates no plaintext: nothing to collect for it.
    if (!native) collectAfter(d.at);
    d.into = -1;
    if (opener.done) drop(d);
    return !opener.done;
  }

  /** d is over (ended, failed, stopped): its mapping goes with it. */
  function drop(d: Download): void {
    downloads.delete(d.id);
    if (d.out?.piped) pipe?.cancel(d.out);
    d.fd?.release();
  }

  function collectAfter(bytes: number): void {
    sinceCollect += bytes;
    if (sinceCollect >= COLLECT_EVERY) {
      sinceCollect = 0;
      minorGc();
    }
  }

  /** Whether a turn would get `d` further: a slot to fill, and bytes to fill it from. */
  function ready(d: Download): boolean {
    if (d.switching) return false;
    if (d.into < 0 && d.free.length === 0) return false;
    const f = d.feed;
    return !f || f.queue.length > 0 || (f.ended && !d.opener.done);
  }

  /**
   * A turn of a download sent by this thread: pieces opened and written while the socket takes
   * them, up to SEND_TURN bytes; whether another turn would get it further at once (false: done,
   * failed, or its socket is full).
   */
  function sendTurn(d: Download, out: Sending): boolean {
    if (out.piped) return pipeTurn(d, out);
    for (let bytes = 0; bytes < SEND_TURN; ) {
      if (out.pending) {
        const wrote = sends.write(out);
        if (wrote < 0) {
          finishSend(d, sends.failure(out, wrote));
          return false;
        }
        bytes += wrote;
        if (out.pending) {
          if (sends.stalled(out)) finishSend(d, sends.stallFailure(out), true);
          return false;
        }
        d.free.push(0);
      }
      if (d.opener.done) {
        finishSend(d, undefined);
        return false;
      }
      if (!fill(d)) return false;
      if (d.opener.done) sends.holdTail(out);
    }
    return true;
  }

  /**
   * A turn of a download sent through the pipe: opens a piece into a free slot and queues it
   * behind the pieces in the pipe. Whether another turn would get it further at once (a slot
   * still free); the rest happens as the pipe says a piece is written (pieceSent).
   */
  function pipeTurn(d: Download, out: Sending): boolean {
    if (!d.opener.done && d.free.length > 0) {
      if (!fill(d)) return false;
      if (d.opener.done) sends.holdTail(out);
      pipe!.push(d.id, out);
    }
    if (d.opener.done && out.inPipe.length === 0) {
      finishSend(d, undefined);
      return false;
    }
    return !d.opener.done && d.free.length > 0;
  }

  function pieceSent(id: number, at: number, errno: number): void {
    const d = downloads.get(id);
    const out = d?.out;
    if (!d || !out) return;
    if (errno !== 0) {
      finishSend(d, sends.failure(out, -errno));
      return;
    }
    d.free.push(Math.floor(at / d.slotBytes));
    if (d.opener.done && out.inPipe.length === 0) finishSend(d, undefined);
    else schedule();
  }

  /** The send is over (`failure`: how it failed; `cut`: by the response rule): the main thread closes the socket's dup on this reply. */
  function finishSend(d: Download, failure: string | undefined, cut = false): void {
    drop(d);
    if (failure) reply({ kind: 'open', op: 'fail', id: d.id, message: failure, integrity: false, bytes: d.out?.sent ?? 0, ...(cut && { cut }) });
    else reply({ kind: 'open', op: 'sent', id: d.id, bytes: d.out!.sent, tail: d.out!.tail, native: d.opener.native, mapped: d.fd?.isMapped === true });
  }

  function runTurn(): void {
    scheduled = false;
    sends.turnStarted();
    let more = false;
    const blocked: Sending[] = [];
    for (const d of downloads.values()) {
      if (d.out) {
        if (sendTurn(d, d.out)) more = true;
        else if (downloads.has(d.id) && d.out.pending) blocked.push(d.out);
      } else if (ready(d) && fill(d) && ready(d)) {
        more = true;
      }
    }
    if (more) schedule();
    else if (blocked.length > 0) sends.waitFor(blocked, schedule);
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    sends.cancelWait();
    setImmediate(runTurn);
  }

  const sends = new SocketSends();
  let pipe: SendPipe | undefined;
  let pipeTried = false;
  /** Whether this thread's send pipe runs (started at its first sent download). */
  function pipeStarted(batch: boolean): boolean {
    if (!pipeTried) {
      pipeTried = true;
      pipe = SendPipe.start(
        {
          done: pieceSent,
          stalled: (id) => {
            const d = downloads.get(id);
            if (d?.out) finishSend(d, sends.stallFailure(d.out), true);
          },
        },
        batch,
      );
    }
    return pipe !== undefined;
  }

  return (message) => {
    const m = message as ToOpener;
    switch (m.op) {
      case 'start':
        start(m);
        schedule();
        break;
      case 'credit': {
        const d = downloads.get(m.id);
        if (d) {
          d.free.push(m.slot);
          schedule();
        }
        break;
      }
      case 'input': {
        const d = downloads.get(m.id);
        if (d?.feed) {
          d.feed.queue.push({ slot: m.slot, at: 0, len: m.len, last: m.last });
          schedule();
        }
        break;
      }
      case 'stop': {
        const d = downloads.get(m.id);
        if (d) drop(d);
        reply({ kind: 'open', op: 'stopped', id: m.id });
        break;
      }
      case 'send': {
        // Between turns every filled slot has been posted: the main thread has them all.
        const d = downloads.get(m.id);
        if (d && !d.feed) {
          d.switching = true;
          reply({ kind: 'open', op: 'switched', id: m.id });
        }
        break;
      }
      case 'go': {
        const d = downloads.get(m.id);
        if (!d) break;
        d.switching = false;
        // Pieces in the pipe while the next is opened: PIPE_SLOTS slots; else the serial writes.
        const slots = Math.min(PIPE_SLOTS, Math.floor(d.ring.byteLength / d.slotBytes));
        const piped = m.pipe === true && slots >= 2 && pipeStarted(m.pipeBatch === true);
        const out = sends.start(m.sock, m.stallMs, m.minBytes, d.ring, piped);
        if (typeof out === 'string') {
          finishSend(d, out);
          break;
        }
        // Every slot is back: the socket's pieces go through the first slots alone, so they stay cache-hot.
        d.out = out;
        d.free = piped ? Array.from({ length: slots }, (_, i) => i) : [0];
        d.into = -1;
        schedule();
        break;
      }
    }
  };
}
