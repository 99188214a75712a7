/**
 * V8 settings for the whole process, set before anything else is loaded. Imports only node:
 * built-ins: cli/main.ts, which imports it, must load on any Node to say which one it needs.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * How far past what the last full collection found alive the old generation may grow before
 * the next one: 1.3×. V8 picks this factor itself, up to 4× when it collects fast relative to
 * the program's allocation. Under 200 streaming uploads everything an upload keeps across two
 * scavenges of the small young generation (below) is promoted: the requests' pieces' wrappers,
 * their promises, and at the crowd's end every commit's objects. 3 s after such a crowd the main
 * heap was up to 82 MB (79 used) where a full collection left ~23, and V8 kept the pages: the
 * largest and most variable part of the 50 → 200 growth of the peak. At 1.3× the 200 peak came
 * out 0.90–0.99 of V8's own (notes/2026-12-05-s18-rss.md).
 */
export const HEAP_GROWING_PERCENT = 30;

/**
 * `given` (the process's execArgv and NODE_OPTIONS) wins for each setting it names: a
 * semi-space size, or a heap growing percent (the latter only on the command line, since
 * NODE_OPTIONS refuses it).
 */
export function tuneV8Heap(given: readonly string[]): void {
  const names = (part: string): boolean => given.some((a) => a.includes(part));
  /*
   * V8 grows the young generation up to 32 MB while the modules load and never shrinks it, and
   * a large young generation lets dead request buffers (external memory, freed only when a
   * scavenge finds them dead) pile up: tens of MB during a large push. Kept at its initial size,
   * scavenges are more frequent but each as cheap (the live young objects are few). Only a flag
   * set before anything is allocated does this (`--max-semi-space-size` cannot be set at run time).
   */
  if (!names('semi-space')) setFlagsFromString('--semi-space-growth-factor=1');
  if (!names('heap-growing-percent') && !names('heap_growing_percent')) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
