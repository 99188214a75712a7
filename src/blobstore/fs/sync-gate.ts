/**
 * Whether a download's open, fstat, small read and close may be done with synchronous syscalls on
 * the calling (main) thread, or must go through libuv's thread pool.
 *
 * Inline, a small blob GET costs about half the server CPU (session 13: no pool round trips, no
 * FileHandle promises), but only while the disk answers in microseconds. On a cold page cache, a
 * network file system or a busy disk each such call waits for the disk on the event loop, and
 * every other request waits with it. No setting chosen at start can know which disk it will get,
 * or when it turns slow, so in `auto` every synchronous call is timed and the gate decides:
 *
 *   inline ──(SLOW_OF_LAST of the last LAST calls took ≥ slowCallMicros)──► async
 *   async ──(after retryMs × backoff)──► probing: the next download's calls run inline again
 *   probing ──(its first call is fast)──► inline
 *   probing ──(it is slow)──► async, backoff doubled (up to MAX_BACKOFF)
 *
 * Several slow calls, not one, and no moving average: a call's wall time also counts the time the
 * thread was preempted, and on a loaded machine (load 20–40 on 2 cores, session 14) single calls
 * of a few µs measured milliseconds now and then; a moving average took one such outlier as a slow
 * disk, sent 80 % of small GETs to the pool and cost them 4–7× the CPU. A cold name (one slow
 * open) is absorbed; a disk slow for most calls switches within a few. A return that is followed
 * soon by another switch keeps the longer period (backoff), so a disk slow for some calls and fast
 * for others is probed rarely. A probe risks one slow call per period. The durations are the only
 * input, measured with the monotonic clock (performance.now), which is no wall clock.
 */
import { performance } from 'node:perf_hooks';

export type BlobOpenMode = 'auto' | 'inline' | 'async';

export interface SyncGateOptions {
  /** auto (default): switch on measured durations; inline: always on the calling thread; async: never. */
  mode?: BlobOpenMode;
  /** A synchronous call taking at least this long is slow (µs; default 500); SLOW_OF_LAST of the last LAST send calls to the pool. */
  slowCallMicros?: number;
  /** How long calls stay on the pool before a download tries inline again (ms; default 1000). */
  retryMs?: number;
  /** Told of each switch (for the log: an operator sees when and why downloads left the event loop). */
  onSwitch?: (to: 'async' | 'inline', detail: GateSwitch) => void;
}

export interface GateSwitch {
  /** To async: the slow calls among the last ones looked at, and the threshold (µs). */
  slowCalls?: number;
  ofLast?: number;
  slowCallMicros: number;
  /** To async: how long until inline is tried again (ms). */
  retryInMs?: number;
}

/**
 * Warm page cache, measured in session 13: open 2–10 µs, fstat 1–3, a pread of 64 KiB 10–30.
 * Half a millisecond is a disk (or a network) answering: more than the pool round trips of a
 * whole GET cost the CPU.
 */
const DEFAULTS = { slowCallMicros: 500, retryMs: 1000 };
/** How many of the last calls are looked at, and how many of them slow make the switch. */
const LAST = 8;
const SLOW_OF_LAST = 3;
/** A disk slow at every probe is tried again at most every 64 × retryMs. */
const MAX_BACKOFF = 64;

export class SyncGate {
  readonly mode: BlobOpenMode;
  private readonly onSwitch: SyncGateOptions['onSwitch'];
  /** Thresholds and period; may be changed while running (an operator's tool, or a test making a disk "fast" again). */
  slowCallMicros: number;
  retryMs: number;

  private state: 'inline' | 'async' | 'probing' = 'inline';
  /** The last LAST calls, a bit each (1: slow), and how many of them are slow. */
  private recent = 0;
  private slowRecent = 0;
  private asyncSince = 0;
  private returnedAt = Number.NEGATIVE_INFINITY;
  private backoff = 1;
  /** Downloads opened each way, and the switches (for tests and diagnostics). */
  readonly counts = { inline: 0, async: 0, toAsync: 0, toInline: 0 };

  constructor(opts: SyncGateOptions = {}) {
    this.mode = opts.mode ?? 'auto';
    this.slowCallMicros = opts.slowCallMicros ?? DEFAULTS.slowCallMicros;
    this.retryMs = opts.retryMs ?? DEFAULTS.retryMs;
    this.onSwitch = opts.onSwitch;
  }

  /** Where the gate stands: 'inline', 'async', or 'probing' (the next calls try inline again). */
  get current(): 'inline' | 'async' | 'probing' {
    if (this.state === 'async' && performance.now() >= this.asyncSince + this.retryMs * this.backoff) this.state = 'probing';
    return this.state;
  }

  /** Whether a download opened now does its calls on the calling thread; counts it either way. */
  opensInline(): boolean {
    const inline = this.mode === 'inline' || (this.mode === 'auto' && this.current !== 'async');
    this.counts[inline ? 'inline' : 'async']++;
    return inline;
  }

  /** Runs one synchronous call and takes its duration into account (it throws as the call does). */
  time<T>(call: () => T): T {
    if (this.mode !== 'auto') return call();
    const start = performance.now();
    try {
      return call();
    } finally {
      this.record((performance.now() - start) * 1000);
    }
  }

  private record(micros: number): void {
    const slow = micros >= this.slowCallMicros;
    if (this.state === 'probing') {
      if (slow) {
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
        this.toAsync({ slowCalls: 1, ofLast: 1 });
      } else {
        this.state = 'inline';
        this.recent = 0;
        this.slowRecent = 0;
        this.returnedAt = performance.now();
        this.counts.toInline++;
        this.onSwitch?.('inline', { slowCallMicros: this.slowCallMicros });
      }
      return;
    }
    // Calls of a download that was opened inline before the switch still arrive; they count no more.
    if (this.state !== 'inline') return;
    const oldest = (this.recent >> (LAST - 1)) & 1;
    this.recent = ((this.recent << 1) | (slow ? 1 : 0)) & ((1 << LAST) - 1);
    this.slowRecent += (slow ? 1 : 0) - oldest;
    if (this.slowRecent < SLOW_OF_LAST) return;
    // Slow again soon after coming back: the disk is slow for some calls, so probe it less often.
    const now = performance.now();
    this.backoff = now - this.returnedAt < 4 * this.retryMs * this.backoff ? Math.min(this.backoff * 2, MAX_BACKOFF) : 1;
    this.toAsync({ slowCalls: this.slowRecent, ofLast: LAST });
  }

  private toAsync(why: { slowCalls: number; ofLast: number }): void {
    this.state = 'async';
    this.asyncSince = performance.now();
    this.counts.toAsync++;
    this.onSwitch?.('async', { ...why, slowCallMicros: this.slowCallMicros, retryInMs: this.retryMs * this.backoff });
  }
}
