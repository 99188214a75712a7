/**
 * Copying bytes into shared memory (a SharedArrayBuffer) at memcpy's speed. `dst.set(src, at)`
 * into shared memory is copied by V8 word by word with relaxed atomics
 * (`v8::internal::relaxed_memmove`): for the seal slots it was 16.6 % of an upload's server CPU
 * samples, against 1.2 % for the glibc memcpy of the same bytes out of the HTTP parser (perf,
 * 3 × 512 MiB Node-client pushes, notes/2026-12-07-s33-handoff.md). Buffer's fill() with a buffer
 * as the value copies with memcpy in C++, shared memory or not; given a range of exactly
 * `src.length` bytes it never repeats the value.
 */

const fill = Buffer.prototype.fill;

/**
 * Copies all of `src` into `dst` at `at` (the caller keeps it within `dst`). Either side may be
 * shared memory: V8 copies relaxed in both directions (into a slot, and out of a download's ring).
 * `dst` need not be a Buffer: Buffer's fill() works on any Uint8Array.
 */
export function copyInto(dst: Uint8Array, at: number, src: Uint8Array): void {
  fill.call(dst, src, at, at + src.length);
}
