/**
 * `npm run bench:job-claims`: what a fair claim costs with a deep queue, on both engines. One
 * account has JOBS pending scans, twenty others ten each; then CLAIMS claims of four jobs each
 * (a four-slot scan worker's), completed as they go. Prints each engine's query plans (SQLite's
 * EXPLAIN QUERY PLAN of the two statements a claim runs per kind and account; PostgreSQL's
 * EXPLAIN ANALYZE of the one claim statement) and the claims' CPU time in this process and, on
 * PostgreSQL, the server's time in the statement. No reference registry here: the figures are
 * for the note and the README, not a comparison. BENCH_QUICK=1 makes a smaller run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { JobRequest, MetadataStore } from '../src/metadata/types.js';
import { ACCOUNTS_SQL, DUE_SQL } from '../src/metadata/sqlite/jobs.js';
import { createSqliteMetadataStore } from '../src/metadata/sqlite/sqlite-store.js';
import { CLAIM_SQL } from '../src/metadata/postgres/jobs.js';
import { onTestPostgres } from './test-postgres.js';

const quick = process.env.BENCH_QUICK === '1';
const JOBS = quick ? 10_000 : 100_000;
const CLAIMS = quick ? 50 : 500;
const KIND = 'scan-image';
const BIG = '111111111111';

async function fill(store: MetadataStore): Promise<void> {
  const now = new Date(0);
  const job = (account: string, n: number): JobRequest => ({ kind: KIND, account, payload: { registryId: `${account}:us-east-1`, n } });
  for (let i = 0; i < JOBS; i += 1000)
    await store.jobs.enqueue(
      Array.from({ length: Math.min(1000, JOBS - i) }, (_, n) => job(BIG, i + n)),
      now,
    );
  for (let a = 0; a < 20; a++)
    await store.jobs.enqueue(
      Array.from({ length: 10 }, (_, n) => job(String(200000000000 + a), n)),
      new Date(1),
    );
}

/** CLAIMS claims of four, each job completed; returns CPU ms per claim in this process and wall ms per claim. */
async function claims(store: MetadataStore): Promise<{ cpuMs: number; wallMs: number; othersServedBy: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let othersServedBy = -1;
  let otherJobs = 0;
  for (let i = 0; i < CLAIMS; i++) {
    const got = await store.jobs.claim([KIND], 'bench', 60_000, 4, new Date(10));
    otherJobs += got.filter((j) => j.account !== BIG).length;
    if (otherJobs === 200 && othersServedBy < 0) othersServedBy = i + 1;
    for (const j of got) await store.jobs.complete(j.id, 'bench');
  }
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000 / CLAIMS, wallMs: (performance.now() - started) / CLAIMS, othersServedBy };
}

async function sqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-jobs-'));
  try {
    const path = join(dir, 'metadata.db');
    const store = await createSqliteMetadataStore({ path });
    await fill(store);
    const db = new Database(path, { readonly: true });
    console.log('sqlite: accounts of a kind\n' + plan(db.prepare(`EXPLAIN QUERY PLAN ${ACCOUNTS_SQL}`).all({ kind: KIND })));
    console.log("sqlite: one account's oldest due\n" + plan(db.prepare(`EXPLAIN QUERY PLAN ${DUE_SQL}`).all(KIND, BIG, 10, 10, 4)));
    db.close();
    const r = await claims(store);
    console.log(
      `sqlite: ${JOBS} + 200 pending, ${CLAIMS} claims of 4: ${r.cpuMs.toFixed(3)} ms CPU and ${r.wallMs.toFixed(3)} ms wall per claim (with its completions); the 20 other accounts' 200 jobs all claimed by claim ${r.othersServedBy}`,
    );
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function plan(rows: unknown[]): string {
  return (rows as Array<{ id: number; parent: number; detail: string }>).map((r) => `  ${r.parent} ${r.id} ${r.detail}`).join('\n');
}

async function postgres(): Promise<void> {
  await onTestPostgres(async (store, client) => {
    await fill(store);
    await client.query('ANALYZE jobs');
    await client.query('BEGIN');
    const explained = await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${CLAIM_SQL}`, [[KIND], 10, 'plan', 60_010, 4, 16, null, [], []]);
    await client.query('ROLLBACK');
    console.log('postgres: the claim\n' + explained.rows.map((r: Record<string, string>) => `  ${r['QUERY PLAN']}`).join('\n'));
    const r = await claims(store);
    console.log(
      `postgres: ${JOBS} + 200 pending, ${CLAIMS} claims of 4: ${r.cpuMs.toFixed(3)} ms client CPU and ${r.wallMs.toFixed(3)} ms wall per claim (with its completions); the 20 other accounts' 200 jobs all claimed by claim ${r.othersServedBy}`,
    );
  });
}

await sqlite();
await postgres();
