import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { duration, serverTimingValue } from './server-timing.js';

describe('server timing values', () => {
  it('writes the total and the CPU in ms to two decimals', () => {
    assert.equal(serverTimingValue(12.3456, 3.001), 'total;dur=12.35, cpu;dur=3.00');
    assert.equal(serverTimingValue(0, 0), 'total;dur=0.00, cpu;dur=0.00');
    assert.equal(serverTimingValue(1500, 1499.999), 'total;dur=1500.00, cpu;dur=1500.00');
  });

  it('reads back the total, also among other metrics, and nothing from what has none', () => {
    assert.equal(duration(serverTimingValue(7.891, 2.5), 'total'), 7.89);
    assert.equal(duration(serverTimingValue(7.891, 2.5), 'cpu'), 2.5);
    assert.equal(duration('total;dur=3', 'cpu'), undefined);
    assert.equal(duration('db;dur=2.5, total;desc="all";dur=9.25', 'total'), 9.25);
    for (const none of [null, undefined, '', 'db;dur=3', 'total', 'total;dur=', 'totally;dur=4', 'subtotal;dur=4'])
      assert.equal(duration(none, 'total'), undefined, String(none));
  });
});
