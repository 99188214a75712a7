import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { halfShare, KeyedSlots } from './keyed-slots.js';

/** Resolves to whether `p` has settled by the time the microtasks queued now have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('keyed slots', () => {
  it('a key holds at most its share; another key takes the rest at once', async () => {
    const slots = new KeyedSlots(4, 2);
    const a1 = await slots.take('a');
    await slots.take('a');
    const a3 = slots.take('a');
    assert.equal(await settled(a3), false, "a's third waits for one of a's own");
    await slots.take('b');
    await slots.take('b');
    assert.equal(slots.taken(), 4);
    assert.equal(slots.taken('a'), 2);
    a1();
    assert.equal(await settled(a3), true, "a's slot freed goes to a's waiter");
    assert.equal(slots.taken('a'), 2);
  });

  it('waiters are served in order, passing over a key at its share; a release is counted once', async () => {
    const slots = new KeyedSlots(2, 1);
    const a = await slots.take('a');
    const b = await slots.take('b');
    const a2 = slots.take('a');
    const c = slots.take('c');
    b();
    b();
    assert.equal(await settled(c), true, "b's slot goes to c, past a's waiter (a is at its share)");
    assert.equal(await settled(a2), false);
    assert.equal(slots.taken(), 2, 'the second release of b changed nothing');
    a();
    assert.equal(await settled(a2), true);
  });

  it('tryTake takes a free slot at once and refuses, taking nothing, at a share or the total', () => {
    const slots = new KeyedSlots(3, 2);
    const a1 = slots.tryTake('a');
    const a2 = slots.tryTake('a');
    assert.ok(a1 && a2);
    assert.equal(slots.tryTake('a'), undefined, 'a is at its share');
    const b1 = slots.tryTake('b');
    assert.ok(b1);
    assert.equal(slots.tryTake('c'), undefined, 'all three slots are taken');
    assert.equal(slots.taken(), 3);
    a1();
    a1();
    assert.equal(slots.taken('a'), 1, 'a release is counted once');
    assert.ok(slots.tryTake('c'), "a's freed slot serves another key");
  });

  it('a share is half of the slots, at least one', () => {
    assert.deepEqual([1, 2, 3, 8, 32].map(halfShare), [1, 1, 2, 4, 16]);
  });
});
