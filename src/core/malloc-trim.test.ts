/**
 * malloc_trim through the optional addon gives back free memory that sits inside an arena under a
 * live block, which glibc otherwise keeps resident. Measured as this process's resident set
 * (/proc/self/statm): the blocks are 256 KiB, served from the main arena once the thresholds are
 * raised (as core/malloc-thresholds.ts does for the byte threads), touched, and all but the last
 * freed at once (core/fresh-pieces.ts), so the last one pins the rest below the arena's top.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { release } from './fresh-pieces.js';
import { raiseMallocThresholds } from './malloc-thresholds.js';
import { canTrimMalloc, trimMalloc } from './malloc-trim.js';

const MiB = 1024 * 1024;
const BLOCK = 256 * 1024;
const BLOCKS = 160; // 40 MiB

const resident = (): number => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
const skip =
  process.platform !== 'linux'
    ? 'resident memory is read from /proc'
    : canTrimMalloc()
      ? undefined
      : 'the malloc-trim addon is not built here (no compiler, or not glibc)';

describe('trimMalloc', () => {
  it('gives back the free pages inside an arena that a live block pins', { skip }, () => {
    raiseMallocThresholds();
    const blocks = Array.from({ length: BLOCKS }, () => Buffer.allocUnsafeSlow(BLOCK).fill(7));
    const pin = Buffer.allocUnsafeSlow(BLOCK).fill(7);
    const before = resident();
    for (const b of blocks) assert.ok(release(b));
    const freed = resident();
    // glibc keeps them: freed memory below a live block stays resident.
    assert.ok(before - freed < 10 * MiB, `free() alone gave back ${((before - freed) / MiB).toFixed(1)} MiB`);
    assert.equal(trimMalloc(), true);
    const trimmed = resident();
    assert.ok(freed - trimmed > 30 * MiB, `trimming gave back only ${((freed - trimmed) / MiB).toFixed(1)} MiB`);
    assert.equal(pin[BLOCK - 1], 7);
  });

  it('is harmless when there is nothing to give back, and does nothing without the addon', () => {
    assert.equal(typeof trimMalloc(), 'boolean');
    assert.equal(typeof canTrimMalloc(), 'boolean');
  });
});
