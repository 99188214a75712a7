/**
 * Replication backfills (ECR's StartReplicationBackfill, StopReplicationBackfill,
 * ListReplicationBackfills, DescribeReplicationBackfillResults): the images a registry already
 * holds, replicated to one destination of its replication configuration, as one durable job.
 *
 * As ECR documents: the destination must be one the configuration names; one backfill at a
 * time per destination region, at most 10 running per registry; the images are those of the
 * repositories the rules for that destination cover, each image and tag one replication (an
 * untagged image one); per-image results once the backfill ended; ended backfills are listed
 * for 90 days. A stop lets a replication under way finish and ends the backfill STOPPED.
 *
 * The work itself is a background feature (replication/backfill-runner.ts); this module holds
 * the rules and what a backfill replicates.
 */
import { randomUUID } from 'node:crypto';
import { Codes, RegistryError } from '../core/errors.js';
import { accountOf, registryKeyText, type RegistryKey } from '../core/registry-key.js';
import type { Digest } from '../core/digest.js';
import type { ReplicationDestination } from '../metadata/replication.js';
import type { BackfillItem, BackfillItemStatus, BackfillRecord } from '../metadata/replication-backfills.js';
import type { RegistryContext } from './context.js';
import type { RegistryConfig } from './registry-config.js';
import { replicationDestinations } from './replication.js';

export const BACKFILL_PREPARE_JOB = 'replication-backfill-prepare';
export const BACKFILL_RUN_JOB = 'replication-backfill-run';

/** ECR: "a registry can have at most 10 replication backfills in progress at once". */
export const MAX_RUNNING_BACKFILLS = 10;
/** ECR: ended backfills "are retained for 90 days after they end". */
export const BACKFILL_RETENTION_MS = 90 * 24 * 3600_000;
/** Backfills deleted per statement (each takes its items along): short transactions. */
const PRUNE_CHUNK = 100;

/** A backfill job's payload: which backfill, and for a run job the generation it may advance. */
export interface BackfillJobPayload {
  id: string;
  registry: string;
  generation?: number;
}

export class ReplicationBackfills {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly config: RegistryConfig,
  ) {}

  async start(registryKey: RegistryKey, destination: ReplicationDestination): Promise<BackfillRecord> {
    const configured = (await this.config.replication(registryKey)).rules.some((r) =>
      r.destinations.some((d) => d.region === destination.region && d.registryId === destination.registryId),
    );
    if (!configured) {
      throw new RegistryError(
        Codes.InvalidParameter,
        `The destination with region '${destination.region}' and registry id '${destination.registryId}' is not in the replication configuration of the registry with id '${accountOf(registryKey)}'`,
      );
    }
    const id = randomUUID();
    const now = this.ctx.clock.now();
    const payload: BackfillJobPayload = { id, registry: registryKeyText(registryKey) };
    const outcome = await this.ctx.meta.replicationBackfills.start(
      { id, registryKey, destination, now },
      { kind: BACKFILL_PREPARE_JOB, account: accountOf(registryKey), payload },
      MAX_RUNNING_BACKFILLS,
    );
    if (outcome === 'inProgress') {
      throw new RegistryError(
        Codes.ReplicationBackfillInProgress,
        `A replication backfill is already in progress for the destination region '${destination.region}' in the registry with id '${accountOf(registryKey)}'`,
      );
    }
    if (outcome === 'limit') {
      throw new RegistryError(
        Codes.LimitExceeded,
        `The registry with id '${accountOf(registryKey)}' already has ${MAX_RUNNING_BACKFILLS} replication backfills in progress`,
      );
    }
    this.ctx.jobsQueued?.();
    return { id, registryKey, destination, status: 'PREPARING', generation: 0, startedAt: now };
  }

  async stop(registryKey: RegistryKey, id: string): Promise<BackfillRecord> {
    const stopped = await this.ctx.meta.replicationBackfills.stop(registryKey, id);
    if (stopped === 'notFound') throw notFound(registryKey, id);
    if (stopped === 'invalidStatus') {
      throw new RegistryError(Codes.ReplicationBackfillInvalidStatus, `The replication backfill '${id}' has already ended and cannot be stopped`);
    }
    this.ctx.jobsQueued?.();
    return stopped;
  }

  async get(registryKey: RegistryKey, id: string): Promise<BackfillRecord> {
    const found = await this.ctx.meta.replicationBackfills.get(registryKey, id);
    if (!found || (found.endedAt !== undefined && found.endedAt.getTime() < this.ctx.clock.now().getTime() - BACKFILL_RETENTION_MS)) {
      throw notFound(registryKey, id);
    }
    return found;
  }

  list(registryKey: RegistryKey, page: { after?: string; limit: number }): Promise<BackfillRecord[]> {
    return this.ctx.meta.replicationBackfills.list(registryKey, page, new Date(this.ctx.clock.now().getTime() - BACKFILL_RETENTION_MS));
  }

  /**
   * Deletes the backfills (and their per-image results) that ended more than 90 days ago: ECR
   * keeps them that long, and nothing reads them after (get/list hide them already). Run by the
   * garbage collector's periodic pass, one node at a time; returns how many went.
   */
  async prune(): Promise<number> {
    const before = new Date(this.ctx.clock.now().getTime() - BACKFILL_RETENTION_MS);
    let total = 0;
    for (;;) {
      const n = await this.ctx.meta.replicationBackfills.pruneEnded(before, PRUNE_CHUNK);
      total += n;
      if (n < PRUNE_CHUNK) return total;
    }
  }

  /** Per-image results, only once the backfill ended (ECR: "available only after ... a terminal status"). */
  async results(backfill: BackfillRecord, filter: { status?: BackfillItemStatus; afterSeq: number; limit: number }): Promise<BackfillItem[]> {
    if (backfill.endedAt === undefined) return [];
    return this.ctx.meta.replicationBackfills.results(backfill.id, filter);
  }

  /**
   * What a backfill to `destination` replicates: every ACTIVE image of every repository the
   * rules for that destination cover (archived ones cannot be read), one item per tag, one for
   * an untagged image; repositories and images in name and digest order.
   */
  async items(registryKey: RegistryKey, destination: ReplicationDestination): Promise<Array<{ repository: string; digest: Digest; tag?: string }>> {
    const config = await this.config.replication(registryKey);
    const { meta } = this.ctx;
    const out: Array<{ repository: string; digest: Digest; tag?: string }> = [];
    for (let after: string | undefined; ; ) {
      const repos = await meta.repositories.listRecords(registryKey, { ...(after !== undefined && { after }), limit: 500 });
      for (const repo of repos) {
        const to = replicationDestinations(config, { registryKey, name: repo.name });
        if (!to.some((d) => d.region === destination.region && d.registryId === destination.registryId)) continue;
        for (let from: string | undefined; ; ) {
          const images = await meta.images.listIds(repo.id, { ...(from !== undefined && { after: from }), limit: 1000 }, 'ANY', 'ACTIVE');
          for (const image of images) {
            if (image.tags.length === 0) out.push({ repository: repo.name, digest: image.digest });
            for (const tag of image.tags) out.push({ repository: repo.name, digest: image.digest, tag });
          }
          if (images.length < 1000) break;
          from = images[images.length - 1]!.digest;
        }
      }
      if (repos.length < 500) break;
      after = repos[repos.length - 1]!.name;
    }
    return out;
  }
}

function notFound(registryKey: RegistryKey, id: string): RegistryError {
  return new RegistryError(
    Codes.ReplicationBackfillNotFound,
    `The replication backfill with id '${id}' does not exist in the registry with id '${accountOf(registryKey)}'`,
  );
}
