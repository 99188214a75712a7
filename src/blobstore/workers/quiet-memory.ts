/**
 * Memory handed back once uploads stop (issue 14, "flat while 200 uploads stream"). Under a crowd
 * of uploads the process allocates and frees hundreds of MB in 256 KiB blocks: seal slots, byte
 * threads' held chunks, tails and records. glibc keeps what is freed inside its arenas, and the
 * byte threads, idle after the crowd, never collect: the memory of one crowd stayed resident for
 * good and the next crowd started from there. So once no append has run for `delayMs`, every
 * running byte thread collects its heap and trims malloc (memory-task.ts), off the event loop. A
 * timer rather than the moment the last append ends: a push of many layers has gaps of a few ms
 * between blobs, and one collection after it is enough. The main thread is not collected: a full
 * collection forced there took 86-215 ms for a 48 MB heap on the loaded 2-core machine, a pause
 * every request would wait behind; the seal slots it drops when idle are left to V8's own
 * collections (concurrent, short pauses).
 *
 * Memory the main thread keeps for good but can do without (the seal pool's free slots) is handed
 * back at the same moment, by a byte thread too (release()): see seal-slots.ts.
 *
 * A thread with work awaited (a download it opens, a hash) is collected only once it is idle, or
 * after BUSY_WAIT_MS: "quiet" counts appends only, so a pull that starts within the delay after a
 * push (skopeo's copy in, then out) could have its byte threads stop mid-download for a full
 * collection, 96-98 ms each on the 2-core PVM guest (--trace-gc), and a malloc trim whose pages
 * the download's buffers then fault in again (notes/2026-12-06-s25-skopeo.md).
 */
import type { ByteThread, ByteThreads } from './threads.js';
import { CLAIM, type FromMemory, type ToMemory } from './memory-protocol.js';

/** How long byte work must have stopped before memory is handed back. */
export const QUIET_MS = 1000;

/** How long the collection waits at most for a busy thread to go idle (a server never idle still collects). */
export const BUSY_WAIT_MS = 10_000;

/** How often a busy thread is looked at again. */
const BUSY_RETRY_MS = 100;

/** At most one trim this often while uploads end (trimSoon). */
export const TRIM_EVERY_MS = 200;

/**
 * How long a release may wait for its thread before what it holds is taken back unreleased: a
 * thread busy that long (or stuck) must not keep memory out of use. A release takes well under
 * this (2-6 ms of madvise for the whole budget on the loaded 2-core machine).
 */
export const RELEASE_BOUND_MS = 5000;

/**
 * Release ids, unique in the process: a thread routes its memory replies to one listener (the last
 * set for its kind), so with two pools on one set of threads (only tests do that) an answer may
 * reach the other pool's QuietMemory, which must not take it for one of its own.
 */
let nextRelease = 1;

interface Release {
  thread: ByteThread;
  claim: Int32Array;
  done: (released: boolean) => void;
  bound: NodeJS.Timeout;
}

export class QuietMemory {
  private timer: NodeJS.Timeout | undefined;
  /** Times memory was handed back, and byte threads' collections done (for tests and diagnostics). */
  returns = 0;
  collected = 0;
  /** Collections after which malloc gave memory back. */
  trimmed = 0;
  /** Trims done while uploads ended (trimSoon). */
  trims = 0;
  private trimming = false;
  private lastTrim = 0;
  private nextThread = 0;
  private readonly quietListeners: Array<() => void> = [];
  /** Releases sent and not settled, by id. */
  private readonly releases = new Map<number, Release>();
  private waitingFor: ByteThread[] = [];
  /** Bytes the byte threads said they handed back (release()), for tests and diagnostics. */
  released = 0;

  constructor(
    private readonly threads: ByteThreads,
    private readonly delayMs = QUIET_MS,
    private readonly busyWaitMs = BUSY_WAIT_MS,
  ) {
    for (const t of threads.threads) {
      t.onExit(() => {
        // A dead thread touches nothing more: what it had claimed and finished went back, the rest did not.
        for (const [id, r] of this.releases) if (r.thread === t) this.settle(id, Atomics.load(r.claim, 0) === CLAIM.done);
      });
      t.on('memory', (m) => {
        const reply = m as FromMemory;
        if (reply.op === 'released') {
          if (reply.bytes > 0) this.released += reply.bytes;
          this.settle(reply.id, reply.bytes >= 0);
          return;
        }
        if (reply.op === 'trimmed') {
          this.trimming = false;
          this.trims++;
          return;
        }
        this.collected++;
        if (reply.trimmed) this.trimmed++;
      });
    }
  }

