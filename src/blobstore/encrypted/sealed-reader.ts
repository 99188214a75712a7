/**
 * Reads a sealed blob through a positional handle (BlobStore.open): each sealed chunk is read
 * into the one buffer this reader keeps and opened where it lies. ChunkOpener keeps no reference
 * to a piece, so the buffer is refilled for the next chunk and a download allocates only the
 * plaintext it sends — half the garbage of a stream that allocates every read, and garbage is
 * what the data path's CPU went to (a full collection every few tens of MiB moved).
 */
import { Readable } from 'node:stream';
import type { BlobHandle } from '../blob-store.js';
import { TAG_SIZE, type ChunkRun } from './chunk-format.js';
import { ChunkOpener } from './chunk-opener.js';

class SealedReader extends Readable {
  private readonly buf: Buffer;
  private readonly opener: ChunkOpener;
  private pending: Buffer[] = [];
  private position: number;
  private reading = false;

  constructor(
    private readonly handle: BlobHandle,
    opts: { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string },
  ) {
    super({ highWaterMark: opts.chunkSize });
    this.buf = Buffer.allocUnsafe(opts.chunkSize + TAG_SIZE);
    this.opener = new ChunkOpener(opts, (plain) => this.pending.push(plain));
    this.position = opts.run.cipherStart;
  }

  /**
   * Opens chunks until one yields plaintext (an empty blob's one chunk yields none); undefined
   * once the run is done. Throws BlobIntegrityError for a chunk that fails or a blob cut short.
   */
  async fill(): Promise<Buffer[] | undefined> {
    while (this.pending.length === 0) {
      if (this.opener.done) {
        this.opener.end();
        return undefined;
      }
      const want = this.opener.storedLength(this.opener.next);
      let have = 0;
      while (have < want) {
        const n = await this.handle.read(this.buf.subarray(have, want), this.position + have);
        if (n === 0) break;
        have += n;
      }
      this.position += have;
      this.opener.consume(this.buf.subarray(0, have));
      // Fewer bytes than the chunk needs: the file ends early.
      if (have < want) this.opener.end();
    }
    const out = this.pending;
    this.pending = [];
    return out;
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.fill().then(
      (plain) => {
        this.reading = false;
        if (plain === undefined) this.push(null);
        else for (const p of plain) this.push(p);
      },
      (e: Error) => this.destroy(e),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.handle.close().then(
      () => cb(err),
      (closeErr: Error) => cb(err ?? closeErr),
    );
  }
}

/**
 * The plaintext of `run`, read from `handle`, which the stream then owns (closed when it ends
 * or is destroyed). The first chunk is opened before this resolves, so a blob that fails
 * authentication is refused before a client has been answered.
 */
export async function openSealedReader(handle: BlobHandle, opts: { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string }): Promise<Readable> {
  const reader = new SealedReader(handle, opts);
  let first: Buffer[] | undefined;
  try {
    first = await reader.fill();
  } catch (e) {
    reader.destroy();
    throw e;
  }
  if (first === undefined) reader.push(null);
  else for (const p of first) reader.push(p);
  return reader;
}
