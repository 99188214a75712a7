/**
 * A bench's PostgreSQL: a throwaway server and database (the tests' own, testing/cluster.ts), a
 * metadata store on it and a plain client for EXPLAIN, all stopped after `run`. Says so and runs
 * nothing when PostgreSQL is not installed.
 */
import pg from 'pg';
import type { MetadataStore } from '../src/metadata/types.js';
import { createPostgresMetadataStore } from '../src/metadata/postgres/postgres-store.js';
import { startTestPostgres } from '../src/metadata/postgres/testing/cluster.js';

export async function onTestPostgres(run: (store: MetadataStore, client: pg.Client) => Promise<void>): Promise<void> {
  const server = await startTestPostgres();
  if (!server) return console.log('postgres: not installed, skipped');
  const db = await server.newDatabase();
  try {
    const store = await createPostgresMetadataStore({ connectionString: db.connectionString, poolSize: 2 });
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      await run(store, client);
    } finally {
      await client.end();
      await store.close();
    }
  } finally {
    await db.drop();
    await server.stop();
  }
}
