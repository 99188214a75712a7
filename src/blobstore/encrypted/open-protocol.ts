/**
 * The messages between the open pool (open-pool.ts, main thread) and the opening task of the byte
 * threads (open-task.ts). A download has a ring of its own: a SharedArrayBuffer cut into slots
 * the worker fills with plaintext and the main thread writes to the socket from. A slot is the
 * worker's to fill only once the main thread has credited it (at the start, every slot; then
 * each slot again once the socket has taken its bytes), which is the backpressure from the
 * socket to the worker.
 *
 * The sealed bytes come either from an fd the worker reads itself (fs), or, from a store with no
 * fd (S3), through a second ring the main thread fills from the store's stream: an input slot is
 * the main thread's to fill again once the worker has said it has `taken` it, which is the
 * backpressure from the worker to the store's stream.
 */
import type { ChunkRun } from './chunk-format.js';

/**
 * One download opened on several threads: the run's chunks are cut into stripes of `chunks`
 * chunks (stripe k: chunks firstChunk + k·chunks onwards), stripe k is opened by part k mod
 * `parts`, and each stripe fills exactly one slot of that part's ring, so the main thread hands
 * on the parts' slots in turn and gets the run in order.
 */
export interface Stripe {
  chunks: number;
  parts: number;
  part: number;
}

/** Where a download's sealed bytes come from. */
export type OpenerSource =
  /** An fd of this process (threads share them), open for reading the sealed blob. */
  | { fd: number }
  /** An input ring the main thread fills with the run's sealed bytes, in order (`input` messages). */
  | { input: SharedArrayBuffer; inputSlotBytes: number };

type OpenerOp =
  | {
      op: 'start';
      id: number;
      source: OpenerSource;
      dataKey: Uint8Array;
      chunkSize: number;
      run: ChunkRun;
      label: string;
      ring: SharedArrayBuffer;
      slotBytes: number;
      /** This worker opens only stripe `part`, `part + parts`, … of the run (fd sources only). */
      stripe?: Stripe;
      /** false: decipher with Node's crypto even where the native opener loads (native-gcm.ts). */
      native?: boolean;
      /** false: the native opener keeps to OpenSSL's GCM where it could run its own AVX2 one (native-gcm.ts). */
      avx2?: boolean;
      /** false: read an fd with preads even where mappings are available (mapped-file.ts). */
      mapped?: boolean;
    }
  /** Slot `slot` may be filled (again). */
  | { op: 'credit'; id: number; slot: number }
  /** The first `len` bytes of input slot `slot` are the next sealed bytes; `last`: nothing follows (then `len` may be 0, `slot` -1). */
  | { op: 'input'; id: number; slot: number; len: number; last: boolean }
  /** Stop reading: answered by `stopped`, after which the worker no longer touches the fd or the rings. */
  | { op: 'stop'; id: number }
  /**
   * Fill no more slots: the rest goes to a socket (open-send.ts). Answered by `switched` once every
   * slot filled so far has been posted, unless the download has already ended.
   */
  | { op: 'send'; id: number }
  /**
   * Every posted slot is in the kernel's hands: write the rest of the run to `sock` (a dup of the
   * client's socket that the main thread owns and closes after `sent`, `fail` or `stopped`), and
   * give up (`fail` with `cut`) once the client has taken fewer than `minBytes` in a `stallMs`
   * window while bytes waited on it (the response rule, http/slow-clients.ts). `pipe`: through
   * the thread's send pipe (open-pipe.ts) where it starts and the ring has two slots; `pipeBatch`:
   * the pipe's thread, when this starts it, runs as SCHED_BATCH.
   */
  | { op: 'go'; id: number; sock: number; stallMs: number; minBytes: number; pipe?: boolean; pipeBatch?: boolean };

type OpenerReply =
  /**
   * The first `len` bytes of `slot` are the download's next plaintext; `last` when nothing
   * follows; `native`: deciphered by the native opener (else Node's crypto); `mapped`: read
   * through a mapping of the file (else preads or the input ring).
   */
  | { op: 'data'; id: number; slot: number; len: number; last: boolean; native: boolean; mapped: boolean }
  /** Input slot `slot` has been read: the main thread may fill it again. */
  | { op: 'taken'; id: number; slot: number }
  /** The run had no plaintext to give (an empty blob's one chunk, authenticated). */
  | { op: 'end'; id: number; native: boolean; mapped: boolean }
  /**
   * The download failed; the worker no longer touches the fd (`bytes`: what a sent download had
   * written to the socket; `cut`: its client took too little, the response rule's cut).
   */
  | { op: 'fail'; id: number; message: string; integrity: boolean; bytes?: number; cut?: boolean }
  | { op: 'stopped'; id: number }
  /** No slot will be filled any more (after `send`): the main thread writes what was posted, then says `go`. */
  | { op: 'switched'; id: number }
  /**
   * The run's plaintext after the posted slots is in the socket, `bytes` of it, but for its last
   * bytes, left in the ring at `tail` for the main thread to end the response with; the worker no
   * longer touches the fd, the socket or the ring.
   */
  | { op: 'sent'; id: number; bytes: number; tail: { at: number; len: number } | undefined; native: boolean; mapped: boolean };

export type ToOpener = { kind: 'open' } & OpenerOp;
export type FromOpener = { kind: 'open' } & OpenerReply;
