/**
 * A worker's slots are shared between accounts: one account holds at most its share (all but one
 * slot), so another account's job starts at once instead of after one of the first account's
 * long jobs ends. Real SQLite store, real worker; each handler holds its slot until the test lets go.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { accountShare, JobWorker } from './worker.js';

const A = '111111111111';
const B = '222222222222';

describe('JobWorker: shares between accounts', () => {
  it('keeps a slot from the account that fills the others, for another account', async () => {
    const meta = createSqliteMetadataStore({ path: ':memory:' });
    const clock = { now: () => new Date('2026-01-01T00:00:00Z') };
    const worker = new JobWorker({ jobs: meta.jobs, clock, log: pino({ level: 'silent' }), pollMs: 60_000, leaseMs: 30_000, concurrency: 3, nodeId: 'n' });
    const started: string[] = [];
    const waiters: Array<{ n: number; go: () => void }> = [];
    const release: Array<() => void> = [];
    let open = false;
    const startedCount = (n: number) => new Promise<void>((go) => (started.length >= n ? go() : waiters.push({ n, go })));
    worker.handle('scan', async (job) => {
      started.push(job.account);
      for (const w of waiters.filter((w) => started.length >= w.n)) w.go();
      if (!open) await new Promise<void>((go) => release.push(go));
    });
    try {
      await meta.jobs.enqueue(
        Array.from({ length: 6 }, (_, n) => ({ kind: 'scan', account: A, payload: { n } })),
        clock.now(),
      );
      worker.kick();
      await startedCount(accountShare(3));
      // B's job comes while A's hold their slots: it starts without waiting for one of them.
      await meta.jobs.enqueue([{ kind: 'scan', account: B, payload: {} }], clock.now());
      worker.kick();
      await startedCount(3);
      assert.deepEqual(started, [A, A, B]);
      // As A's jobs end, the rest of A's run; everything is done.
      open = true;
      for (const go of release.splice(0)) go();
      while ((await meta.jobs.pending('scan')) > 0) await worker.drain();
      assert.equal(started.filter((a) => a === A).length, 6);
      assert.equal(await meta.jobs.pending('scan'), 0);
    } finally {
      for (const go of release) go();
      await worker.stop();
      await meta.close();
    }
  });

  it('gives one account all but one slot, and a one-slot worker its slot', () => {
    assert.deepEqual([1, 2, 3, 4, 16].map(accountShare), [1, 1, 2, 3, 15]);
  });
});
