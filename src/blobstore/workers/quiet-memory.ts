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
 */
import type { ByteThreads } from './threads.js';
import type { FromMemory, ToMemory } from './memory-task.js';

/** How long byte work must have stopped before memory is handed back. */
export const QUIET_MS = 1000;

/** At most one trim this often while uploads end (trimSoon). */
export const TRIM_EVERY_MS = 200;

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

  constructor(
    private readonly threads: ByteThreads,
    private readonly delayMs = QUIET_MS,
  ) {
    for (const t of threads.threads) {
      t.on('memory', (m) => {
        const reply = m as FromMemory;
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

  /** Byte work started again: nothing to hand back yet. */
  busy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
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
    const m: ToMemory = { kind: 'memory', op: 'collect' };
    // Only threads that run: a stopped one holds nothing, and posting would start it.
    for (const t of this.threads.threads) if (t.worker) t.post(m);
  }
}
