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
 *   inline ──(one call ≥ slowCallMicros, or the moving average ≥ slowAverageMicros)──► async
 *   async ──(after retryMs × backoff)──► probing: the next download's calls run inline again
 *   probing ──(its first call < slowAverageMicros)──► inline (backoff back to 1)
 *   probing ──(otherwise)──► async, backoff doubled (up to MAX_BACKOFF)
 *
 * A probe risks one slow call per period: at the defaults at most one stall of one call per
 * second, and after a run of slow probes one per minute. The durations are the only input;
 * they are measured with the monotonic clock (performance.now), which is no wall clock.
 */
import { performance } from 'node:perf_hooks';

export type BlobOpenMode = 'auto' | 'inline' | 'async';

export interface SyncGateOptions {
  /** auto (default): switch on measured durations; inline: always on the calling thread; async: never. */
  mode?: BlobOpenMode;
  /** One synchronous call taking at least this long sends later calls to the pool (µs; default 1000). */
  slowCallMicros?: number;
  /** The moving average (over ~16 calls) reaching this does too (µs; default 250). */
  slowAverageMicros?: number;
  /** How long calls stay on the pool before a download tries inline again (ms; default 1000). */
  retryMs?: number;
}

/**
 * Warm page cache, measured in session 13: open 2–10 µs, fstat 1–3, a pread of 64 KiB 10–30.
 * A millisecond is a disk (or a network) answering; a quarter of one on average is a disk that
 * would cost every small GET more on the event loop than the pool round trips it saves.
 */
const DEFAULTS = { slowCallMicros: 1000, slowAverageMicros: 250, retryMs: 1000 };
/** A disk slow at every probe is tried again at most every 64 × retryMs. */
const MAX_BACKOFF = 64;
/** The moving average's weight of a new duration. */
const WEIGHT = 1 / 16;

export class SyncGate {
  readonly mode: BlobOpenMode;
  /** Thresholds and period; may be changed while running (an operator's tool, or a test making a disk "fast" again). */
  slowCallMicros: number;
  slowAverageMicros: number;
  retryMs: number;

  private state: 'inline' | 'async' | 'probing' = 'inline';
  private averageMicros = 0;
  private asyncSince = 0;
  private backoff = 1;
  /** Downloads opened each way, and the switches (for tests and diagnostics). */
  readonly counts = { inline: 0, async: 0, toAsync: 0, toInline: 0 };

  constructor(opts: SyncGateOptions = {}) {
    this.mode = opts.mode ?? 'auto';
    this.slowCallMicros = opts.slowCallMicros ?? DEFAULTS.slowCallMicros;
    this.slowAverageMicros = opts.slowAverageMicros ?? DEFAULTS.slowAverageMicros;
    this.retryMs = opts.retryMs ?? DEFAULTS.retryMs;
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
    if (this.state === 'probing') {
      if (micros < this.slowAverageMicros && micros < this.slowCallMicros) {
        this.state = 'inline';
        this.averageMicros = micros;
        this.backoff = 1;
        this.counts.toInline++;
      } else {
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
        this.toAsync();
      }
      return;
    }
    // Calls of a download that was opened inline before the switch still arrive; they count no more.
    if (this.state !== 'inline') return;
    this.averageMicros += (micros - this.averageMicros) * WEIGHT;
    if (micros >= this.slowCallMicros || this.averageMicros >= this.slowAverageMicros) this.toAsync();
  }

  private toAsync(): void {
    this.state = 'async';
    this.asyncSince = performance.now();
    this.counts.toAsync++;
  }
}
