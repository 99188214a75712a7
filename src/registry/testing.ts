/** The registry core's context as its in-process tests build it. */
import { pino } from 'pino';
import { createMemoryBlobStore } from '../blobstore/memory/memory-blob-store.js';
import { singleVault } from '../blobstore/vaults.js';
import { ChangeSignal } from '../core/expiring-cache.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { RegistryContext } from './context.js';

/**
 * A memory blob store, SQLite in memory, a fixed clock, a silent log and small limits (1 MiB
 * blobs, 100-item pages), each replaced by what `parts` gives; hashing is the caller's, as its
 * threads must be closed after the file's tests.
 */
export function testContext(parts: Pick<RegistryContext, 'hashing'> & Partial<RegistryContext>): RegistryContext {
  return {
    vaults: singleVault(createMemoryBlobStore()),
    meta: createSqliteMetadataStore({ path: ':memory:' }),
    clock: { now: () => new Date('2026-01-01T00:00:00Z') },
    log: pino({ level: 'silent' }),
    authzChanges: new ChangeSignal(),
    limits: {
      createOnPush: true,
      deleteEnabled: true,
      autoMount: true,
      maxUploadSessions: 10,
      maxManifestBytes: 4 * 1024 * 1024,
      maxBlobBytes: 1024 * 1024,
      maxPageSize: 100,
    },
    ...parts,
  };
}
