import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { JobWorker, MAX_ATTEMPTS } from './worker.js';

describe('JobWorker', () => {
  function setup(retry?: { firstDelayMs: number; maxAttempts: number }) {
    const meta = createSqliteMetadataStore({ path: ':memory:' });
    let now = new Date('2026-01-01T00:00:00Z');
    const clock = { now: () => now };
    const worker = new JobWorker({
      jobs: meta.jobs,
      clock,
      log: pino({ level: 'silent' }),
      pollMs: 60_000,
      leaseMs: 30_000,
      concurrency: 2,
      nodeId: 'test-node',
      ...(retry && { retry }),
    });
    return { meta, worker, advance: (ms: number) => (now = new Date(now.getTime() + ms)), clock };
  }

  it('runs each job once and removes it', async () => {
    const { meta, worker, clock } = setup();
    const seen: unknown[] = [];
    worker.handle('scan', async (job) => void seen.push(job.payload));
    await meta.jobs.enqueue(
      [
        { kind: 'scan', payload: { n: 1 } },
        { kind: 'scan', payload: { n: 2 } },
        { kind: 'other', payload: {} },
      ],
      clock.now(),
    );
    await worker.drain();
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
    assert.equal(await meta.jobs.pending('scan'), 0);
    assert.equal(await meta.jobs.pending('other'), 1, 'kinds without a handler are left alone');
    await meta.close();
  });

  it('retries a failing job with backoff, then gives up', async () => {
    const { meta, worker, advance, clock } = setup();
    let calls = 0;
    worker.handle('scan', async () => {
      calls++;
      throw new Error('flaky');
    });
    await meta.jobs.enqueue([{ kind: 'scan', payload: {} }], clock.now());
    await worker.drain();
    assert.equal(calls, 1);
    await worker.drain();
    assert.equal(calls, 1, 'not due again before its backoff');
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      advance(3600_000);
      await worker.drain();
    }
    assert.equal(calls, MAX_ATTEMPTS);
    assert.equal(await meta.jobs.pending('scan'), 0, 'dropped after the last attempt');
    await meta.close();
  });

  it('does not let two holders run the same job, and reclaims a lapsed lock', async () => {
    const { meta, advance, clock } = setup();
    await meta.jobs.enqueue([{ kind: 'scan', payload: {} }], clock.now());
    const a = await meta.jobs.claim(['scan'], 'a', 30_000, 10, clock.now());
    const b = await meta.jobs.claim(['scan'], 'b', 30_000, 10, clock.now());
    assert.equal(a.length, 1);
    assert.equal(b.length, 0);
    advance(31_000);
    const again = await meta.jobs.claim(['scan'], 'b', 30_000, 10, clock.now());
    assert.equal(again.length, 1);
    assert.equal(again[0]!.attempts, 2);
    await meta.jobs.complete(again[0]!.id, 'a');
    assert.equal(await meta.jobs.pending('scan'), 1, 'only the holder completes it');
    await meta.close();
  });

  it('retries on its own policy: first after firstDelayMs, doubling, without limit when maxAttempts is Infinity', async () => {
    const { meta, worker, advance, clock } = setup({ firstDelayMs: 30_000, maxAttempts: Number.POSITIVE_INFINITY });
    let runs = 0;
    worker.handle('replicate', async () => {
      runs++;
      throw new Error('destination down');
    });
    await meta.jobs.enqueue([{ kind: 'replicate', payload: {} }], clock.now());
    await worker.drain();
    assert.equal(runs, 1);
    advance(29_999);
    await worker.drain();
    assert.equal(runs, 1, 'not before the first delay');
    advance(1);
    await worker.drain();
    assert.equal(runs, 2);
    advance(59_999);
    await worker.drain();
    assert.equal(runs, 2, 'the second delay is twice the first');
    advance(1);
    await worker.drain();
    assert.equal(runs, 3);
    for (let i = 0; i < MAX_ATTEMPTS + 2; i++) {
      advance(3600_000);
      await worker.drain();
    }
    assert.equal(runs, 3 + MAX_ATTEMPTS + 2, 'kept retrying past the default limit');
    assert.equal(await meta.jobs.pending('replicate'), 1);
    await meta.close();
  });
});
