/**
 * The memory task of a byte thread: once the main thread says the byte work went quiet, a full
 * collection of this thread's heap (an idle isolate never runs one, so the wrappers of every slot
 * it was sent and any buffer left to the GC stayed, holding their memory) and then glibc's
 * malloc_trim, which gives back the free pages of every arena of the process (core/malloc-trim.ts),
 * here rather than on the event loop. And the seal pool's free slots' pages handed back with
 * madvise (`release`), which took the event loop 2-6 ms in one go after a crowd of uploads.
 */
import { majorGc } from '../../core/minor-gc.js';
import { releasePages, trimMalloc } from '../../core/malloc-trim.js';
import { CLAIM, type FromMemory, type ToMemory } from './memory-protocol.js';
import type { ThreadMessage } from './threads.js';

export function memoryTask(reply: (m: FromMemory) => void): (m: ThreadMessage) => void {
  return (message) => {
    const m = message as ToMemory;
    if (m.op === 'release') {
      if (Atomics.compareExchange(m.claim, 0, CLAIM.pending, CLAIM.running) !== CLAIM.pending) {
        reply({ kind: 'memory', op: 'released', id: m.id, bytes: -1 });
        return;
      }
      let bytes = 0;
      for (const v of m.views) bytes += releasePages(v);
      Atomics.store(m.claim, 0, CLAIM.done);
      reply({ kind: 'memory', op: 'released', id: m.id, bytes });
      return;
    }
    if (m.op === 'trim') {
      reply({ kind: 'memory', op: 'trimmed', trimmed: trimMalloc() });
      return;
    }
    majorGc();
    reply({ kind: 'memory', op: 'collected', trimmed: trimMalloc() });
  };
}