  /** `listener` runs each time byte work has been quiet for the delay (before the collections are asked for). */
  onQuiet(listener: () => void): void {
    this.quietListeners.push(listener);
  }

  /** Whether release() can send to a byte thread now (one runs: a release is not worth starting one). */
  canRelease(): boolean {
    return !this.threads.isClosed && this.threads.threads.some((t) => t.worker);
  }

  /**
   * Hands the whole pages inside `views` back to the kernel on a running byte thread, off the event
   * loop. `done(true)` once the thread did; `done(false)` if it died first or had not begun after
   * RELEASE_BOUND_MS (then it never will: the claim word is taken back). Until `done`, the
   * memory may be zeroed at any moment: the caller lends none of it. Returns false (and never
   * calls `done`) when no byte thread runs (see canRelease()).
   */
  release(views: Uint8Array[], done: (released: boolean) => void): boolean {
    if (!this.canRelease()) return false;
    const running = this.threads.threads.filter((t) => t.worker);
    const thread = running[this.nextThread++ % running.length]!;
    const id = nextRelease++;
    const claim = new Int32Array(new SharedArrayBuffer(4));
    const bound = setTimeout(() => {
      const was = Atomics.compareExchange(claim, 0, CLAIM.pending, CLAIM.cancelled);
      // Running: the thread is inside madvise now; its answer (or its exit) settles it.
      if (was !== CLAIM.running) this.settle(id, was === CLAIM.done);
    }, RELEASE_BOUND_MS);
    bound.unref();
    this.releases.set(id, { thread, claim, done, bound });
    const m: ToMemory = { kind: 'memory', op: 'release', id, views, claim };
    thread.post(m);
    return true;
  }

  /** Releases sent and not yet settled (for tests). */
  get releasing(): number {
    return this.releases.size;
  }

  private settle(id: number, released: boolean): void {
    const r = this.releases.get(id);
    if (!r) return;
    this.releases.delete(id);
    clearTimeout(r.bound);
    r.done(released);
  }

  /** Byte work started again: nothing to hand back yet (a collection waiting for a busy thread is dropped too). */
  busy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waitingFor = [];
  }

  /** Running threads whose collection waits for them to go idle (for tests and diagnostics). */
  get waiting(): number {
    return this.waitingFor.length;
  }

  /** Byte work stopped: memory is handed back unless it starts again within the delay. */
  quiet(): void {
    this.busy();
    this.timer = setTimeout(() => this.handBack(), this.delayMs);
    this.timer.unref();
  }

  /**
   * An upload ended (its commit let its buffers go): malloc is trimmed on a byte thread, at most
   * once per TRIM_EVERY_MS and one at a time. A crowd of uploads ends together, and what its
   * commits and appends' ends freed stayed resident in the main arena until the quiet trim, a
   * second after the last: the crowd's end set the peak (notes/2026-12-05-s13-rss.md). Only on
   * threads already running: a trim is not worth starting one.
   */
  trimSoon(): void {
    const now = performance.now();
    // A thread that died mid-trim never answers: its trim counts as done after a while.
    if ((this.trimming && now - this.lastTrim < 5000) || now - this.lastTrim < TRIM_EVERY_MS || this.threads.isClosed) return;
    const running = this.threads.threads.filter((t) => t.worker);
    if (running.length === 0) return;
    this.trimming = true;
    this.lastTrim = now;
    const m: ToMemory = { kind: 'memory', op: 'trim' };
    running[this.nextThread++ % running.length]!.post(m);
  }

  private handBack(): void {
    this.timer = undefined;
    if (this.threads.isClosed) return;
    this.returns++;
    for (const l of this.quietListeners) l();
    this.collect(this.threads.threads, performance.now() + this.busyWaitMs);
  }

  /** Collects on each of `threads` that runs and is idle; the busy ones are looked at again, until `deadline`. */
  private collect(threads: readonly ByteThread[], deadline: number): void {
    this.timer = undefined;
    if (this.threads.isClosed) return;
    const late = performance.now() >= deadline;
    const m: ToMemory = { kind: 'memory', op: 'collect' };
    const waiting: ByteThread[] = [];
    for (const t of threads) {
      // Only threads that run: a stopped one holds nothing, and posting would start it.
      if (!t.worker) continue;
      if (t.busy && !late) waiting.push(t);
      else t.post(m);
    }
    this.waitingFor = waiting;
    if (waiting.length === 0) return;
    this.timer = setTimeout(() => this.collect(waiting, deadline), BUSY_RETRY_MS);
    this.timer.unref();
  }
}
