/**
 * Runs replication backfills (registry/replication-backfills.ts) on the durable job queue, so a
 * backfill survives restarts and never runs on two nodes at once:
 *
 * - the prepare job lists what to replicate and, in one transaction, writes the items, moves the
 *   backfill to IN_PROGRESS at generation 1 and enqueues the run job of generation 1;
 * - a run job replicates items in order for up to RUN_BUDGET_MS (well inside the job lease, so
 *   no other node takes the job over while it runs), then hands over: one transaction moves the
 *   backfill to the next generation and enqueues that generation's job. A job whose generation
 *   is no longer the backfill's (its node died after the hand-over, before the queue forgot it)
 *   does nothing, so at most one job advances a backfill;
 * - an item's result is written once (a retried item keeps its first result) and its image's
 *   replication status is recorded as a push's would be; a destination that cannot be reached
 *   fails the job, which the replication worker retries with backoff, resuming at that item;
 * - a stop is seen before the next item: the backfill ends STOPPED.
 */
import type { Logger } from 'pino';
import { accountOf, parseRegistryKey } from '../core/registry-key.js';
import type { JobRecord } from '../metadata/types.js';
import { TERMINAL_BACKFILL_STATUSES } from '../metadata/replication-backfills.js';
import type { Registry } from '../registry/registry.js';
import { BACKFILL_RUN_JOB, type BackfillJobPayload } from '../registry/replication-backfills.js';
import type { Replicator } from './replicator.js';

/** How long one run job replicates before handing over (the job lease is 10 minutes). */
const RUN_BUDGET_MS = 60_000;

export class BackfillRunner {
  constructor(
    private readonly registry: Registry,
    private readonly replicator: Replicator,
    private readonly log: Logger,
  ) {}

  async prepare(job: JobRecord): Promise<void> {
    const payload = job.payload as BackfillJobPayload;
    const registryKey = parseRegistryKey(payload.registry);
    const { meta, clock } = this.registry.ctx;
    const backfill = await meta.replicationBackfills.get(registryKey, payload.id);
    if (backfill?.generation !== 0) return;
    if (backfill.status === 'STOPPING') {
      await meta.replicationBackfills.end(backfill.id, 'STOPPED', clock.now());
      return;
    }
    if (backfill.status !== 'PREPARING') return;
    const items = await this.registry.backfills.items(registryKey, backfill.destination);
    const next: BackfillJobPayload = { ...payload, generation: 1 };
    if (await meta.replicationBackfills.prepare(backfill.id, items, { kind: BACKFILL_RUN_JOB, account: accountOf(registryKey), payload: next }, clock.now())) {
      this.log.info({ backfill: backfill.id, destination: backfill.destination, items: items.length }, 'replication backfill prepared');
      this.registry.ctx.jobsQueued?.();
      return;
    }
    // Stopped while it was being prepared.
    const now = await meta.replicationBackfills.get(registryKey, payload.id);
    if (now?.status === 'STOPPING' && now.generation === 0) await meta.replicationBackfills.end(now.id, 'STOPPED', clock.now());
  }

  async run(job: JobRecord, signal: AbortSignal): Promise<void> {
    const payload = job.payload as BackfillJobPayload;
    const registryKey = parseRegistryKey(payload.registry);
    const { meta, clock } = this.registry.ctx;
    const started = clock.now().getTime();
    for (;;) {
      // Shutdown, or the job's lock lost to another node's claim: that run takes the next item.
      signal.throwIfAborted();
      const backfill = await meta.replicationBackfills.get(registryKey, payload.id);
      // Gone, ended, or advanced by a later job: this job is stale.
      if (!backfill || TERMINAL_BACKFILL_STATUSES.has(backfill.status) || backfill.generation !== payload.generation) return;
      if (backfill.status === 'STOPPING') {
        await meta.replicationBackfills.end(backfill.id, 'STOPPED', clock.now());
        this.log.info({ backfill: backfill.id }, 'replication backfill stopped');
        return;
      }
      if (clock.now().getTime() - started >= RUN_BUDGET_MS) {
        const next: BackfillJobPayload = { ...payload, generation: backfill.generation + 1 };
        if (
          await meta.replicationBackfills.handOver(
            backfill.id,
            backfill.generation,
            { kind: BACKFILL_RUN_JOB, account: accountOf(registryKey), payload: next },
            clock.now(),
          )
        ) {
          this.registry.ctx.jobsQueued?.();
        }
        return;
      }
      const [item] = await meta.replicationBackfills.pending(backfill.id, 1);
      if (!item) {
        await meta.replicationBackfills.end(backfill.id, 'COMPLETE', clock.now());
        this.log.info({ backfill: backfill.id, destination: backfill.destination, ...backfill.progress }, 'replication backfill complete');
        return;
      }
      const scope = { registryKey, name: item.repository };
      const outcome = await this.replicator.replicate(scope, item.digest, item.tag !== undefined ? [item.tag] : [], backfill.destination, signal);
      await meta.replicationBackfills.record(backfill.id, item.seq, outcome.status, outcome.failureCode);
      await this.registry.replication.record(registryKey, item.repository, item.digest, { destination: backfill.destination, ...outcome });
    }
  }
}
