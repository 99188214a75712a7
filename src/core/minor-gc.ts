/**
 * A young-generation collection on demand, for byte paths whose garbage is mostly external
 * memory (network and cipher buffers): V8 schedules collections by the JS heap's allocation and
 * only late by external memory, so tens of MB of dead buffers wait for a GC while the JS heap
 * hardly grows, and malloc keeps the peak. A scavenge of a small young generation costs well
 * under a millisecond. `gc` is taken from a new context made here, never put on the global of
 * any existing one. The flag stays set: V8 flags are the process's, and clearing it here could
 * race another thread between its own setting and its context.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (opts: { type: 'minor' | 'major' }) => void;
let collect: Collect | undefined;

function gc(): Collect {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  }
  return collect;
}

export function minorGc(): void {
  gc()({ type: 'minor' });
}

/**
 * A full collection, for a thread that has gone quiet (it frees old-generation objects holding
 * external memory: dropped seal slots, an idle byte thread's buffers). Pauses the calling thread
 * for the whole heap: never on a busy event loop.
 */
export function majorGc(): void {
  gc()({ type: 'major' });
}
