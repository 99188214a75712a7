import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serverTimingValue, totalDuration } from './server-timing.js';

describe('server timing values', () => {
  it('writes one total in ms to two decimals', () => {
    assert.equal(serverTimingValue(12.3456), 'total;dur=12.35');
    assert.equal(serverTimingValue(0), 'total;dur=0.00');
    assert.equal(serverTimingValue(1500), 'total;dur=1500.00');
  });

  it('reads back the total, also among other metrics, and nothing from what has none', () => {
    assert.equal(totalDuration(serverTimingValue(7.891)), 7.89);
    assert.equal(totalDuration('db;dur=2.5, total;desc="all";dur=9.25'), 9.25);
    for (const none of [null, undefined, '', 'db;dur=3', 'total', 'total;dur=', 'totally;dur=4', 'subtotal;dur=4'])
      assert.equal(totalDuration(none), undefined, String(none));
  });
});
