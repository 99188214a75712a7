/**
 * Memory handed back once uploads stop (issue 14, "flat while 200 uploads stream"). Under a crowd
 * of uploads the process allocates and frees hundreds of MB in 256 KiB blocks: seal slots, byte
 * threads' held chunks, tails and records. glibc keeps what is freed inside its arenas, and the
 * byte threads, idle after the crowd, never collect: the memory of one crowd stayed resident for
 * good and the next crowd started from there. So once no append has run for `delayMs`, the main
 * thread collects its heap (only when the seal pool dropped slots: they are old objects, and a full
 * collection pauses the event loop for a few ms) and every running byte thread collects its own
 * and trims malloc (memory-task.ts). A timer rather than the moment the last append ends: a
 * push of many layers has gaps of a few ms between blobs, and one collection after it is enough.
 */
import { majorGc } from '../../core/minor-gc.js';
import type { ByteThreads } from './threads.js';
import type { FromMemory, ToMemory } from './memory-task.js';

/** How long byte work must have stopped before memory is handed back. */
export const QUIET_MS = 1000;

export class QuietMemory {
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  /** Times memory was handed back, and byte threads' collections done (for tests and diagnostics). */
  returns = 0;
  collected = 0;
  /** Collections after which malloc gave memory back. */
  trimmed = 0;

  constructor(
    private readonly threads: ByteThreads,
    private readonly delayMs = QUIET_MS,
  ) {
    for (const t of threads.threads) {
      t.on('memory', (m) => {
        this.collected++;
        if ((m as FromMemory).trimmed) this.trimmed++;
      });
    }
  }

  /** Byte work started again: nothing to hand back yet. */
  busy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Byte work stopped, having let go of `droppedBytes` of shared memory the main heap still references. */
  quiet(droppedBytes = 0): void {
    this.dropped += droppedBytes;
    this.busy();
    this.timer = setTimeout(() => this.handBack(), this.delayMs);
    this.timer.unref();
  }

  private handBack(): void {
    this.timer = undefined;
    if (this.threads.isClosed) return;
    this.returns++;
    if (this.dropped > 0) majorGc();
    this.dropped = 0;
    const m: ToMemory = { kind: 'memory', op: 'collect' };
    // Only threads that run: a stopped one holds nothing, and posting would start it.
    for (const t of this.threads.threads) if (t.worker) t.post(m);
  }
}
