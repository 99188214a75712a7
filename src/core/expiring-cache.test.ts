import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChangeSignal, ExpiringCache } from './expiring-cache.js';

describe('ExpiringCache', () => {
  function setup(ttlMs = 1000) {
    let now = 0;
    let loads = 0;
    let value = 'a';
    const changes = new ChangeSignal();
    const cache = new ExpiringCache<string>({ ttlMs, maxEntries: 2, changes, now: () => now });
    const get = (key = 'k') =>
      cache.get(key, async () => {
        loads++;
        return value;
      });
    return { get, changes, advance: (ms: number) => (now += ms), set: (v: string) => (value = v), loads: () => loads };
  }

  it('serves a loaded value until its time is up', async () => {
    const c = setup();
    assert.equal(await c.get(), 'a');
    c.set('b');
    c.advance(999);
    assert.equal(await c.get(), 'a');
    c.advance(1);
    assert.equal(await c.get(), 'b');
    assert.equal(c.loads(), 2);
  });

  it('drops everything at once when a change is signalled', async () => {
    const c = setup();
    await c.get('x');
    c.set('b');
    c.changes.bump();
    assert.equal(await c.get('x'), 'b');
  });

  it('does not keep a value loaded while a change happened', async () => {
    const changes = new ChangeSignal();
    const cache = new ExpiringCache<number>({ ttlMs: 1000, maxEntries: 10, changes });
    let n = 0;
    await cache.get('k', async () => {
      changes.bump();
      return ++n;
    });
    assert.equal(await cache.get('k', async () => ++n), 2);
  });

  it('stays bounded and is off with a zero ttl', async () => {
    const c = setup();
    await c.get('1');
    await c.get('2');
    await c.get('3');
    await c.get('1');
    assert.equal(c.loads(), 4, 'a full cache starts over');
    const off = setup(0);
    await off.get();
    await off.get();
    assert.equal(off.loads(), 2);
  });
});
