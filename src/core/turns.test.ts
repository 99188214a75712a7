/** Turns: never more than the limit at once, the rest in arrival order, a failure passes the turn on. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Turns } from './turns.js';

/** A promise and its resolver, to hold a turn until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

describe('turns', () => {
  it('runs at most `limit` at once and lets the rest in, in the order they came', async () => {
    const turns = new Turns(3);
    const gates = Array.from({ length: 10 }, gate);
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const all = gates.map((g, i) =>
      turns.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await g.promise;
        running--;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2]);
    assert.deepEqual(turns.busy, { running: 3, waiting: 7 });
    // Let them go out of order: the next to start is always the longest waiting.
    for (const i of [2, 0, 1, 5, 3, 4, 8, 6, 7, 9]) {
      gates[i]!.open();
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(most, 3);
    assert.deepEqual(turns.busy, { running: 0, waiting: 0 });
  });

  it('passes the turn on when a holder fails, and the caller sees the failure', async () => {
    const turns = new Turns(1);
    const failing = turns.run(() => Promise.reject(new Error('boom')));
    const next = turns.run(async () => 'ran');
    await assert.rejects(failing, /boom/);
    assert.equal(await next, 'ran');
    assert.deepEqual(turns.busy, { running: 0, waiting: 0 });
  });

  it('refuses a limit below one', () => {
    assert.throws(() => new Turns(0), RangeError);
    assert.throws(() => new Turns(1.5), RangeError);
  });
});
