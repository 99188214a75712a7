/**
 * The metadata contract (../contract-suite.ts) against the PostgreSQL engine, on a throwaway
 * server (testing/cluster.ts) or BERTH_TEST_DATABASE_URL. Each test database is a fresh schema;
 * its two nodes are two stores with their own pools, as two Berth processes would be.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { contractTest, type NewDatabase } from '../contract-fixtures.js';
import { creationTemplateContract } from '../contract-suite-creation-templates.js';
import { gcContract } from '../contract-suite-gc.js';
import { queueContract } from '../contract-suite-queue.js';
import { repositoryContract } from '../contract-suite-repositories.js';
import { metadataContract } from '../contract-suite.js';
import { checkLegacy, LEGACY_BEFORE, LEGACY_SQL } from '../contract-legacy.js';
import { migrations } from '../migrations.js';
import { migratePostgres, postgresDialect, sortsByBytes } from './migrate.js';
import { createPool, Rollback, withTransaction } from './pool.js';
import { createPostgresMetadataStore } from './postgres-store.js';
import { startTestPostgres, type TestDatabase, type TestPostgres } from './testing/cluster.js';

const server = await startTestPostgres();
/** Schemas the suites share, dropped when the file is done (before the server stops). */
const shared: TestDatabase[] = [];
after(async () => {
  for (const db of shared) await db.drop();
  await server?.stop();
});
const skip = server ? false : 'PostgreSQL is not installed';

/**
 * One schema per suite, migrated by the first test's first node and emptied before every other
 * test: a test sees an empty database either way, and the suite skips ~150 ms of migration per
 * test. (Migrating from scratch is tested below, and every node's open still runs the check.)
 */
function factory(pg: TestPostgres | undefined, database?: string): NewDatabase {
  let db: TestDatabase | undefined;
  return async () => {
    if (!db) {
      db = await pg!.newDatabase(database === undefined ? {} : { database });
      shared.push(db);
    } else await db.empty();
    const { connectionString } = db;
    return {
      // A small pool per node: enough for the races, and it exercises connection reuse.
      open: () => createPostgresMetadataStore({ connectionString, poolSize: 4 }),
      destroy: async () => undefined,
    };
  };
}

// Most production databases sort text by a locale (en_US, ICU), not by bytes; listings must not
// follow it. The test server's own database is C, so the order-sensitive groups run again on a
// database whose default collation is ICU en-US ('a_b' < 'a-b' < 'B' there; the reverse in bytes).
const ICU_DATABASE = 'berth_test_icu';
let icu: string | false = skip;
if (server) {
  try {
    await server.admin(`CREATE DATABASE ${ICU_DATABASE} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
  } catch (e) {
    const code = (e as { code?: string }).code;
    // 42P04: it exists (a reused server); anything else: this PostgreSQL has no ICU.
    if (code !== '42P04') icu = `no ICU collation on this server (${(e as Error).message})`;
  }
}
// Every await is above: the runner may start the first suite as soon as it is registered, and
// the file's after-hook (which stops the server) must not run before the last one is.
metadataContract('postgres', factory(server), { skip });

describe('postgres, on a database with a locale collation', { skip: icu }, () => {
  const test = contractTest(factory(server, ICU_DATABASE));
  describe('repositories, tags, uploads and image queries', () => repositoryContract(test));
  describe('garbage collection', () => gcContract(test));
  describe('jobs, leases, scans, policies and identities', () => queueContract(test));
  describe('repository creation templates', () => creationTemplateContract(test));
});

describe('postgres engine', { skip }, () => {
  it('several nodes starting at once migrate once', async () => {
    const db = await server!.newDatabase();
    const pools = Array.from({ length: 4 }, () => createPool(db.connectionString, 2));
    try {
      const applied = await Promise.all(pools.map((p) => migratePostgres(p)));
      const all = applied.flat().sort((x, y) => x - y);
      assert.deepEqual(all, [...new Set(all)], 'no migration ran twice');
      assert.ok(all.length >= 4);
      const r = await pools[0]!.query<{ n: number }>('SELECT COUNT(*) AS n FROM schema_migrations');
      assert.equal(r.rows[0]!.n, all.length);
      assert.equal(await sortsByBytes(pools[0]!), true, 'the test database sorts by bytes');
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    }
  });

  it('a database from before migration 28 (IAM names that differ only in case, a signing configuration as a named document, open upload sessions, queued jobs and events) migrates and keeps them', async () => {
    const db = await server!.newDatabase();
    const pool = createPool(db.connectionString, 1);
    try {
      await withTransaction(pool, async (tx) => {
        await tx.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
        for (const m of migrations.filter((m) => m.version < LEGACY_BEFORE)) {
          for (const stmt of m.sql(postgresDialect)) await tx.query(stmt);
          await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [m.version, m.name]);
        }
        for (const stmt of LEGACY_SQL) await tx.query(stmt);
      });
      await pool.end();
      const store = await createPostgresMetadataStore({ connectionString: db.connectionString, poolSize: 2 });
      try {
        await checkLegacy(store);
      } finally {
        await store.close();
      }
    } finally {
      await pool.end().catch(() => undefined);
      await db.drop();
    }
  });

  it('a connection lost mid-transaction fails that call only; the pool recovers', async () => {
    const pool = createPool(server!.url, 1);
    try {
      await assert.rejects(withTransaction(pool, (tx) => tx.query('SELECT pg_terminate_backend(pg_backend_pid())')));
      await new Promise((r) => setTimeout(r, 50));
      const r = await withTransaction(pool, (tx) => tx.query<{ one: number }>('SELECT 1 AS one'));
      assert.equal(r.rows[0]!.one, 1);
    } finally {
      await pool.end();
    }
  });

  it('withTransaction retries a serialization failure and returns Rollback values', async () => {
    const pool = createPool(server!.url, 2);
    try {
      let calls = 0;
      const v = await withTransaction(pool, async () => {
        if (++calls < 3) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        return 'done';
      });
      assert.deepEqual([v, calls], ['done', 3]);
      assert.equal(await withTransaction(pool, async () => Promise.reject(new Rollback('refused'))), 'refused');
      await assert.rejects(
        withTransaction(pool, async () => Promise.reject(Object.assign(new Error('x'), { code: '23505' }))),
        /x/,
      );
    } finally {
      await pool.end();
    }
  });

  it('rejects an unreachable database and a bad pool size', async () => {
    await assert.rejects(createPostgresMetadataStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none', poolSize: 1 }));
    await assert.rejects(createPostgresMetadataStore({ connectionString: server!.url, poolSize: 0 }), /poolSize/);
  });
});
