/**
 * The worker's heartbeat against a real SQLite store in a temp dir: a long job keeps its lock past
 * the lease, a node that stops renewing (its store connection gone, as a killed process's is)
 * gives its job up after one lease, and a run whose lock another worker took is aborted. Lock
 * times follow a hand-moved clock; the beats are real timers, a few ms apart, and the tests wait
 * for what the beats did, never for a time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { waitFor } from '../../test/e2e/helpers/wait-for.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { JobStore, MetadataStore } from '../metadata/types.js';
import { JobWorker } from './worker.js';

const LEASE_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'berth-heartbeat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('JobWorker heartbeat', () => {
  let n = 0;
  function setup() {
    const path = join(dir, `meta-${n++}.db`);
    let now = new Date('2026-01-01T00:00:00Z');
    const clock = { now: () => now };
    const stores: MetadataStore[] = [];
    /** A node: its own connection to the database, and renewals it made (the real store's answers). */
    const node = (nodeId: string) => {
      const meta = createSqliteMetadataStore({ path });
      stores.push(meta);
      const renewals: Array<{ at: number; held: boolean }> = [];
      /** Renewals still to fail as an unreachable store fails them, and those that did. */
      const outage = { ahead: 0, failed: 0 };
      const jobs: JobStore = {
        enqueue: (...a) => meta.jobs.enqueue(...a),
        claim: (...a) => meta.jobs.claim(...a),
        complete: (...a) => meta.jobs.complete(...a),
        fail: (...a) => meta.jobs.fail(...a),
        pending: (...a) => meta.jobs.pending(...a),
        renew: async (...a) => {
          if (outage.ahead > 0) {
            outage.ahead--;
            outage.failed++;
            throw new Error('connect ECONNREFUSED (the store is down)');
          }
          const held = await meta.jobs.renew(...a);
          renewals.push({ at: a[4].getTime(), held });
          return held;
        },
      };
      const log = pino({ level: 'silent' });
      const worker = new JobWorker({ jobs, clock, log, pollMs: 3600_000, leaseMs: LEASE_MS, heartbeatMs: 5, concurrency: 1, nodeId });
      return { meta, worker, renewals, outage };
    };
    const close = async () => {
      // A node's store may be closed already (the dead node's).
      for (const m of stores)
        await Promise.resolve()
          .then(() => m.close())
          .catch(() => undefined);
    };
    return { node, clock, advance: (ms: number) => (now = new Date(now.getTime() + ms)), close };
  }

  /** A handler that reports its start and runs until released or aborted. */
  function longJob() {
    let started: (signal: AbortSignal) => void = () => undefined;
    const running = new Promise<AbortSignal>((r) => (started = r));
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let runs = 0;
    const handler = async (_job: unknown, signal: AbortSignal) => {
      runs++;
      started(signal);
      await new Promise<void>((resolve, reject) => {
        void released.then(resolve);
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    };
    return { handler, running, release, runs: () => runs };
  }

  /** Two nodes; a has claimed a long job and runs it; b runs (and counts) any job it claims. */
  async function aRunsALongJob() {
    const { node, clock, advance, close } = setup();
    const a = node('a');
    const b = node('b');
    const job = longJob();
    a.worker.handle('scan', job.handler);
    let bRuns = 0;
    b.worker.handle('scan', async () => void bRuns++);
    await a.meta.jobs.enqueue([{ kind: 'scan', payload: {} }], clock.now());
    a.worker.start();
    const signal = await job.running;
    return { clock, advance, close, a, b, job, signal, bRuns: () => bRuns };
  }

  it("renews a long job's lock, so no other worker claims it past the first lease", async () => {
    const { clock, advance, close, a, b, job, signal, bRuns } = await aRunsALongJob();
    for (let i = 0; i < 4; i++) {
      // Two thirds of a lease on, past the lock the last renewal set: the next beat moves it.
      advance((LEASE_MS * 2) / 3);
      const t = clock.now().getTime();
      await waitFor('a renewal at the moved clock', () => a.renewals.some((r) => r.at >= t && r.held));
      await b.worker.drain();
    }
    assert.equal(bRuns(), 0, 'two and a half leases on, the job is still locked by its running holder');
    assert.equal(signal.aborted, false);
    job.release();
    await waitFor('the job done', async () => (await a.meta.jobs.pending('scan')) === 0);
    const beats = a.renewals.length;
    advance(LEASE_MS);
    await b.worker.drain();
    assert.equal(a.renewals.length, beats, 'no renewal once the handler ended');
    assert.equal(bRuns(), 0);
    await a.worker.stop();
    await close();
  });

  it('keeps the job through renewals that fail for a moment: it tries again at the next beat', async () => {
    const { clock, advance, close, a, b, job, signal, bRuns } = await aRunsALongJob();
    a.outage.ahead = 2;
    advance((LEASE_MS * 2) / 3);
    const t = clock.now().getTime();
    await waitFor('a renewal after the outage', () => a.renewals.some((r) => r.at >= t && r.held));
    assert.equal(a.outage.failed, 2);
    assert.equal(signal.aborted, false, 'failed renewals did not abort the run');
    advance((LEASE_MS * 2) / 3);
    await b.worker.drain();
    assert.equal(bRuns(), 0, 'past the first lease, the renewal after the outage still holds the job');
    job.release();
    await waitFor('the job done', async () => (await a.meta.jobs.pending('scan')) === 0);
    await a.worker.stop();
    await close();
  });

  it('lets another worker take the job of one that stopped renewing, after one lease', async () => {
    const { advance, close, a, b, signal, bRuns } = await aRunsALongJob();
    await waitFor('a first renewal', () => a.renewals.some((r) => r.held));
    // Node a dies: its connection to the database goes, with it every renewal (they now fail).
    await a.meta.close();
    const before = a.renewals.length;
    advance(LEASE_MS - 1);
    await b.worker.drain();
    assert.equal(bRuns(), 0, 'within the lease the job is still locked');
    advance(2);
    await b.worker.drain();
    assert.equal(bRuns(), 1, 'one lease after its last renewal, another worker ran it');
    assert.equal(await b.meta.jobs.pending('scan'), 0);
    assert.equal(a.renewals.length, before, 'the dead node renewed nothing');
    assert.equal(signal.aborted, false, 'a renewal that fails (the store unreachable) does not abort the run by itself');
    await a.worker.stop();
    await close();
  });

  it('aborts the handler of a run whose lock another worker took, and leaves that lock alone', async () => {
    const { clock, advance, close, a, b, job, signal } = await aRunsALongJob();
    // Node a stalled past its lease (a long pause, a partition): b claims the lapsed lock. The
    // claim runs its SQL when called, before any of a's beats can.
    advance(LEASE_MS + 1);
    const [taken] = await b.meta.jobs.claim(['scan'], 'b', LEASE_MS, 1, clock.now());
    assert.ok(taken, 'the lapsed lock was claimed');
    await waitFor("a's handler aborted", () => signal.aborted);
    assert.match(String((signal.reason as Error).message), /claimed by another worker/);
    await a.worker.drain(); // claims nothing (b holds the job); waits for a's run to end
    assert.equal(await b.meta.jobs.renew(taken.id, 'b', taken.attempts, LEASE_MS, clock.now()), true, "b's claim still holds the job");
    assert.deepEqual(await a.meta.jobs.claim(['scan'], 'c', LEASE_MS, 1, clock.now()), [], 'a did not hand the job back for a retry');
    assert.equal(job.runs(), 1);
    await b.meta.jobs.complete(taken.id, 'b');
    await a.worker.stop();
    await close();
  });
});
