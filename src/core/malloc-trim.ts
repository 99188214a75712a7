/**
 * glibc's malloc_trim(0), and madvise for memory Berth keeps for good, through the optional addon
 * (native/malloc-trim.cc, built into dist/native by scripts/build-native.mjs). glibc gives an arena's free memory back to the kernel on free()
 * only from the arena's top, and Node never trims: after a crowd of uploads the pages freed inside
 * the arenas stayed resident (notes/2026-12-04-s10-mem.md: 60 of the main arena's 76 MB were
 * free). Without the addon (no compiler, another libc) trimming does nothing, as before.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface MallocTrim {
  trim(): boolean;
  available(): boolean;
  release(view: Uint8Array): number;
  resident(view: Uint8Array): number;
  pageOffset?(view: Uint8Array): number;
}

const ADDON = fileURLToPath(new URL('../../native/malloc-trim.node', import.meta.url));

let addon: MallocTrim | null | undefined;

/** Why the addon did not load, once it was tried and did not. */
let missing: string | undefined;

function load(): MallocTrim | null {
  try {
    const m = createRequire(import.meta.url)(ADDON) as MallocTrim;
    if (m.available()) return m;
    missing = 'not built against glibc';
  } catch (e) {
    missing = `${ADDON} did not load (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  return null;
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

/** Why memory cannot be handed back here (no addon, or not glibc), or undefined when it can. */
export function mallocTrimUnavailable(): string | undefined {
  return canTrimMalloc() ? undefined : missing;
}

/**
 * Hands the whole pages inside `view` back to the kernel: they read as zeros afterwards and take
 * memory again only once written. Only for memory whose contents nobody needs. Returns the bytes
 * released: 0 without the addon (nothing is touched then).
 */
export function releasePages(view: Uint8Array): number {
  addon ??= load();
  return addon?.release(view) ?? 0;
}

/** The bytes of the whole pages inside `view` that are resident now; undefined without the addon. */
export function residentBytes(view: Uint8Array): number | undefined {
  addon ??= load();
  const n = addon?.resident(view);
  return n === undefined || n < 0 ? undefined : n;
}

/**
 * The bytes from the start of `view` to its first page boundary, or undefined where pages cannot
 * be handed back anyway (no addon, or one built before it had this).
 */
export function pageOffset(view: Uint8Array): number | undefined {
  addon ??= load();
  return addon?.pageOffset?.(view);
}
