import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { PeriodicTask } from './periodic.js';

describe('PeriodicTask', () => {
  it('runs on one holder at a time, and another takes over when the lease lapses', async () => {
    const meta = createSqliteMetadataStore({ path: ':memory:' });
    let now = new Date('2026-01-01T00:00:00Z');
    const runs: string[] = [];
    const task = (holder: string) =>
      new PeriodicTask({
        name: 'gc',
        intervalMs: 60_000,
        leases: meta.leases,
        clock: { now: () => now },
        log: pino({ level: 'silent' }),
        holder,
        run: async () => void runs.push(holder),
      });
    const a = task('node-a');
    const b = task('node-b');
    assert.equal(await a.tick(), true);
    assert.equal(await b.tick(), false, 'node-a holds the lease');
    assert.equal(await a.tick(), true, 'the holder renews');
    now = new Date(now.getTime() + 61_000);
    assert.equal(await b.tick(), true, 'a lapsed lease is taken over');
    assert.deepEqual(runs, ['node-a', 'node-a', 'node-b']);
    await a.stop();
    assert.equal(await a.tick(), false, 'a stopped task does not run');
    await meta.close();
  });

  it('survives a failing run', async () => {
    const meta = createSqliteMetadataStore({ path: ':memory:' });
    const t = new PeriodicTask({
      name: 'x',
      intervalMs: 1000,
      leases: meta.leases,
      clock: { now: () => new Date() },
      log: pino({ level: 'silent' }),
      run: async () => Promise.reject(new Error('boom')),
    });
    assert.equal(await t.tick(), true);
    assert.equal(await t.tick(), true);
    await meta.close();
  });
});
