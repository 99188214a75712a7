/** Which buffers release() frees (only the whole of an ArrayBuffer of its own) and the marks. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { markFreshPieces, release, yieldsFreshPieces } from './fresh-pieces.js';

describe('fresh pieces', () => {
  it('frees a buffer that is the whole of its own ArrayBuffer: it is empty afterwards', () => {
    const own = Buffer.alloc(64 * 1024, 1);
    assert.equal(release(own), true);
    assert.equal(own.byteLength, 0);
    assert.equal(own.buffer.byteLength, 0);
    const typed = new Uint8Array(10);
    assert.equal(release(typed), true);
    assert.equal(typed.length, 0);
  });

  it('leaves slices, pooled buffers, shared memory and empty buffers alone', () => {
    const whole = Buffer.alloc(8192, 2);
    const slice = whole.subarray(0, 4096);
    const tail = whole.subarray(4096);
    const pooled = Buffer.from('a pooled piece');
    const shared = new Uint8Array(new SharedArrayBuffer(16));
    for (const b of [slice, tail, pooled, shared, Buffer.alloc(0)]) assert.equal(release(b), false);
    assert.equal(whole.length, 8192);
    assert.equal(slice[0], 2);
    assert.equal(pooled.toString(), 'a pooled piece');
    assert.equal(shared.length, 16);
  });

  it('leaves a buffer that cannot be detached alone instead of throwing', () => {
    const pinned = new Uint8Array(new WebAssembly.Memory({ initial: 1 }).buffer);
    pinned[0] = 9;
    assert.equal(release(pinned), false);
    assert.equal(pinned.length, 65536);
    assert.equal(pinned[0], 9);
  });

  it('marks streams, not their kind', () => {
    const marked = Readable.from([]);
    const other = Readable.from([]);
    markFreshPieces(marked);
    assert.equal(yieldsFreshPieces(marked), true);
    assert.equal(yieldsFreshPieces(other), false);
  });
});
