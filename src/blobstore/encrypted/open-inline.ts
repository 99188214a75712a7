/**
 * Small sealed blobs (a config, a signature, a small layer: every pull fetches several) opened on
 * the main thread from one read. Handing one to the open pool costs a message to a byte thread
 * and back, a ring, and the header read before it, for a few hundred bytes of cipher work; read
 * whole with the header and opened here, a 512-byte GET costs about half the server CPU it did
 * (notes/2026-12-05-s13-small.md). The cap keeps the event loop's share of byte work fixed:
 * past it, downloads go to the pool (design decision 6). The read itself is synchronous only
 * while the driver finds its disk fast (BlobHandle.readSync, fs/sync-gate.ts); otherwise it goes
 * through the pool and only the cipher work, bounded by the cap, is done here.
 */
import { Readable, type Writable } from 'node:stream';
import type { DirectBody } from '../../core/direct-body.js';
import type { ChunkRun } from './chunk-format.js';
import { ChunkOpener } from './chunk-opener.js';
import { nativeGcm } from './native-gcm.js';

/**
 * Stored bytes past the header (chunks and tags) a blob may have to be opened inline. Measured
 * (session 13, in process, loaded machine, load ~23: wall times inflated), the whole inline GET
 * work of a one-chunk blob in the page cache (open, fstat, pread, close, unwrap, native open),
 * medians of 5 rounds in two runs: 83–129 µs at 512 B, 95–100 at 16 KiB, 109–154 at 64 KiB,
 * 334–478 at 256 KiB. Up to 64 KiB the bytes add little to what any GET costs; a 256 KiB chunk
 * would stall every other request for a few hundred µs, which is what the pool is for.
 */
export const INLINE_OPEN_BYTES = 64 * 1024;

/**
 * The plaintext of `run` from `stored`, the blob's whole stored bytes (header included). Throws
 * BlobIntegrityError for a chunk that fails authentication or a blob cut short.
 */
export function openInline(
  stored: Buffer,
  opts: { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string; native: boolean; avx2?: boolean },
): Buffer {
  const { run } = opts;
  const out = Buffer.allocUnsafe(run.end - run.start);
  let at = 0;
  let unverified = 0;
  const opener = new ChunkOpener(
    { ...opts, native: opts.native ? nativeGcm() : undefined },
    {
      unverified: (plain) => {
        plain.copy(out, at + unverified);
        unverified += plain.length;
      },
      verified: () => {
        at += unverified;
        unverified = 0;
      },
      inPlace: {
        bytes: out,
        claim: (n) => {
          const where = at + unverified;
          unverified += n;
          return where;
        },
      },
    },
  );
  const end = Math.min(stored.length, run.cipherEnd + 1);
  if (end > run.cipherStart) opener.consume(stored.subarray(run.cipherStart, end));
  opener.end();
  return out;
}

/** A body already in memory, as a Readable and as a DirectBody that writes it in one call. */
export class InlineBody extends Readable implements DirectBody {
  private sent = false;

  constructor(private readonly bytes: Buffer) {
    super();
  }

  /** The whole small blob, until it is written (HeldBytes). */
  get heldBytes(): number {
    return this.bytes.length;
  }

  override _read(): void {
    if (!this.sent && this.bytes.length > 0) this.push(this.bytes);
    this.sent = true;
    this.push(null);
  }

  writeTo(dest: Writable): Promise<void> {
    if (this.sent) return Promise.reject(new Error('a download is written to one destination, once'));
    this.sent = true;
    const gone = () => new Error('the client went away before the blob was sent');
    if (dest.destroyed) return Promise.reject(gone());
    return new Promise<void>((resolve, reject) => {
      const onClose = () => {
        if (!dest.writableFinished) reject(gone());
      };
      dest.once('close', onClose);
      dest.end(this.bytes, (err?: Error | null) => {
        dest.off('close', onClose);
        if (err) reject(err);
        else resolve();
      });
    });
  }
}
