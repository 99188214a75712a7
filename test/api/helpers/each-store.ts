/**
 * A suite run once per metadata store: SQLite (in memory), then PostgreSQL in a fresh database of
 * the test cluster (skipped, loudly, where PostgreSQL is not installed). The suite is given the
 * store's settings as environment for the Berth it starts.
 */
import { after } from 'node:test';
import { startTestPostgres, type TestDatabase } from '../../../src/metadata/postgres/testing/cluster.js';

export type StoreSuite = (name: string, store: () => Promise<Record<string, string>>, skip: string | false) => void;

export async function onEachStore(suite: StoreSuite): Promise<void> {
  const pg = await startTestPostgres();
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const db of databases) await db.drop();
    await pg?.stop();
  });
  suite('SQLite', async () => ({}), false);
  suite(
    'PostgreSQL',
    async () => {
      const db = await pg!.newDatabase();
      databases.push(db);
      return { BERTH_DATABASE_URL: db.connectionString };
    },
    pg ? false : 'PostgreSQL is not installed',
  );
}
