/**
 * What bench/job-claims.ts and bench/outbox-claims.ts share: a throwaway store on each engine,
 * the CPU a run of claims costs (this process's and, on PostgreSQL, the server backends'), the
 * rows those claims read, and query plans printed. Rows read: on SQLite, the rows the store's
 * statements hand back (better-sqlite3's statements are counted for the run; a bench-only wrap,
 * nothing in src knows of it); on PostgreSQL, the index entries and heap rows the table's scans
 * read, from the statistics the server keeps (flushed when the store's connections close).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { MetadataStore } from '../src/metadata/types.js';
import { createSqliteMetadataStore } from '../src/metadata/sqlite/sqlite-store.js';
import { createPostgresMetadataStore } from '../src/metadata/postgres/postgres-store.js';
import { startTestPostgres } from '../src/metadata/postgres/testing/cluster.js';
import { cpuSeconds } from './proc-stats.js';

export const quick = process.env.BENCH_QUICK === '1';

/** A store on a throwaway SQLite file, `run` given it and a read-only connection for plans. */
export async function onSqlite(run: (store: MetadataStore, db: Database.Database) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-claims-'));
  try {
    const path = join(dir, 'metadata.db');
    const store = await createSqliteMetadataStore({ path });
    const db = new Database(path, { readonly: true });
    try {
      await run(store, db);
    } finally {
      db.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SQLite's EXPLAIN QUERY PLAN of one statement, indented. */
export function sqlitePlan(db: Database.Database, sql: string, ...args: unknown[]): string {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => `  ${r.detail}`).join('\n');
}

/** Counts the rows every better-sqlite3 statement of this process returns until the count is read. */
function countSqliteRows(db: Database.Database): () => number {
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as { all: (...a: unknown[]) => unknown[]; get: (...a: unknown[]) => unknown };
  const { all, get } = proto;
  let n = 0;
  proto.all = function (this: unknown, ...a: unknown[]) {
    const r = all.apply(this, a);
    n += r.length;
    return r;
  };
  proto.get = function (this: unknown, ...a: unknown[]) {
    const r = get.apply(this, a);
    if (r !== undefined) n++;
    return r;
  };
  return () => {
    proto.all = all;
    proto.get = get;
    return n;
  };
}

export interface ClaimCost {
  cpuMs: number;
  wallMs: number;
  serverCpuMs?: number;
  rowsRead: number;
}

export function costLine(c: ClaimCost): string {
  const server = c.serverCpuMs === undefined ? '' : `, ${c.serverCpuMs.toFixed(2)} ms server CPU`;
  return `${c.cpuMs.toFixed(2)} ms CPU${server}, ${c.wallMs.toFixed(2)} ms wall, ${Math.round(c.rowsRead)} rows read per claim`;
}

/** `claims` claims on SQLite (`claim(i)` one with whatever follows it); cost per claim. */
export async function sqliteClaims(db: Database.Database, claims: number, claim: (i: number) => Promise<void>): Promise<ClaimCost> {
  const rows = countSqliteRows(db);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < claims; i++) await claim(i);
  const wallMs = (performance.now() - started) / claims;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000 / claims, wallMs, rowsRead: rows() / claims };
}

/**
 * A throwaway PostgreSQL database; `run` gets a plain client (for plans and statistics) and
 * opens stores on the database as it needs (each closed by the caller). Says so and runs
 * nothing when PostgreSQL is not installed.
 */
export async function onPostgres(run: (client: pg.Client, open: () => Promise<MetadataStore>) => Promise<void>): Promise<void> {
  const server = await startTestPostgres();
  if (!server) return console.log('postgres: not installed, skipped');
  const db = await server.newDatabase();
  try {
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      await run(client, () => createPostgresMetadataStore({ connectionString: db.connectionString, poolSize: 2 }));
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
    await server.stop();
  }
}

/** PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of one statement, rolled back, indented. */
export async function postgresPlan(client: pg.Client, sql: string, params: unknown[]): Promise<string> {
  await client.query('BEGIN');
  try {
    const explained = await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params);
    return explained.rows.map((r: Record<string, string>) => `  ${r['QUERY PLAN']}`).join('\n');
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Index entries and heap rows read by scans of `table` so far (every closed connection's). */
async function tableReads(client: pg.Client, table: string): Promise<number> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const r = await client.query<{ n: string }>(
    `SELECT coalesce(t.seq_tup_read, 0) + coalesce((SELECT sum(idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = t.relid), 0) AS n
     FROM pg_stat_user_tables t WHERE t.relname = $1`,
    [table],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** The CPU seconds of this database's server backends other than `client`'s. */
async function backendsCpu(client: pg.Client): Promise<number> {
  const r = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  return r.rows.reduce((s, { pid }) => s + cpuSeconds(pid), 0);
}

/**
 * `claims` claims on a store of its own (`claim(store, i)` one with whatever follows it); cost
 * per claim. The store is opened and one claim made before the clock starts (so its connections
 * exist to be measured) and closed before the rows are read (so the server has its statistics).
 */
export async function postgresClaims(
  client: pg.Client,
  open: () => Promise<MetadataStore>,
  table: string,
  claims: number,
  claim: (store: MetadataStore, i: number) => Promise<void>,
): Promise<ClaimCost> {
  const store = await open();
  await claim(store, -1);
  await store.close();
  const before = await tableReads(client, table);
  const measured = await open();
  await measured.jobs.pending('warm-up');
  const server = await backendsCpu(client);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < claims; i++) await claim(measured, i);
  const wallMs = (performance.now() - started) / claims;
  const used = process.cpuUsage(cpu);
  const serverCpuMs = ((await backendsCpu(client)) - server) * 1000;
  await measured.close();
  const reads = (await tableReads(client, table)) - before;
  return { cpuMs: (used.user + used.system) / 1000 / claims, wallMs, serverCpuMs: serverCpuMs / claims, rowsRead: reads / claims };
}
