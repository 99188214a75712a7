/**
 * Contract: a claim in turns reads a bounded number of rows however many accounts have deep
 * queues (TurnFill, job-turns.ts), and the bound changes nothing that can be seen: the batch is
 * still full whenever that many rows are claimable, in the same turn order, on both queues; and
 * claimers on two nodes still take each row once (see contract-suite.ts). What the claim reads is
 * pinned by job-turns.test.ts, which counts TurnFill's reads; these tests pin what it returns.
 */
import assert from 'node:assert/strict';
import { registryKey } from '../core/registry-key.js';
import { at, push, type ContractTest } from './contract-fixtures.js';
import type { JobRecord, MetadataStore, OutboxEvent, OutboxRecord } from './types.js';

/** Account i's twelve-digit id; its jobs and events are named `${i}.${n}`. */
const account = (i: number) => String(100000000000 + i);
const jobNames = (claimed: JobRecord[]) => claimed.map((j) => (j.payload as { name: string }).name);
const eventNames = (claimed: OutboxRecord[]) => claimed.map((r) => (JSON.parse(r.body) as { name: string }).name);

/** `depths[i]` jobs of account i, account by account (so account i's oldest is older than i+1's). */
async function enqueueJobs(s: MetadataStore, depths: number[]): Promise<void> {
  for (const [i, depth] of depths.entries()) {
    await s.jobs.enqueue(
      Array.from({ length: depth }, (_, n) => ({ kind: 'scan', account: account(i), payload: { name: `${i}.${n}` } })),
      at(i),
    );
  }
}

let serial = 0;
/** `depths[i]` events of account i, account by account. */
async function writeEvents(s: MetadataStore, depths: number[]): Promise<void> {
  for (const [i, depth] of depths.entries()) {
    const events = Array.from({ length: depth }, (_, n): OutboxEvent => {
      const id = `00000000-0000-4000-a000-${String(++serial).padStart(12, '0')}`;
      return { id, registryKey: registryKey(account(i), 'us-east-1'), detailType: 'ECR Image Action', body: JSON.stringify({ id, name: `${i}.${n}` }) };
    });
    const { result } = await push(s, { salt: events[0]!.id, events });
    assert.equal(result.kind, 'ok');
  }
}

/** Names `${i}.${n}` for the accounts `from` up to `to` (exclusive), of round n. */
const round = (n: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${from + i}.${n}`);

/** Both queues through one claim signature: `claim(limit)` returns the names claimed. */
type Queue = { fill: (s: MetadataStore, depths: number[]) => Promise<void>; claim: (s: MetadataStore, limit: number) => Promise<string[]> };
const QUEUES: Record<string, Queue> = {
  jobs: { fill: enqueueJobs, claim: async (s, limit) => jobNames(await s.jobs.claim(['scan'], 'w', 60_000, limit, at(1000))) },
  outbox: { fill: writeEvents, claim: async (s, limit) => eventNames(await s.eventOutbox.claim('w', 60_000, limit, at(1000))) },
};

export function turnReadsContract(test: ContractTest): void {
  for (const [queue, q] of Object.entries(QUEUES)) {
    test(`${queue} turn reads: 50 accounts with 100 rows each, claims of 20 come back full and in turn order`, async ({ a }) => {
      await q.fill(a, Array(50).fill(100));
      // Never-served accounts oldest first; then the accounts served longest ago, round by round.
      assert.deepEqual(await q.claim(a, 20), round(0, 0, 20));
      assert.deepEqual(await q.claim(a, 20), round(0, 20, 40));
      assert.deepEqual(await q.claim(a, 20), [...round(0, 40, 50), ...round(1, 0, 10)]);
      assert.deepEqual(await q.claim(a, 20), [...round(1, 10, 30)]);
      // A claim larger than the accounts: whole rounds. Turns now: 30..39 served by the second
      // claim, 0..9 and 40..49 by the third (0..9's rows are older), 10..29 by the fourth.
      const rounds = (n: number) => [...round(n, 30, 40), ...round(n + 1, 0, 10), ...round(n, 40, 50), ...round(n + 1, 10, 30)];
      assert.deepEqual(await q.claim(a, 100), [...rounds(1), ...rounds(2)]);
    });

    test(`${queue} turn reads: a batch is full when one deep account has to make up what many shallow ones lack`, async ({ a }) => {
      // Eleven accounts for a claim of 20: a first pass reading 2 of each finds 12 rows; the
      // deep account has the other 8.
      await q.fill(a, [100, ...Array(10).fill(1)]);
      assert.deepEqual(await q.claim(a, 20), roundsOf([100, ...Array(10).fill(1)], 20));
    });

    test(`${queue} turn reads: accounts running dry pass after pass still fill the batch in rounds`, async ({ a }) => {
      // A claim of 100 over depths 1, 28, 100, 100 reads 25 of each, then 8 of the three left
      // (the second runs dry at 28), then 3 of the last two.
      await q.fill(a, [1, 28, 100, 100]);
      assert.deepEqual(await q.claim(a, 100), roundsOf([1, 28, 100, 100], 100));
    });

    test(`${queue} turn reads: claimers on two nodes at once take each row of 40 accounts once`, async ({ a, b }) => {
      await q.fill(a, Array(40).fill(5));
      const taken: string[] = [];
      const drain = async (node: MetadataStore) => {
        for (let got = await q.claim(node, 7); got.length > 0; got = await q.claim(node, 7)) taken.push(...got);
      };
      await Promise.all([drain(a), drain(b), drain(a), drain(b)]);
      // A claim racing others may come back empty while rows are left (it skips what they
      // lock): one more claimer, alone, takes what is left.
      await drain(a);
      assert.equal(new Set(taken).size, taken.length, 'no row taken twice');
      assert.equal(taken.length, 200, 'none left behind');
    });
  }
}

/** The first `limit` names of accounts with these depths, never served, in turn order: round by round, account by account. */
function roundsOf(depths: number[], limit: number): string[] {
  const out: string[] = [];
  for (let n = 0; out.length < limit && depths.some((d) => d > n); n++)
    for (const [i, d] of depths.entries()) if (n < d && out.length < limit) out.push(`${i}.${n}`);
  return out;
}
