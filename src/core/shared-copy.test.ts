/** copyInto(): exactly the source's bytes, at their place in shared memory, nothing around them touched. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyInto } from './shared-copy.js';

describe('copyInto', () => {
  it("copies the source's bytes at the offset into shared memory and leaves every other byte", () => {
    const dst = Buffer.from(new SharedArrayBuffer(64));
    dst.fill(0xee);
    const src = Buffer.from([1, 2, 3, 4, 5]);
    copyInto(dst, 10, src);
    assert.deepEqual([...dst.subarray(10, 15)], [1, 2, 3, 4, 5]);
    // fill() repeats its value over a longer range: the range must end where the source does.
    assert.ok(dst.subarray(0, 10).every((b) => b === 0xee));
    assert.ok(dst.subarray(15).every((b) => b === 0xee));
  });

  it('copies a slice of a larger buffer (its own bytes, not its backing buffer from the start) and up to the last byte', () => {
    const dst = Buffer.from(new SharedArrayBuffer(16));
    const whole = Uint8Array.from({ length: 32 }, (_, i) => i);
    copyInto(dst, 12, whole.subarray(20, 24));
    assert.deepEqual([...dst.subarray(12)], [20, 21, 22, 23]);
    assert.ok(dst.subarray(0, 12).every((b) => b === 0));
  });

  it('copies nothing for an empty source (an empty range: fill() does not look at the value)', () => {
    const dst = Buffer.from(new SharedArrayBuffer(8));
    copyInto(dst, 4, new Uint8Array(0));
    assert.ok(dst.every((b) => b === 0));
  });

  it('copies into a plain Uint8Array view of shared memory, and out of shared memory into a Buffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(16), 4, 8);
    copyInto(shared, 3, Uint8Array.from([7, 8, 9]));
    assert.deepEqual([...new Uint8Array(shared.buffer)], [0, 0, 0, 0, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0, 0, 0]);
    const out = Buffer.alloc(5, 0xee);
    copyInto(out, 1, shared.subarray(3, 6));
    assert.deepEqual([...out], [0xee, 7, 8, 9, 0xee]);
  });
});
