/**
 * A data directory's stores opened without a server: the metadata engine the configuration names,
 * and the identity administration `berth admin` works on (the server opens the same in app.ts).
 */
import { resolve } from 'node:path';
import { IdentityAdmin } from '../auth/identity-admin.js';
import type { Config } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import { createPostgresMetadataStore } from '../metadata/postgres/postgres-store.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../metadata/types.js';
import { loadServerKey } from './server-key.js';

/** The metadata engine the configuration names: PostgreSQL when `databaseUrl` is set, else SQLite in the data directory. */
export async function openMetadata(config: Config): Promise<MetadataStore> {
  if (config.databaseUrl !== undefined) {
    return createPostgresMetadataStore({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize });
  }
  return createSqliteMetadataStore({ path: resolve(config.dataDir, 'metadata.db') });
}

/** The identity administration of a data directory, for `berth admin` without a running server. */
export async function openIdentityAdmin(config: Config): Promise<{ identities: IdentityAdmin; close(): Promise<void> }> {
  const dataDir = resolve(config.dataDir);
  const meta = await openMetadata(config);
  const serverKey = loadServerKey({ dataDir, ...(config.serverKey !== undefined && { configured: config.serverKey }) });
  return {
    identities: new IdentityAdmin(meta.identities, systemClock, serverKey, undefined, meta.roles, meta.loginProfiles, meta.customerPolicies, meta.groups),
    close: () => meta.close(),
  };
}
