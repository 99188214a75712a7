/**
 * malloc_trim through the optional addon gives back free memory that sits inside an arena under a
 * live block, which glibc otherwise keeps resident. Measured as this process's resident set
 * (/proc/self/statm): the blocks are 256 KiB, served from the main arena once the thresholds are
 * raised (as core/malloc-thresholds.ts does for the byte threads), touched, and all but the last
 * freed at once (core/fresh-pieces.ts), so the last one pins the rest below the arena's top. And
 * the pages of a view of shared memory handed back (the seal pool's free slots, seal-slots.ts),
 * counted with mincore.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { release } from './fresh-pieces.js';
import { raiseMallocThresholds } from './malloc-thresholds.js';
import { canTrimMalloc, releasePages, residentBytes, trimMalloc } from './malloc-trim.js';

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

  it('hands back the whole pages inside a view of shared memory, which then read as zeros; nothing outside it', { skip }, () => {
    const block = new Uint8Array(new SharedArrayBuffer(32 * MiB));
    block.fill(7);
    const all = residentBytes(block)!;
    assert.ok(all > 32 * MiB - 8192, `resident after writing: ${all}`);
    // From an odd place: only the pages wholly inside go, the bytes around stay.
    const part = block.subarray(1000, 1000 + 8 * MiB);
    const released = releasePages(part);
    assert.ok(released > 8 * MiB - 8192 && released <= 8 * MiB, `released ${released}`);
    assert.equal(residentBytes(block), all - released);
    assert.equal(block[999], 7);
    assert.equal(block[1000], 7, 'a page shared with bytes outside the view stays');
    assert.equal(block[1000 + 8 * MiB], 7);
    assert.equal(block[4 * MiB], 0);
    let zeros = 0;
    for (const b of part) if (b === 0) zeros++;
    assert.equal(zeros, released, 'exactly the released pages read as zeros');
    assert.throws(() => releasePages(new Uint16Array(4) as unknown as Uint8Array), TypeError);
  });

  it('is harmless when there is nothing to give back, and does nothing without the addon', () => {
    assert.equal(typeof trimMalloc(), 'boolean');
    assert.equal(typeof canTrimMalloc(), 'boolean');
  });
});
