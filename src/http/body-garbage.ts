/**
 * Dead request-body buffers, collected young. Node's HTTP parser hands every body piece to
 * JavaScript as a fresh Buffer of its own (a copy of up to 64 KiB out of the socket's read
 * buffer), which the upload path copies onward at once and drops. Those Buffers are tiny objects
 * on V8's heap with their bytes outside it, so the young generation hardly fills and is rarely
 * scavenged; what grows is external memory, and V8 answers that with full mark-compact
 * collections (concurrent marking on its helper threads, then a pause on this one). Measured
 * (512 MiB curl upload, 2-core machine): 57 major collections per GiB uploaded against 9 minor
 * ones, ≈0.8 CPU-s per GiB on this thread and as much again on the helpers.
 *
 * A scavenge frees a dead young Buffer's bytes as well, and costs only what is still alive in
 * the young generation (little: a request's objects). So once every few MiB of body delivered,
 * this thread runs one (core/minor-gc.ts). Pieces the consumer released as it copied them
 * (core/fresh-pieces.ts: encrypted uploads sealed on the byte threads) are already freed and
 * not counted, so this runs only for bodies consumed some other way.
 */
import { minorGc } from '../core/minor-gc.js';

/** Body bytes between two scavenges. */
export const DEFAULT_COLLECT_EVERY = 8 * 1024 * 1024;

export class BodyGarbage {
  private since = 0;
  /** Scavenges run so far (for tests and diagnostics). */
  collections = 0;

  constructor(private readonly every = DEFAULT_COLLECT_EVERY) {}

  /** Counts `bytes` of body delivered and left to the GC; scavenges once `every` bytes have been. */
  delivered(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every) return;
    this.since = 0;
    this.collections++;
    minorGc();
  }
}
