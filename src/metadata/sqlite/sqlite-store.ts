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
import { createSqliteTags, createSqliteUploads } from './tags-uploads.js';
import { createSqliteUsage } from './usage.js';
import { createSqliteReplication } from './replication.js';
import { createSqliteQuotas } from './quotas.js';
import { createSqliteConsoleSessions, createSqliteLoginProfiles } from './console.js';
import { createSqliteArchive } from './archive.js';

export function createSqliteMetadataStore(opts: { path: string }): MetadataStore {
  const db = openSqlite(opts.path);
  const audit = createSqliteAudit(db, opts.path);
  return {
    repositories: createSqliteRepositories(db),
    blobs: createSqliteBlobIndex(db),
    manifests: createSqliteManifests(db),
    tags: createSqliteTags(db),
    uploads: createSqliteUploads(db),
    images: createSqliteImages(db),
    identities: createSqliteIdentities(db),
    roles: createSqliteRoles(db),
    policies: createSqlitePolicies(db),
    registrySettings: createSqliteRegistrySettings(db),
    leases: createSqliteLeases(db),
    gc: createSqliteGc(db),
    lifecyclePreviews: createSqliteLifecyclePreviews(db),
    jobs: createSqliteJobs(db),
    scans: createSqliteScans(db),
    kmsKeys: createSqliteKmsKeys(db),
    eventOutbox: createSqliteEventOutbox(db),
    eventResources: createSqliteEventResources(db),
    usage: createSqliteUsage(db),
    audit,
    creationTemplates: createSqliteCreationTemplates(db),
    replication: createSqliteReplication(db),
    documents: createSqliteDocuments(db),
    quotas: createSqliteQuotas(db),
    loginProfiles: createSqliteLoginProfiles(db),
    consoleSessions: createSqliteConsoleSessions(db),
    archive: createSqliteArchive(db),
    async close() {
      db.close();
    },
  };
}
