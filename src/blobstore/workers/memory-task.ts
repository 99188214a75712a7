/**
 * The memory task of a byte thread: once the main thread says the byte work went quiet, a full
 * collection of this thread's heap (an idle isolate never runs one, so the wrappers of every slot
 * it was sent and any buffer left to the GC stayed, holding their memory) and then glibc's
 * malloc_trim, which gives back the free pages of every arena of the process (core/malloc-trim.ts),
 * here rather than on the event loop.
 */
import { majorGc } from '../../core/minor-gc.js';
import { trimMalloc } from '../../core/malloc-trim.js';
import type { ThreadMessage } from './threads.js';

/** `collect`: a collection, then the trim; `trim`: the trim alone (while a crowd's uploads end). */
export interface ToMemory extends ThreadMessage {
  kind: 'memory';
  op: 'collect' | 'trim';
}

/** Done: `trimmed` says whether malloc gave any memory back (false without the addon). */
export interface FromMemory extends ThreadMessage {
  kind: 'memory';
  op: 'collected' | 'trimmed';
  trimmed: boolean;
}

export function memoryTask(reply: (m: FromMemory) => void): (m: ThreadMessage) => void {
  return (m) => {
    if ((m as ToMemory).op === 'trim') {
      reply({ kind: 'memory', op: 'trimmed', trimmed: trimMalloc() });
      return;
    }
    majorGc();
    reply({ kind: 'memory', op: 'collected', trimmed: trimMalloc() });
  };
}
