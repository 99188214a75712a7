/**
 * The backfill runner's guards, on the registry core over SQLite: a job of a generation the
 * backfill has left does nothing (so a job the queue still holds after a hand-over cannot run
 * the backfill a second time), the current one finishes it, a prepare job seen twice prepares
 * once, and a stop is honoured before the next item.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { accountOf, registryKey, registryKeyText } from '../core/registry-key.js';
import { HashPool } from '../registry/hash-pool.js';
import { createRegistry } from '../registry/registry.js';
import { BACKFILL_RUN_JOB, type BackfillJobPayload } from '../registry/replication-backfills.js';
import { testContext } from '../registry/testing.js';
import { BackfillRunner } from './backfill-runner.js';
import { Replicator } from './replicator.js';

const hashing = new HashPool();
after(() => hashing.close());

const KEY = registryKey('000000000000', 'us-east-1');
const EU = { region: 'eu-west-1', registryId: '000000000000' };

async function setUp(clock = { now: () => new Date('2026-01-01T00:00:00Z') }) {
  const registry = createRegistry(testContext({ hashing, clock }));
  const log = pino({ level: 'silent' });
  // No region has an endpoint: nothing here reaches a network.
  const replicator = new Replicator({ registry, log, endpointOf: () => undefined, credential: () => 'unused' });
  await registry.config.setReplication(KEY, 'us-east-1', { rules: [{ destinations: [EU] }] });
  const started = await registry.backfills.start(KEY, EU);
  const job = (generation?: number) => {
    const payload: BackfillJobPayload = { id: started.id, registry: registryKeyText(KEY), ...(generation !== undefined && { generation }) };
    return { id: 1, kind: BACKFILL_RUN_JOB, account: accountOf(KEY), payload, attempts: 1 };
  };
  const status = async () => (await registry.backfills.get(KEY, started.id)).status;
  return { registry, runner: new BackfillRunner(registry, replicator, log), job, status, id: started.id };
}

describe('backfill runner', () => {
  it('a job of an older generation does nothing; the current one finishes the backfill', async () => {
    const { registry, runner, job, status, id } = await setUp();
    await runner.prepare(job());
    await runner.prepare(job());
    assert.equal(await status(), 'IN_PROGRESS');
    assert.equal(await registry.ctx.meta.jobs.pending(BACKFILL_RUN_JOB), 1, 'prepared once, one run job');
    assert.equal(await registry.ctx.meta.replicationBackfills.handOver(id, 1, { kind: BACKFILL_RUN_JOB, payload: job(2).payload }, new Date()), true);
    await runner.run(job(1), new AbortController().signal);
    assert.equal(await status(), 'IN_PROGRESS', 'the stale job left it as it was');
    await runner.run(job(2), new AbortController().signal);
    assert.equal(await status(), 'COMPLETE');
  });

  it('a stop ends the backfill STOPPED at its next step', async () => {
    const { registry, runner, job, status } = await setUp();
    await runner.prepare(job());
    await registry.backfills.stop(KEY, (await registry.backfills.list(KEY, { limit: 1 }))[0]!.id);
    assert.equal(await status(), 'STOPPING');
    await runner.run(job(1), new AbortController().signal);
    assert.equal(await status(), 'STOPPED');
  });

  it('a stop before the prepare job runs ends it STOPPED without items', async () => {
    const { registry, runner, job, status, id } = await setUp();
    await registry.backfills.stop(KEY, id);
    await runner.prepare(job());
    assert.equal(await status(), 'STOPPED');
    assert.equal((await registry.backfills.get(KEY, id)).progress, undefined);
  });

  it('the periodic prune deletes a backfill 90 days after it ended, with its results, and not a day before', async () => {
    let now = new Date('2026-01-01T00:00:00Z').getTime();
    const day = 24 * 3600_000;
    const { registry, runner, job, status, id } = await setUp({ now: () => new Date(now) });
    await runner.prepare(job());
    await runner.run(job(1), new AbortController().signal);
    assert.equal(await status(), 'COMPLETE');
    now += 89 * day;
    assert.equal(await registry.backfills.prune(), 0, 'kept while ECR lists it');
    assert.equal(await status(), 'COMPLETE');
    now += 2 * day;
    assert.equal(await registry.backfills.prune(), 1);
    assert.equal(await registry.ctx.meta.replicationBackfills.get(KEY, id), undefined, 'the row is gone, not only hidden');
  });
});
