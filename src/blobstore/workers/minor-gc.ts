/**
 * A young-generation collection on demand, for byte paths whose garbage is mostly external
 * memory (network and cipher buffers): V8 schedules collections by the JS heap's allocation and
 * only late by external memory, so tens of MB of dead buffers wait for a GC while the JS heap
 * hardly grows, and malloc keeps the peak. A scavenge of a small young generation costs well
 * under a millisecond. `gc` is exposed only to the new context made here, not to any other.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as (opts: { type: 'minor' }) => void;

export function minorGc(): void {
  collect({ type: 'minor' });
}
