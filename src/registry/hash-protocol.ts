/** The messages between the hash pool (main thread) and its worker threads. */
import type { DigestAlgorithm } from '../core/digest.js';

export type ToWorker =
  | { op: 'open'; id: number; alg: DigestAlgorithm }
  /** `len` bytes at the start of `buf` (transferred) are the session's next bytes. */
  | { op: 'update'; id: number; buf: ArrayBuffer; len: number }
  | { op: 'digest'; id: number }
  | { op: 'drop'; id: number };

export type FromWorker =
  /** A batch was hashed; its buffer comes back (transferred) for reuse. */
  | { op: 'ack'; id: number; buf: ArrayBuffer }
  /** The digest in hex; undefined when the worker knew no such session. */
  | { op: 'digest'; id: number; hex: string | undefined };
