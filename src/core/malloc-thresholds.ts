/**
 * Keeps glibc's malloc from handing freed memory back to the kernel a few MiB at a time, for
 * threads whose garbage is a stream of same-sized external buffers (Node's cipher outputs: it
 * has no API to decipher into a buffer of ours). By default glibc mmaps blocks over 128 KiB and
 * trims an arena whose free top exceeds twice that; freeing an mmapped block raises both
 * thresholds to that block's size (mallopt(3), "dynamic mmap threshold"), which is the only way
 * to move them from JavaScript. Without this, each collection of a thread's dead 256 KiB
 * outputs was given back and faulted in again for the next ones: 130–150 k minor page faults and
 * 3–4 CPU-s per GiB downloaded with two threads on one download or four downloads at once.
 * Blocks must stay at most 32 MiB (glibc's ceiling for the adjustment). The cost: up to twice
 * `bytes` of free memory kept per arena, and blocks under `bytes` served from arenas. Other
 * allocators (musl) ignore all this, harmlessly.
 */
import { minorGc } from './minor-gc.js';

export const MALLOC_THRESHOLD = 4 * 1024 * 1024;

export function raiseMallocThresholds(bytes = MALLOC_THRESHOLD): void {
  // Allocated (above the threshold, so mmapped), dropped, and freed by the collection.
  Buffer.allocUnsafeSlow(bytes).fill(0, 0, 1);
  minorGc();
}
