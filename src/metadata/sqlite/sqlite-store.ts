/** The embedded metadata engine: one SQLite file, every role store over it. */
import type { MetadataStore } from '../types.js';
import { createSqliteCreationTemplates } from './creation-templates.js';
import { createSqliteAudit } from './audit.js';
import { createSqliteBlobIndex } from './blobs.js';
import { createSqliteIdentities } from './identities.js';
import { createSqliteImages } from './images.js';
import { createSqliteGc } from './gc.js';
import { createSqliteDocuments } from './documents.js';
import { createSqliteEventOutbox, createSqliteEventResources } from './events.js';
import { createSqliteJobs } from './jobs.js';
import { createSqliteKmsKeys } from './kms-keys.js';
import { createSqliteScans } from './scans.js';
import { createSqliteLeases } from './leases.js';
import { createSqliteLifecyclePreviews } from './lifecycle-previews.js';
import { createSqliteManifests } from './manifests.js';
import { createSqlitePolicies, createSqliteRegistrySettings } from './policies.js';
import { openSqlite } from './open.js';
import { createSqliteRepositories } from './repositories.js';
import { createSqliteRoles } from './roles.js';
import { createSqliteCustomerPolicies } from './customer-policies.js';
import { createSqliteGroups } from './groups.js';
import { createSqliteTags, createSqliteUploads } from './tags-uploads.js';
import { createSqliteUsage } from './usage.js';
import { createSqliteReplication } from './replication.js';
import { createSqliteReplicationBackfills } from './replication-backfills.js';
import { createSqlitePullExclusions } from './pull-exclusions.js';
import { createSqliteQuotas } from './quotas.js';
import { createSqliteConsoleSessions, createSqliteLoginProfiles } from './console.js';
import { createSqliteArchive } from './archive.js';
import { durableStore, groupCommits } from './durable-commits.js';
import { defaultReadCacheLimits, ReadCache, type ReadCacheLimits } from './read-cache.js';
import { watchCommits } from './commit-watch.js';
import { WalCheckpoints, type CheckpointLimits } from './wal-checkpoints.js';

/** The store, the cache its manifest GET lookups read through and its checkpoints (their figures, for tests). */
export type SqliteMetadataStore = MetadataStore & { readonly readCache: ReadCache; readonly checkpoints: WalCheckpoints };

export function createSqliteMetadataStore(opts: { path: string; readCache?: ReadCacheLimits; checkpoints?: CheckpointLimits }): SqliteMetadataStore {
  const db = openSqlite(opts.path);
  const commits = groupCommits(db, opts.path);
  const checkpoints = new WalCheckpoints(db, opts.path, opts.checkpoints);
  commits.onDurable((writes) => checkpoints.durable(writes));
  // A store call that wrote resolves once its commit is durable (durable-commits.ts).
  const d = <T extends object>(store: T): T => durableStore(store, commits);
  // Dropped by every write the commit counter sees and by other connections' commits.
  const readCache = new ReadCache(watchCommits(db, opts.path), () => commits.count, opts.readCache ?? defaultReadCacheLimits);
  const trail = createSqliteAudit(db, opts.path);
  const audit = d(trail);
  return {
    readCache,
    checkpoints,
    offloadCheckpoints: (runner) => checkpoints.offload(runner),
    repositories: d(createSqliteRepositories(db, readCache)),
    blobs: d(createSqliteBlobIndex(db)),
    manifests: d(createSqliteManifests(db, readCache)),
    tags: d(createSqliteTags(db)),
    uploads: d(createSqliteUploads(db)),
    images: d(createSqliteImages(db)),
    identities: d(createSqliteIdentities(db)),
    roles: d(createSqliteRoles(db)),
    customerPolicies: d(createSqliteCustomerPolicies(db)),
    groups: d(createSqliteGroups(db)),
    policies: d(createSqlitePolicies(db)),
    registrySettings: d(createSqliteRegistrySettings(db)),
    leases: d(createSqliteLeases(db)),
    gc: d(createSqliteGc(db)),
    lifecyclePreviews: d(createSqliteLifecyclePreviews(db)),
    jobs: d(createSqliteJobs(db)),
    scans: d(createSqliteScans(db)),
    kmsKeys: d(createSqliteKmsKeys(db)),
    eventOutbox: d(createSqliteEventOutbox(db)),
    eventResources: d(createSqliteEventResources(db)),
    usage: d(createSqliteUsage(db)),
    audit,
    creationTemplates: d(createSqliteCreationTemplates(db)),
    replication: d(createSqliteReplication(db)),
    replicationBackfills: d(createSqliteReplicationBackfills(db)),
    pullExclusions: d(createSqlitePullExclusions(db)),
    documents: d(createSqliteDocuments(db)),
    quotas: d(createSqliteQuotas(db)),
    loginProfiles: d(createSqliteLoginProfiles(db)),
    consoleSessions: d(createSqliteConsoleSessions(db)),
    archive: d(createSqliteArchive(db)),
    async close() {
      await commits.durable();
      checkpoints.detach();
      readCache.close();
      trail.close();
      db.close();
    },
  };
}
