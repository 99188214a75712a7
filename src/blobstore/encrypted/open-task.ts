/**
 * The opening task of a byte thread: reads a download's sealed chunks straight from the blob's fd
 * (threads share the process's fds: no byte passes through the main thread on its way in) and
 * opens them into the download's ring (open-protocol.ts). Reads are synchronous: this thread
 * exists to do byte work, and a positional read of a cached file costs less than the promise
 * round trip an asynchronous one would add per chunk.
 *
 * Downloads take turns: each turn fills at most one slot of each download that has a credited
 * slot, then yields, so a stop or a credit is seen between turns and no download waits long
 * behind another.
 */
import { readSync } from 'node:fs';
import { BlobIntegrityError, TAG_SIZE } from './chunk-format.js';
import { ChunkOpener } from './chunk-opener.js';
import type { FromOpener, ToOpener } from './open-protocol.js';
import type { ThreadMessage } from '../workers/threads.js';

interface Download {
  id: number;
  fd: number;
  opener: ChunkOpener;
  chunkSize: number;
  position: number;
  ring: Uint8Array;
  slotBytes: number;
  /** Credited slots, in the order they were credited. */
  free: number[];
  /** Where emitted plaintext goes: the slot being filled and how far. */
  into: number;
  at: number;
}

export function openTask(reply: (m: FromOpener) => void): (m: ThreadMessage) => void {
  const downloads = new Map<number, Download>();
  /** One read buffer for every download of this thread: a turn reads one chunk at a time. */
  let buf = Buffer.alloc(0);
  let scheduled = false;

  function start(m: Extract<ToOpener, { op: 'start' }>): void {
    const slots = Math.floor(m.ring.byteLength / m.slotBytes);
    const d: Download = {
      id: m.id,
      fd: m.fd,
      chunkSize: m.chunkSize,
      position: m.run.cipherStart,
      ring: new Uint8Array(m.ring),
      slotBytes: m.slotBytes,
      free: Array.from({ length: slots }, (_, i) => i),
      into: 0,
      at: 0,
      opener: new ChunkOpener(
        { dataKey: Buffer.from(m.dataKey.buffer, m.dataKey.byteOffset, m.dataKey.byteLength), chunkSize: m.chunkSize, run: m.run, label: m.label },
        (plain) => {
          d.ring.set(plain, d.into * d.slotBytes + d.at);
          d.at += plain.length;
        },
      ),
    };
    downloads.set(m.id, d);
  }

  /** Fills one slot of `d` with whole chunks; false once `d` is finished (ended or failed). */
  function fill(d: Download): boolean {
    d.into = d.free.shift()!;
    d.at = 0;
    const opener = d.opener;
    try {
      // A chunk's plaintext never exceeds chunkSize: read only while a whole one still fits.
      while (!opener.done && d.slotBytes - d.at >= d.chunkSize) {
        const want = opener.storedLength(opener.next);
        if (buf.length < want) buf = Buffer.allocUnsafe(Math.max(want, d.chunkSize + TAG_SIZE));
        let have = 0;
        while (have < want) {
          const n = readSync(d.fd, buf, have, want - have, d.position + have);
          if (n === 0) break;
          have += n;
        }
        d.position += have;
        opener.consume(buf.subarray(0, have));
        // Fewer bytes than the chunk needs: the file ends early.
        if (have < want) opener.end();
      }
      if (opener.done) opener.end();
    } catch (e) {
      downloads.delete(d.id);
      const integrity = e instanceof BlobIntegrityError;
      reply({ kind: 'open', op: 'fail', id: d.id, message: (e as Error).message, integrity });
      return false;
    }
    if (d.at > 0) reply({ kind: 'open', op: 'data', id: d.id, slot: d.into, len: d.at, last: opener.done });
    else reply({ kind: 'open', op: 'end', id: d.id });
    if (opener.done) downloads.delete(d.id);
    return !opener.done;
  }

  function runTurn(): void {
    scheduled = false;
    let more = false;
    for (const d of downloads.values()) {
      if (d.free.length > 0 && fill(d) && d.free.length > 0) more = true;
    }
    if (more) schedule();
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(runTurn);
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
      case 'stop':
        downloads.delete(m.id);
        reply({ kind: 'open', op: 'stopped', id: m.id });
        break;
    }
  };
}
