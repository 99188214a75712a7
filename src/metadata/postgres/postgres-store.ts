/**
 * The shared metadata engine for scale-out: every role store over one PostgreSQL database, with
 * the schema of the one migration history (../migrations.ts) and the semantics of the SQLite
 * engine, the reference. Selected by BERTH_DATABASE_URL=postgres://...; several nodes share it.
 *
 * Every method is one atomic unit: a single statement, or one transaction (pool.ts,
 * withTransaction). Where a rule reads before it writes, the race between nodes is closed with a
 * lock, chosen per operation and explained beside it. Locks are taken in this order, so Berth's
 * transactions do not wait for each other in a cycle:
 *
 *   1. the repository row (put: FOR KEY SHARE; delete: FOR UPDATE; resource tags: FOR NO KEY UPDATE)
 *   2. review rows, the per-digest GC mutex (writers upsert them in digest order; a reviewer
 *      takes them FOR UPDATE SKIP LOCKED)
 *   3. blob rows (put: FOR KEY SHARE; reviewer: FOR UPDATE; both in digest order)
 *   4. the rows a statement writes: links, manifests, tags, jobs, then commit markers, then
 *      deletion rows
 *
 * A deletion claim never waits at all (deletion rows SKIP LOCKED, the digest's advisory lock
 * only tried), so it cannot close a cycle. beginCommit takes the digest's advisory lock, then
 * the deletion row, then its own marker; that last step could only meet a reclaim of the same
 * upload's stale marker. PostgreSQL detects any cycle that remains, and withTransaction retries.
 */
import type { MetadataStore } from '../types.js';
import { createPostgresCreationTemplates } from './creation-templates.js';
import { carryOverPostgresAuditRows, createPostgresAudit } from './audit.js';
import { createPostgresBlobIndex } from './blobs.js';
import { createPostgresGc } from './gc.js';
import { createPostgresDocuments } from './documents.js';
import { createPostgresConsoleSessions, createPostgresLoginProfiles } from './console.js';
import { createPostgresEventOutbox, createPostgresEventResources } from './events.js';
import { createPostgresIdentities } from './identities.js';
import { createPostgresRoles } from './roles.js';
import { createPostgresCustomerPolicies } from './customer-policies.js';
import { createPostgresGroups } from './groups.js';
import { createPostgresImages } from './images.js';
import { createPostgresJobs, createPostgresLeases } from './jobs.js';
import { createPostgresKmsKeys } from './kms-keys.js';
import { createPostgresManifests } from './manifests.js';
import { migratePostgres, sortsByBytes } from './migrate.js';
import { createPool, type PgContext } from './pool.js';
import { createPostgresRepositories } from './repositories.js';
import { createPostgresScans } from './scans.js';
import { createPostgresUsage } from './usage.js';
import { createPostgresReplication } from './replication.js';
import { createPostgresReplicationBackfills } from './replication-backfills.js';
import { createPostgresPullExclusions } from './pull-exclusions.js';
import { createPostgresArchive } from './archive.js';
import { createPostgresQuotas } from './quotas.js';
import {
  createPostgresLifecyclePreviews,
  createPostgresPolicies,
  createPostgresRegistrySettings,
  createPostgresTags,
  createPostgresUploads,
} from './small-stores.js';

export interface PostgresMetadataOptions {
  /**
   * A libpq-style URL, e.g. postgres://berth:secret@db:5432/berth?sslmode=require. A schema
   * other than public: add `options=-c search_path=<schema>` (URL-encoded).
   */
  connectionString: string;
  /** Connections this node keeps at most (default 10). Size it with the server's max_connections / nodes. */
  poolSize?: number;
}

export const DEFAULT_POOL_SIZE = 10;

/**
 * Connects, brings the schema up to date (once, however many nodes start together) and returns
 * the store. Rejects if the database is unreachable or a migration fails; the pool is closed then.
 */
export async function createPostgresMetadataStore(opts: PostgresMetadataOptions): Promise<MetadataStore> {
  const poolSize = opts.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`poolSize must be a positive integer, got ${poolSize}`);
  const pool = createPool(opts.connectionString, poolSize);
  let ctx: PgContext;
  try {
    await migratePostgres(pool);
    // Rows an older Berth stored one per call become batches before this node serves a lookup.
    await carryOverPostgresAuditRows(pool);
    ctx = { pool, collate: (await sortsByBytes(pool)) ? '' : ' COLLATE "C"' };
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return {
    repositories: createPostgresRepositories(ctx),
    blobs: createPostgresBlobIndex(ctx),
    manifests: createPostgresManifests(ctx),
    tags: createPostgresTags(ctx),
    uploads: createPostgresUploads(ctx),
    images: createPostgresImages(ctx),
    identities: createPostgresIdentities(ctx),
    roles: createPostgresRoles(ctx),
    customerPolicies: createPostgresCustomerPolicies(ctx),
    groups: createPostgresGroups(ctx),
    policies: createPostgresPolicies(ctx),
    registrySettings: createPostgresRegistrySettings(ctx),
    leases: createPostgresLeases(ctx),
    gc: createPostgresGc(ctx),
    lifecyclePreviews: createPostgresLifecyclePreviews(ctx),
    jobs: createPostgresJobs(ctx),
    scans: createPostgresScans(ctx),
    kmsKeys: createPostgresKmsKeys(ctx),
    eventOutbox: createPostgresEventOutbox(ctx),
    eventResources: createPostgresEventResources(ctx),
    usage: createPostgresUsage(ctx),
    audit: createPostgresAudit(ctx, opts.connectionString),
    creationTemplates: createPostgresCreationTemplates(ctx),
    replication: createPostgresReplication(ctx),
    replicationBackfills: createPostgresReplicationBackfills(ctx),
    pullExclusions: createPostgresPullExclusions(ctx),
    documents: createPostgresDocuments(ctx),
    quotas: createPostgresQuotas(ctx),
    loginProfiles: createPostgresLoginProfiles(ctx),
    consoleSessions: createPostgresConsoleSessions(ctx),
    archive: createPostgresArchive(ctx),
    async close() {
      await pool.end();
    },
  };
}
