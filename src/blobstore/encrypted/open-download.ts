/**
 * A download of a byte thread's opening task (open-task.ts): where its sealed bytes come from,
 * its opener, and its ring's slots. The opener deciphers straight into the slot being filled.
 */
import { ChunkOpener } from './chunk-opener.js';
import { FdSource } from './fd-source.js';
import { nativeGcm } from './native-gcm.js';
import type { Sending } from './open-send.js';
import type { Stripe, ToOpener } from './open-protocol.js';
import { copyInto } from '../../core/shared-copy.js';

/** The input ring of a download fed by the main thread, and what of it is ours to read. */
export interface Feed {
  bytes: Uint8Array;
  slotBytes: number;
  /** Input slots given to us, in order: `at` bytes of `len` read so far. */
  queue: Array<{ slot: number; at: number; len: number; last: boolean }>;
  /** Sealed bytes of the chunk being opened still to come. */
  chunkLeft: number;
  ended: boolean;
}

export interface Download {
  id: number;
  /** The blob file's sealed bytes (fd-source.ts), or undefined: they come through `feed`. */
  fd: FdSource | undefined;
  feed: Feed | undefined;
  opener: ChunkOpener;
  chunkSize: number;
  position: number;
  /** Only these stripes of the run are ours (a download opened on several threads). */
  stripe: Stripe | undefined;
  firstChunk: number;
  lastChunk: number;
  ring: Uint8Array;
  slotBytes: number;
  /** Credited slots, in the order they were credited. */
  free: number[];
  /** Where plaintext goes: the slot being filled (-1: none yet), how far it is verified, and unverified bytes past that. */
  into: number;
  at: number;
  unverified: number;
  /** Told to fill no more slots (`send`), waiting for `go`. */
  switching: boolean;
  /** Written to the client's socket by this thread (after `go`): the piece being written, and how. */
  out: Sending | undefined;
}

/** A download as `start` describes it: every slot free, nothing opened yet. */
export function newDownload(m: Extract<ToOpener, { op: 'start' }>): Download {
  const slots = Math.floor(m.ring.byteLength / m.slotBytes);
  const src = m.source;
  const d: Download = {
    id: m.id,
    fd: 'fd' in src ? new FdSource(src.fd, m.mapped !== false) : undefined,
    feed: 'input' in src ? { bytes: new Uint8Array(src.input), slotBytes: src.inputSlotBytes, queue: [], chunkLeft: 0, ended: false } : undefined,
    chunkSize: m.chunkSize,
    position: m.run.cipherStart,
    stripe: m.stripe,
    firstChunk: m.run.firstChunk,
    lastChunk: m.run.lastChunk,
    ring: new Uint8Array(m.ring),
    slotBytes: m.slotBytes,
    free: Array.from({ length: slots }, (_, i) => i),
    into: -1,
    at: 0,
    unverified: 0,
    switching: false,
    out: undefined,
    opener: new ChunkOpener(
      {
        dataKey: Buffer.from(m.dataKey.buffer, m.dataKey.byteOffset, m.dataKey.byteLength),
        chunkSize: m.chunkSize,
        run: m.run,
        label: m.label,
        native: m.native === false ? undefined : nativeGcm(),
        avx2: m.avx2 !== false,
      },
      // Straight into the slot: the main thread sees a slot only once posted, and a slot is
      // posted only up to `at`, so a chunk that fails its tag is never let out.
      {
        unverified: (plain) => {
          copyInto(d.ring, d.into * d.slotBytes + d.at + d.unverified, plain);
          d.unverified += plain.length;
        },
        verified: () => {
          d.at += d.unverified;
          d.unverified = 0;
        },
        inPlace: {
          bytes: new Uint8Array(m.ring),
          claim: (n) => {
            const at = d.into * d.slotBytes + d.at + d.unverified;
            d.unverified += n;
            return at;
          },
        },
      },
    ),
  };
  if (d.feed) d.feed.chunkLeft = d.opener.storedLength(d.opener.next);
  if (d.feed) d.feed.chunkLeft = d.opener.storedLength(d.opener.next);
  return d;
}
