/**
 * glibc's malloc_trim(0) through the optional addon (native/malloc-trim.cc, built into dist/native
 * by scripts/build-native.mjs). glibc gives an arena's free memory back to the kernel on free()
 * only from the arena's top, and Node never trims: after a crowd of uploads the pages freed inside
 * the arenas stayed resident (notes/2026-12-04-s10-mem.md: 60 of the main arena's 76 MB were
 * free). Without the addon (no compiler, another libc) trimming does nothing, as before.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface MallocTrim {
  trim(): boolean;
  available(): boolean;
}

const ADDON = fileURLToPath(new URL('../../native/malloc-trim.node', import.meta.url));

let addon: MallocTrim | null | undefined;

function load(): MallocTrim | null {
  try {
    const m = createRequire(import.meta.url)(ADDON) as MallocTrim;
    return m.available() ? m : null;
  } catch {
    return null;
  }
}

/** Whether trimMalloc() can give memory back here (the addon loaded, on glibc). */
export function canTrimMalloc(): boolean {
  addon ??= load();
  return addon !== null;
}

/**
 * Hands every whole free page of every malloc arena (all threads') back to the kernel. Returns
 * whether any was. It locks each arena in turn: call it when the process is quiet, not per chunk.
 */
export function trimMalloc(): boolean {
  addon ??= load();
  return addon?.trim() ?? false;
}
