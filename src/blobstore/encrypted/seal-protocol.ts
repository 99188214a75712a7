/**
 * The messages between the seal pool (seal-pool.ts, main thread) and the sealing task of the byte
 * threads (seal-task.ts). The main thread fills slots (views of the pool's shared block, lent from
 * its budget and sent with each message) with plaintext and the worker seals from them. A slot is the
 * worker's once posted and the main thread's again once acknowledged, which is the backpressure
 * from the worker to the socket.
 */

type SealOp =
  | {
      op: 'start';
      id: number;
      dataKey: Uint8Array;
      chunkSize: number;
      /** The index of the first chunk this append seals (the chunks before it are stored). */
      index: number;
      /** The plaintext staged after the stored chunks (≤ one chunk): sealing continues from it. */
      tail: Uint8Array;
      /** Where sealed chunks go: an fd of this process, written at `position` on; absent: back in the acks. */
      fd?: number;
      position?: number;
      /**
       * With an fd: seal as bytes come (streamed-chunk.ts, with the native sealer), leaving the
       * tail's ciphertext in the fd after the chunks; `tailStored`: the tail's ciphertext is
       * already there, at `position` (it is enciphered again for the chunk's tag, not rewritten).
       */
      streamed?: boolean;
      tailStored?: boolean;
      /** Bytes written to the fd between early syncs (seal-task.ts SYNC_EVERY by default). */
      syncEvery?: number;
      /** The hash task's session on this thread to feed the plaintext to as well. */
      hashId?: number;
      /** false: the native sealer keeps to OpenSSL's GCM where it could run its own AVX2 one (native-seal.ts). */
      avx2?: boolean;
    }
  /**
   * The first `len` bytes of slot `slot` (whose memory is `buf`, shared) are the append's next
   * plaintext; `more`: at least one byte follows them (sent next), so a chunk they end is not the last.
   */
  | { op: 'data'; id: number; slot: number; len: number; buf: Uint8Array; more?: boolean }
  /** No more plaintext: answered by `done`, after which the worker no longer touches the fd. */
  | { op: 'end'; id: number };

type SealReply =
  /** Slot `slot` was sealed and may be refilled; `sealed`: the whole chunks it completed, when there is no fd. */
  | { op: 'ack'; id: number; slot: number; sealed?: Uint8Array[] }
  /**
   * `chunks` whole chunks were sealed (and written) in all; `tail` is the plaintext after them.
   * `partial`: the tail's ciphertext is in the fd too, that many bytes after the chunks
   * (streamed-chunk.ts).
   */
  | { op: 'done'; id: number; chunks: number; tail: Uint8Array; partial?: number }
  /** The append failed (a write error: `code` as fs gave it); the worker no longer touches the fd. */
  | { op: 'fail'; id: number; message: string; code?: string };

export type ToSealer = { kind: 'seal' } & SealOp;
export type FromSealer = { kind: 'seal' } & SealReply;
