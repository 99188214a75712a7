/**
 * `npm run bench:outbox-claims`: what the outbox's claim in turns costs, on both engines.
 *  - deep: one account has EVENTS events waiting, twenty others ten each (written as pushes write
 *    them: with a manifest put); then CLAIMS claims of the deliverer's batch (200), each batch
 *    dispatched as it goes;
 *  - many: ACCOUNTS accounts with DEPTH events each; MANY_CLAIMS claims of a batch.
 * Prints each engine's query plans for the deep outbox, and per claim: CPU in this process, on
 * PostgreSQL the server backends' CPU, and the rows the claim read (bench/claim-bench.ts says how
 * each is counted). The figures are for the note and the README. BENCH_QUICK=1 makes a smaller run.
 */
import { registryKey } from '../src/core/registry-key.js';
import { push } from '../src/metadata/contract-fixtures.js';
import { OUTBOX_TURNS } from '../src/metadata/job-turns.js';
import type { MetadataStore, OutboxEvent } from '../src/metadata/types.js';
import { DUE_EVENTS_SQL, OUTBOX_ACCOUNTS_SQL } from '../src/metadata/sqlite/events.js';
import { FIRST_EVENTS_SQL } from '../src/metadata/postgres/events.js';
import { costLine, onPostgres, onSqlite, postgresClaims, postgresPlan, quick, sqliteClaims, sqlitePlan } from './claim-bench.js';

const EVENTS = quick ? 10_000 : 100_000;
const CLAIMS = quick ? 10 : 50;
const ACCOUNTS = quick ? 100 : 1000;
const DEPTH = quick ? 50 : 200;
const MANY_CLAIMS = quick ? 10 : 20;
const BATCH = 200;
const BIG = '111111111111';
const other = (a: number) => String(200000000000 + a);

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

async function fillDeep(store: MetadataStore): Promise<void> {
  for (let i = 0; i < EVENTS; i += 1000) await push(store, { salt: `big-${i}`, events: Array.from({ length: Math.min(1000, EVENTS - i) }, () => event(BIG)) });
  for (let a = 0; a < 20; a++) await push(store, { salt: `other-${a}`, events: Array.from({ length: 10 }, () => event(other(a))) });
}

async function fillMany(store: MetadataStore): Promise<void> {
  for (let a = 0; a < ACCOUNTS; a++) await push(store, { salt: `many-${a}`, events: Array.from({ length: DEPTH }, () => event(other(a))) });
}

/** One claim of a batch, dispatched; counts the 20 other accounts' events of the deep outbox. */
function claimer(): { claim: (store: MetadataStore, i: number) => Promise<void>; othersServedBy: () => number } {
  let servedBy = -1;
  let others = 0;
  return {
    async claim(store, i) {
      const got = await store.eventOutbox.claim('bench', 60_000, BATCH, new Date(10));
      others += got.filter((r) => !(r.registryKey as unknown as string).startsWith(BIG)).length;
      if (others === 200 && servedBy < 0) servedBy = i + 1;
      await store.eventOutbox.dispatch(
        got.map((r) => r.seq),
        'bench',
        [],
        new Date(10),
      );
    },
    othersServedBy: () => servedBy,
  };
}

await onSqlite(async (store, db) => {
  await fillDeep(store);
  console.log(
    `sqlite: the accounts with events\n${sqlitePlan(db, OUTBOX_ACCOUNTS_SQL)}\nsqlite: one account's oldest\n${sqlitePlan(db, DUE_EVENTS_SQL, BIG, 0, 10, BATCH)}`,
  );
  const c = claimer();
  const cost = await sqliteClaims(db, CLAIMS, (i) => c.claim(store, i));
  console.log(
    `sqlite: deep: ${EVENTS} + 200 waiting, ${CLAIMS} claims of ${BATCH}: ${costLine(cost)} (with its dispatch); the 20 other accounts' 200 events all claimed by claim ${c.othersServedBy()}`,
  );
});
await onSqlite(async (store, db) => {
  await fillMany(store);
  const cost = await sqliteClaims(db, MANY_CLAIMS, (i) => claimer().claim(store, i));
  console.log(`sqlite: many: ${ACCOUNTS} accounts × ${DEPTH} waiting, ${MANY_CLAIMS} claims of ${BATCH}: ${costLine(cost)} (with its dispatch)`);
});

await onPostgres(async (client, open) => {
  const store = await open();
  await fillDeep(store);
  await store.close();
  await client.query('ANALYZE event_outbox');
  console.log("postgres: the claim's first read\n" + (await postgresPlan(client, FIRST_EVENTS_SQL, [10, BATCH * 4, OUTBOX_TURNS])));
  const c = claimer();
  const cost = await postgresClaims(client, open, 'event_outbox', CLAIMS, c.claim);
  console.log(
    `postgres: deep: ${EVENTS} + 200 waiting, ${CLAIMS} claims of ${BATCH}: ${costLine(cost)} (with its dispatch); the 20 other accounts' 200 events all claimed by claim ${c.othersServedBy()}`,
  );
});
await onPostgres(async (client, open) => {
  const store = await open();
  await fillMany(store);
  await store.close();
  await client.query('ANALYZE event_outbox');
  const cost = await postgresClaims(client, open, 'event_outbox', MANY_CLAIMS, claimer().claim);
  console.log(`postgres: many: ${ACCOUNTS} accounts × ${DEPTH} waiting, ${MANY_CLAIMS} claims of ${BATCH}: ${costLine(cost)} (with its dispatch)`);
});
