/** The metadata contract (../contract-suite.ts) against the SQLite engine, the reference. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { it } from 'node:test';
import { checkLegacy, LEGACY_BEFORE, LEGACY_SQL } from '../contract-legacy.js';
import { metadataContract } from '../contract-suite.js';
import { migrations } from '../migrations.js';
import { sqliteDialect } from './open.js';
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

it('sqlite: a database from before migration 28 (IAM names that differ only in case, a signing configuration as a named document, open upload sessions, queued jobs and events) migrates and keeps them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-twins-'));
  try {
    const path = join(dir, 'metadata.db');
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of migrations.filter((m) => m.version < LEGACY_BEFORE)) {
      for (const stmt of m.sql(sqliteDialect)) old.exec(stmt);
      old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    for (const stmt of LEGACY_SQL) old.exec(stmt);
    old.close();
    const store = await createSqliteMetadataStore({ path });
    try {
      await checkLegacy(store);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
