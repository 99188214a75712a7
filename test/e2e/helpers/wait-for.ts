/**
 * Waiting in end-to-end tests for something the server does in the background (a periodic run,
 * a flush, a cache that lapses). The test polls for the outcome itself; the deadline only ends a
 * hang. It is not a performance bound: on a loaded 2-core machine the server's timers and
 * requests may be many times slower than on an idle one, and that must not fail a test.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Long enough that only a hang reaches it. */
export const HANG_MS = 120_000;

export interface WaitOptions {
  /** Ends a hang; defaults to HANG_MS. */
  timeoutMs?: number;
  /**
   * Pause between probes. Unset: 10 ms after the first probe, doubling up to 250 ms, so that what
   * happens at once is seen at once and a long wait does not probe the server hundreds of times.
   */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and returns that,
 * so that the caller asserts on what was seen. Fails naming `what` if that never happens.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? HANG_MS;
  const deadline = Date.now() + timeoutMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
    const seen = await probe();
    if (seen !== undefined && seen !== false) return seen;
    if (Date.now() >= deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}; it never happened`);
    await sleep(opts.intervalMs ?? pause);
  }
}
