/**
 * `npm run bench:job-claims`: what a fair claim costs with a deep queue, on both engines.
 *  - deep: one account has JOBS pending scans, twenty others ten each; then CLAIMS claims of four
 *    jobs each (a four-slot scan worker's), completed as they go;
 *  - many: ACCOUNTS accounts with DEPTH pending scans each; MANY_CLAIMS claims of four.
 * Prints each engine's query plans for the deep queue, and per claim: CPU in this process, on
 * PostgreSQL the server backends' CPU, and the rows the claim read (bench/claim-bench.ts says how
 * each is counted). No reference registry here: the figures are for the note and the README, not
 * a comparison. BENCH_QUICK=1 makes a smaller run.
 */
import type { JobRequest, MetadataStore } from '../src/metadata/types.js';
import { ACCOUNTS_SQL, DUE_SQL, NEXT_DUE_SQL } from '../src/metadata/sqlite/jobs.js';
import { FIRST_SQL } from '../src/metadata/postgres/jobs.js';
import { costLine, onPostgres, onSqlite, postgresClaims, postgresPlan, quick, sqliteClaims, sqlitePlan } from './claim-bench.js';

const JOBS = quick ? 10_000 : 100_000;
const CLAIMS = quick ? 50 : 500;
const ACCOUNTS = quick ? 100 : 1000;
const DEPTH = quick ? 50 : 200;
const MANY_CLAIMS = quick ? 20 : 100;
const KIND = 'scan-image';
const BIG = '111111111111';
const other = (a: number) => String(200000000000 + a);

const job = (account: string, n: number): JobRequest => ({ kind: KIND, account, payload: { registryId: `${account}:us-east-1`, n } });

async function enqueue(store: MetadataStore, jobs: JobRequest[], at: number): Promise<void> {
  for (let i = 0; i < jobs.length; i += 1000) await store.jobs.enqueue(jobs.slice(i, i + 1000), new Date(at));
}

async function fillDeep(store: MetadataStore): Promise<void> {
  await enqueue(
    store,
    Array.from({ length: JOBS }, (_, n) => job(BIG, n)),
    0,
  );
  for (let a = 0; a < 20; a++)
    await enqueue(
      store,
      Array.from({ length: 10 }, (_, n) => job(other(a), n)),
      1,
    );
}

async function fillMany(store: MetadataStore): Promise<void> {
  await enqueue(
    store,
    Array.from({ length: ACCOUNTS * DEPTH }, (_, n) => job(other(n % ACCOUNTS), n)),
    0,
  );
}

/** One claim of four, each job completed; counts the 20 other accounts' jobs of the deep queue. */
function claimer(): { claim: (store: MetadataStore, i: number) => Promise<void>; othersServedBy: () => number } {
  let servedBy = -1;
  let others = 0;
  return {
    async claim(store, i) {
      const got = await store.jobs.claim([KIND], 'bench', 60_000, 4, new Date(10));
      others += got.filter((j) => j.account !== BIG).length;
      if (others === 200 && servedBy < 0) servedBy = i + 1;
      for (const j of got) await store.jobs.complete(j.id, 'bench');
    },
    othersServedBy: () => servedBy,
  };
}

await onSqlite(async (store, db) => {
  await fillDeep(store);
  console.log('sqlite: accounts of a kind\n' + sqlitePlan(db, ACCOUNTS_SQL, { kind: KIND }));
  console.log("sqlite: one account's oldest due\n" + sqlitePlan(db, DUE_SQL, { kind: KIND, account: BIG, now: 10, n: 4 }));
  console.log("sqlite: one account's next due, after a pass\n" + sqlitePlan(db, NEXT_DUE_SQL, { kind: KIND, account: BIG, runAfter: 0, id: 4, now: 10, n: 4 }));
  const c = claimer();
  const cost = await sqliteClaims(db, CLAIMS, (i) => c.claim(store, i));
  console.log(
    `sqlite: deep: ${JOBS} + 200 pending, ${CLAIMS} claims of 4: ${costLine(cost)} (with its completions); the 20 other accounts' 200 jobs all claimed by claim ${c.othersServedBy()}`,
  );
});
await onSqlite(async (store, db) => {
  await fillMany(store);
  const c = claimer();
  const cost = await sqliteClaims(db, MANY_CLAIMS, (i) => c.claim(store, i));
  console.log(`sqlite: many: ${ACCOUNTS} accounts × ${DEPTH} pending, ${MANY_CLAIMS} claims of 4: ${costLine(cost)} (with its completions)`);
});

await onPostgres(async (client, open) => {
  const store = await open();
  await fillDeep(store);
  await store.close();
  await client.query('ANALYZE jobs');
  console.log("postgres: the claim's first read\n" + (await postgresPlan(client, FIRST_SQL, [[KIND], 10, 16])));
  const c = claimer();
  const cost = await postgresClaims(client, open, 'jobs', CLAIMS, c.claim);
  console.log(
    `postgres: deep: ${JOBS} + 200 pending, ${CLAIMS} claims of 4: ${costLine(cost)} (with its completions); the 20 other accounts' 200 jobs all claimed by claim ${c.othersServedBy()}`,
  );
});
await onPostgres(async (client, open) => {
  const store = await open();
  await fillMany(store);
  await store.close();
  await client.query('ANALYZE jobs');
  const cost = await postgresClaims(client, open, 'jobs', MANY_CLAIMS, claimer().claim);
  console.log(`postgres: many: ${ACCOUNTS} accounts × ${DEPTH} pending, ${MANY_CLAIMS} claims of 4: ${costLine(cost)} (with its completions)`);
});
