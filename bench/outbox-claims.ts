/**
 * `npm run bench:outbox-claims`: what the outbox's claim in turns costs with a deep outbox, on
 * both engines. One account has EVENTS events waiting, twenty others ten each (written as pushes
 * write them: with a manifest put); then CLAIMS claims of the deliverer's batch (200), each batch
 * dispatched as it goes. Prints SQLite's EXPLAIN QUERY PLAN of the two statements a claim runs
 * and PostgreSQL's EXPLAIN ANALYZE of its one claim statement, and the claims' CPU time in this
 * process. The figures are for the note and the README. BENCH_QUICK=1 makes a smaller run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { registryKey } from '../src/core/registry-key.js';
import { push } from '../src/metadata/contract-fixtures.js';
import { OUTBOX_TURNS } from '../src/metadata/job-turns.js';
import type { MetadataStore, OutboxEvent } from '../src/metadata/types.js';
import { DUE_EVENTS_SQL, OUTBOX_ACCOUNTS_SQL } from '../src/metadata/sqlite/events.js';
import { createSqliteMetadataStore } from '../src/metadata/sqlite/sqlite-store.js';
import { CLAIM_EVENTS_SQL } from '../src/metadata/postgres/events.js';
import { onTestPostgres } from './test-postgres.js';

const quick = process.env.BENCH_QUICK === '1';
const EVENTS = quick ? 10_000 : 100_000;
const CLAIMS = quick ? 10 : 50;
const BATCH = 200;
const BIG = '111111111111';

let serial = 0;
const event = (account: string): OutboxEvent => {
  const id = `00000000-0000-4000-8000-${String(++serial).padStart(12, '0')}`;
  return {
    id,
    registryKey: registryKey(account, 'us-east-1'),
    detailType: 'ECR Image Action',
    body: JSON.stringify({ id, detail: { 'action-type': 'PUSH' } }),
  };
};

async function fill(store: MetadataStore): Promise<void> {
  for (let i = 0; i < EVENTS; i += 1000) await push(store, { salt: `big-${i}`, events: Array.from({ length: Math.min(1000, EVENTS - i) }, () => event(BIG)) });
  for (let a = 0; a < 20; a++) await push(store, { salt: `other-${a}`, events: Array.from({ length: 10 }, () => event(String(200000000000 + a))) });
}

/** CLAIMS claims of a batch, each dispatched; CPU and wall ms per claim, and the claim by which the others' 200 events were all taken. */
async function claims(store: MetadataStore): Promise<string> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let othersServedBy = -1;
  let others = 0;
  for (let i = 0; i < CLAIMS; i++) {
    const got = await store.eventOutbox.claim('bench', 60_000, BATCH, new Date(10));
    others += got.filter((r) => !(r.registryKey as unknown as string).startsWith(BIG)).length;
    if (others === 200 && othersServedBy < 0) othersServedBy = i + 1;
    await store.eventOutbox.dispatch(
      got.map((r) => r.seq),
      'bench',
      [],
      new Date(10),
    );
  }
  const used = process.cpuUsage(cpu);
  const per = (ms: number) => (ms / CLAIMS).toFixed(2);
  return `${EVENTS} + 200 waiting, ${CLAIMS} claims of ${BATCH}: ${per((used.user + used.system) / 1000)} ms CPU and ${per(performance.now() - started)} ms wall per claim (with its dispatch); the 20 other accounts' 200 events all claimed by claim ${othersServedBy}`;
}

async function sqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-outbox-'));
  try {
    const path = join(dir, 'metadata.db');
    const store = await createSqliteMetadataStore({ path });
    await fill(store);
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, ...args: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => `  ${r.detail}`).join('\n');
    console.log(`sqlite: the accounts with events\n${plan(OUTBOX_ACCOUNTS_SQL)}\nsqlite: one account's oldest\n${plan(DUE_EVENTS_SQL, BIG, 10, BATCH)}`);
    db.close();
    console.log(`sqlite: ${await claims(store)}`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(): Promise<void> {
  await onTestPostgres(async (store, client) => {
    await fill(store);
    await client.query('ANALYZE event_outbox');
    await client.query('BEGIN');
    const explained = await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${CLAIM_EVENTS_SQL}`, [10, 'plan', 60_010, BATCH, BATCH * 4, OUTBOX_TURNS]);
    await client.query('ROLLBACK');
    console.log('postgres: the claim\n' + explained.rows.map((r: Record<string, string>) => `  ${r['QUERY PLAN']}`).join('\n'));
    console.log(`postgres: ${await claims(store)}`);
  });
}

await sqlite();
await postgres();
