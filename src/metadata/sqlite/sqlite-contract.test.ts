/** The metadata contract (../contract-suite.ts) against the SQLite engine, the reference. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metadataContract } from '../contract-suite.js';
import { createSqliteMetadataStore } from './sqlite-store.js';

// A file per test database, not ':memory:': the two nodes of a test must share it.
metadataContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-contract-'));
  const path = join(dir, 'metadata.db');
  return {
    open: async () => createSqliteMetadataStore({ path }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
