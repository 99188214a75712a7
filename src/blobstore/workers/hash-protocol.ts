/**
 * The messages between the hash pool (registry/hash-pool.ts, main thread) and the hashing task
 * of the byte threads. Bytes travel in shared memory: the pool's slabs are SharedArrayBuffers
 * cut into batch-sized slots, each worker is given every slab once, and a batch is then named by
 * its slot, which is cheaper to post than a transferred buffer and leaves nothing to allocate
 * per batch.
 */
import type { DigestAlgorithm } from '../../core/digest.js';

type HashOp =
  /** Slab `index` of the pool, `slotBytes` per slot. */
  | { op: 'slab'; index: number; sab: SharedArrayBuffer; slotBytes: number; slots: number }
  /** No slot is in use: the slabs from index `keep` on are let go (their memory is freed once no thread holds them). */
  | { op: 'unslab'; keep: number }
  | { op: 'open'; id: number; alg: DigestAlgorithm }
  /** The first `len` bytes of slot `slot` are the session's next bytes. */
  | { op: 'update'; id: number; slot: number; len: number }
  | { op: 'digest'; id: number }
  | { op: 'drop'; id: number };

type HashReply =
  /** A batch was hashed: its slot may be reused. */
  | { op: 'ack'; id: number; slot: number }
  /** The digest in hex; undefined when the worker knew no such session. */
  | { op: 'digest'; id: number; hex: string | undefined };

export type ToWorker = { kind: 'hash' } & HashOp;
export type FromWorker = { kind: 'hash' } & HashReply;
