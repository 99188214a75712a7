/** Contract: the audit trail's batches — stored once, found by key newest first, pruned whole (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openAuditAppender } from './audit-appender.js';
import { KeyCollector, packBlob, unpackBlob, type AuditBatchRow, type AuditCandidateQuery, type AuditStore } from './audit-rows.js';
import { at, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';

/** A batch whose calls are the given (account, user, time) triples, one text each. */
function batch(calls: Array<{ account?: string; user?: string; ms: number }>): AuditBatchRow {
  const keys = new KeyCollector();
  calls.forEach((c, i) => {
    const account = c.account ?? ACCOUNT;
    keys.add(account, 0, '', at(c.ms).getTime(), i);
    keys.add(account, 3, c.user, at(c.ms).getTime(), i);
  });
  const times = calls.map((c) => at(c.ms).getTime());
  return {
    batchId: randomUUID(),
    firstTime: Math.min(...times),
    lastTime: Math.max(...times),
    form: 2,
    calls: packBlob(calls.map((c) => JSON.stringify(c))),
    keys: keys.keys(),
  };
}

async function found(s: AuditStore, q: Partial<AuditCandidateQuery> = {}): Promise<string[]> {
  const got = await s.candidates({ accountId: ACCOUNT, attr: 0, value: '', limit: 50, ...q });
  return got.map((c) => c.batchId);
}

export function auditContract(test: ContractTest): void {
  test("audit: the store's appender opens a connection of its own, whose batches the store reads back", async ({ a }) => {
    // The suites run on a SQLite file and on PostgreSQL; only an in-memory SQLite store offers none.
    assert.ok(a.audit.appender);
    const appender = openAuditAppender(a.audit.appender);
    try {
      const b = batch([{ ms: 3000, user: 'alice' }]);
      await appender.append(b);
      await appender.append(b);
      assert.deepEqual(await found(a.audit), [b.batchId]);
    } finally {
      await appender.close();
    }
  });

  test('audit: a batch is stored once, whatever the tries, and read back whole on the other node with its keys', async ({ a, b }) => {
    const one = batch([
      { ms: 1000, user: 'alice' },
      { ms: 1500, user: 'bob' },
      { ms: 2000, user: 'alice' },
    ]);
    await a.audit.append(one);
    // A retried flush (the same batch id) stores nothing twice, keys included.
    await b.audit.append({ ...one, keys: [...one.keys, { accountId: ACCOUNT, attr: 3, value: 'mallory', firstTime: 0, lastTime: 0, chunks: 1 }] });
    const [got, ...more] = await b.audit.candidates({ accountId: ACCOUNT, attr: 3, value: 'alice', limit: 50 });
    assert.equal(more.length, 0);
    assert.deepEqual(
      { ...got!, calls: unpackBlob(got!.calls, got!.chunks), seq: 0 },
      {
        seq: 0,
        batchId: one.batchId,
        form: 2,
        firstTime: at(1000).getTime(),
        lastTime: at(2000).getTime(),
        chunks: 0b101,
        calls: ['{"ms":1000,"user":"alice"}', undefined, '{"ms":2000,"user":"alice"}'],
      },
      "alice's key spans her calls and names the texts that hold them; the others are not inflated",
    );
    assert.deepEqual(await found(b.audit, { attr: 3, value: 'mallory' }), [], "a retry's keys are not added to the stored batch");
    const byId = await a.audit.batchById(one.batchId);
    assert.equal(byId?.seq, got!.seq);
    assert.deepEqual(unpackBlob(byId!.calls, byId!.chunks).length, 3);
    assert.equal(await a.audit.batchById(randomUUID()), undefined);
  });

  test('audit: keys are per account and value, newest first by last time then seq, bounded by time and keyset', async ({ a, b }) => {
    const early = batch([
      { ms: 10, user: 'alice' },
      { ms: 20, user: 'bob' },
    ]);
    const tie1 = batch([{ ms: 30, user: 'alice' }]);
    const tie2 = batch([
      { ms: 25, user: 'bob' },
      { ms: 30, user: 'alice' },
    ]);
    const late = batch([
      { ms: 40, user: 'bob' },
      { ms: 50, account: OTHER_ACCOUNT, user: 'alice' },
    ]);
    for (const x of [early, tie1, tie2]) await a.audit.append(x);
    await b.audit.append(late);
    const all = await a.audit.candidates({ accountId: ACCOUNT, attr: 0, value: '', limit: 50 });
    assert.deepEqual(
      all.map((c) => c.batchId),
      [late.batchId, tie2.batchId, tie1.batchId, early.batchId],
    );
    assert.equal(all[0]!.lastTime, at(40).getTime(), "the key's span is its account's calls, not the batch's");
    assert.deepEqual(await found(a.audit, { attr: 3, value: 'alice' }), [tie2.batchId, tie1.batchId, early.batchId]);
    assert.deepEqual(await found(a.audit, { accountId: OTHER_ACCOUNT, attr: 3, value: 'alice' }), [late.batchId]);
    assert.deepEqual(await found(a.audit, { attr: 3, value: 'carol' }), []);
    assert.deepEqual(await found(a.audit, { minLastTime: at(30).getTime() }), [late.batchId, tie2.batchId, tie1.batchId]);
    assert.deepEqual(await found(a.audit, { maxFirstTime: at(25).getTime() }), [tie2.batchId, early.batchId]);
    const tie = all[1]!;
    assert.deepEqual(await found(a.audit, { from: { lastTime: tie.lastTime, seq: tie.seq, inclusive: true } }), [tie2.batchId, tie1.batchId, early.batchId]);
    assert.deepEqual(await found(a.audit, { from: { lastTime: tie.lastTime, seq: tie.seq, inclusive: false } }), [tie1.batchId, early.batchId]);
    assert.deepEqual(await found(a.audit, { limit: 2 }), [late.batchId, tie2.batchId]);
  });

  test('audit: prune deletes whole batches whose newest call is older than the cut, at most `limit` at a time', async ({ a, b }) => {
    const old = [batch([{ ms: 1 }, { ms: 2 }]), batch([{ ms: 3 }]), batch([{ ms: 4, account: OTHER_ACCOUNT, user: 'x' }])];
    const straddling = batch([{ ms: 50 }, { ms: 150 }]);
    for (const x of [...old, straddling]) await a.audit.append(x);
    assert.equal(await b.audit.prune(at(100), 2), 2);
    assert.equal(await b.audit.prune(at(100), 10), 1);
    assert.equal(await b.audit.prune(at(100), 10), 0, 'a batch with a call inside the retention is kept whole');
    assert.deepEqual(await found(a.audit), [straddling.batchId]);
    assert.deepEqual(await found(a.audit, { accountId: OTHER_ACCOUNT, attr: 3, value: 'x' }), [], 'keys go with their batch');
    assert.equal(await a.audit.batchById(old[2]!.batchId), undefined);
  });
}
