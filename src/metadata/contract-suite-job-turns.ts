/**
 * Contract: claims take turns between accounts (JobStore.claim), so one account's backlog does
 * not hold back another account's job; oldest first within an account; a claimer's share per
 * account; several claimers at once never take one job twice (see contract-suite.ts).
 */
import assert from 'node:assert/strict';
import type { JobRecord, JobRequest } from './types.js';
import { at, type ContractTest } from './contract-fixtures.js';

const A = '111111111111';
const B = '222222222222';
const C = '333333333333';

const jobs = (account: string, count: number, kind = 'scan'): JobRequest[] =>
  Array.from({ length: count }, (_, n) => ({ kind, account, payload: { account, n } }));
const names = (claimed: JobRecord[]) => claimed.map((j) => `${j.account.slice(0, 1)}${(j.payload as { n: number }).n}`);

export function jobTurnsContract(test: ContractTest): void {
  test("job turns: another account's one job is claimed second, not behind the first account's backlog", async ({ a }) => {
    await a.jobs.enqueue(jobs(A, 30), at(0));
    await a.jobs.enqueue(jobs(B, 1), at(5));
    const order: string[] = [];
    for (let i = 0; i < 31; i++) {
      const claimed = await a.jobs.claim(['scan'], 'w', 30_000, 1, at(10));
      assert.equal(claimed.length, 1, `claim ${i}`);
      order.push(...names(claimed));
      assert.equal(claimed[0]!.account, (claimed[0]!.payload as { account: string }).account, 'the job carries its account');
    }
    // Neither account was claimed before: the oldest job first, then the account not served yet.
    assert.deepEqual(order.slice(0, 3), ['10', '20', '11']);
    assert.deepEqual(
      order.filter((n) => n.startsWith('1')),
      Array.from({ length: 30 }, (_, n) => `1${n}`),
      'oldest first within an account',
    );
    assert.deepEqual(await a.jobs.claim(['scan'], 'w', 30_000, 1, at(10)), []);
  });

  test('job turns: a claim of several takes one job per account per round, the account served longest ago first', async ({ a }) => {
    await a.jobs.enqueue(jobs(A, 6), at(0));
    await a.jobs.enqueue(jobs(B, 3), at(1));
    await a.jobs.enqueue(jobs(C, 1), at(2));
    assert.deepEqual(names(await a.jobs.claim(['scan'], 'w', 30_000, 6, at(10))), ['10', '20', '30', '11', '21', '12']);
    // C has nothing left; A and B were served by the same claim: the older job goes first.
    assert.deepEqual(names(await a.jobs.claim(['scan'], 'w', 30_000, 1, at(10))), ['13']);
    assert.deepEqual(names(await a.jobs.claim(['scan'], 'w', 30_000, 1, at(10))), ['22'], "B's turn: A was served since");
    // Another kind keeps its own turns, and earlier kinds still go first.
    await a.jobs.enqueue([...jobs(B, 1, 'sign'), ...jobs(A, 1, 'sign')], at(20));
    assert.deepEqual(names(await a.jobs.claim(['sign', 'scan'], 'w', 30_000, 3, at(30))), ['20', '10', '14']);
  });

  test("job turns: a claimer's share caps the jobs of one account it holds", async ({ a }) => {
    await a.jobs.enqueue(jobs(A, 5), at(0));
    await a.jobs.enqueue(jobs(B, 5), at(1));
    const held = new Map([[A, 1]]);
    assert.deepEqual(names(await a.jobs.claim(['scan'], 'w', 30_000, 5, at(10), { perAccount: 2, held })), ['10', '20', '21']);
    assert.deepEqual(
      await a.jobs.claim(['scan'], 'w', 30_000, 5, at(10), {
        perAccount: 2,
        held: new Map([
          [A, 2],
          [B, 2],
        ]),
      }),
      [],
      'both at their share',
    );
    const more = await a.jobs.claim(['scan'], 'w', 30_000, 5, at(10), {
      perAccount: 3,
      held: new Map([
        [A, 2],
        [B, 2],
      ]),
    });
    assert.deepEqual(names(more), ['11', '22'], 'one more each');
  });

  test('job turns: claimers on two nodes at once take every job of every account exactly once', async ({ a, b }) => {
    await a.jobs.enqueue([...jobs(A, 20), ...jobs(B, 20), ...jobs(C, 20)], at(0));
    const taken: number[] = [];
    const drain = async (node: typeof a, holder: string) => {
      for (;;) {
        const claimed = await node.jobs.claim(['scan'], holder, 30_000, 4, at(1));
        if (claimed.length === 0) return;
        taken.push(...claimed.map((j) => j.id));
      }
    };
    await Promise.all([drain(a, 'a1'), drain(b, 'b1'), drain(a, 'a2'), drain(b, 'b2')]);
    assert.equal(new Set(taken).size, taken.length, 'no job taken twice');
    assert.equal(taken.length, 60, 'none left behind');
  });
}
