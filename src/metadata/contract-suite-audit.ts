/** Contract: the audit trail — batched appends, LookupEvents' filters and pages, retention (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openAuditAppender } from './audit-appender.js';
import type { AuditEventRow, StoredAuditEvent } from './audit-rows.js';
import { at, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';

function row(o: Partial<AuditEventRow> & { ms: number }): AuditEventRow {
  const { ms, ...rest } = o;
  const eventId = rest.eventId ?? randomUUID();
  const r: AuditEventRow = {
    eventId,
    accountId: ACCOUNT,
    eventTime: at(ms),
    eventName: 'BatchGetImage',
    eventSource: 'ecr.amazonaws.com',
    readOnly: true,
    username: 'alice',
    accessKeyId: 'AKIAALICE',
    resourceType: 'AWS::ECR::Repository',
    resourceName: 'team/web',
    record: JSON.stringify({ eventID: eventId }),
    ...rest,
  };
  // Absent, not undefined: as rows read back.
  for (const k of Object.keys(r) as Array<keyof AuditEventRow>) if (r[k] === undefined) delete r[k];
  return r;
}

const ids = (rows: StoredAuditEvent[]) => rows.map((r) => r.eventId);

export function auditContract(test: ContractTest): void {
  test("audit: the store's appender opens a connection of its own, whose batches the store reads back", async ({ a }) => {
    // The suites run on a SQLite file and on PostgreSQL; only an in-memory SQLite store offers none.
    assert.ok(a.audit.appender);
    const appender = openAuditAppender(a.audit.appender);
    try {
      const r = row({ ms: 3000 });
      await appender.append([r]);
      await appender.append([r]);
      assert.deepEqual(ids(await a.audit.lookup({ accountId: ACCOUNT, limit: 50 })), [r.eventId]);
    } finally {
      await appender.close();
    }
  });

  test('audit: a batch is stored once, read back whole on the other node, newest first', async ({ a, b }) => {
    const first = row({ ms: 1000, eventName: 'PutImage', readOnly: false });
    const second = row({ ms: 2000, username: undefined, accessKeyId: undefined, resourceType: undefined, resourceName: undefined });
    await a.audit.append([first, second]);
    // A retried flush (the same event ids) stores nothing twice.
    await b.audit.append([first]);
    await a.audit.append([]);
    const got = await b.audit.lookup({ accountId: ACCOUNT, limit: 50 });
    assert.deepEqual(ids(got), [second.eventId, first.eventId]);
    const { seq: _s1, ...readFirst } = got[1]!;
    assert.deepEqual(readFirst, first);
    const { seq: _s2, ...readSecond } = got[0]!;
    assert.deepEqual(readSecond, second, 'absent optional columns read back absent');
    assert.ok(got[0]!.seq > got[1]!.seq);
  });

  test('audit: each LookupEvents attribute filters on its own column; accounts never mix', async ({ a }) => {
    const put = row({ ms: 1, eventName: 'PutImage', readOnly: false, username: 'bob', accessKeyId: 'AKIABOB', resourceName: 'team/api' });
    const key = row({ ms: 2, eventName: 'Encrypt', eventSource: 'kms.amazonaws.com', resourceType: 'AWS::KMS::Key', resourceName: 'k1' });
    const pull = row({ ms: 3 });
    const other = row({ ms: 4, accountId: OTHER_ACCOUNT });
    await a.audit.append([put, key, pull, other]);
    const by = async (key: Parameters<typeof a.audit.lookup>[0]['attribute']) =>
      ids(await a.audit.lookup({ accountId: ACCOUNT, limit: 50, ...(key && { attribute: key }) }));
    assert.deepEqual(await by(undefined), [pull.eventId, key.eventId, put.eventId]);
    assert.deepEqual(await by({ key: 'EventId', value: key.eventId }), [key.eventId]);
    assert.deepEqual(await by({ key: 'EventId', value: other.eventId }), [], "another account's event is not found by id");
    assert.deepEqual(await by({ key: 'EventName', value: 'PutImage' }), [put.eventId]);
    assert.deepEqual(await by({ key: 'ReadOnly', value: 'false' }), [put.eventId]);
    assert.deepEqual(await by({ key: 'ReadOnly', value: 'true' }), [pull.eventId, key.eventId]);
    assert.deepEqual(await by({ key: 'ReadOnly', value: 'yes' }), []);
    assert.deepEqual(await by({ key: 'Username', value: 'bob' }), [put.eventId]);
    assert.deepEqual(await by({ key: 'AccessKeyId', value: 'AKIABOB' }), [put.eventId]);
    assert.deepEqual(await by({ key: 'ResourceType', value: 'AWS::KMS::Key' }), [key.eventId]);
    assert.deepEqual(await by({ key: 'ResourceName', value: 'team/api' }), [put.eventId]);
    assert.deepEqual(await by({ key: 'EventSource', value: 'kms.amazonaws.com' }), [key.eventId]);
    assert.deepEqual(ids(await a.audit.lookup({ accountId: OTHER_ACCOUNT, limit: 50 })), [other.eventId]);
  });

  test('audit: time bounds are inclusive; pages follow the last row, ties broken by seq', async ({ a, b }) => {
    // Three events in one millisecond, then two later: pages of two must neither skip nor repeat.
    const same = [row({ ms: 10 }), row({ ms: 10 }), row({ ms: 10 })];
    const later = [row({ ms: 20 }), row({ ms: 30 })];
    await a.audit.append(same);
    await b.audit.append(later);
    const all = ids(await a.audit.lookup({ accountId: ACCOUNT, limit: 50 }));
    assert.equal(all.length, 5);
    assert.deepEqual(all.slice(0, 2), [later[1]!.eventId, later[0]!.eventId]);
    const seen: string[] = [];
    let before: { time: number; seq: number } | undefined;
    for (;;) {
      const page = await a.audit.lookup({ accountId: ACCOUNT, limit: 2, ...(before && { before }) });
      seen.push(...ids(page));
      if (page.length < 2) break;
      const last = page.at(-1)!;
      before = { time: last.eventTime.getTime(), seq: last.seq };
    }
    assert.deepEqual(seen, all);
    const window = ids(await a.audit.lookup({ accountId: ACCOUNT, limit: 50, start: at(10), end: at(20) }));
    assert.deepEqual(window.slice(0, 1), [later[0]!.eventId]);
    assert.deepEqual(new Set(window.slice(1)), new Set(same.map((r) => r.eventId)));
    assert.deepEqual(ids(await a.audit.lookup({ accountId: ACCOUNT, limit: 50, start: at(21) })), [later[1]!.eventId]);
  });

  test('audit: prune deletes only rows older than the cut, at most `limit` at a time', async ({ a, b }) => {
    const old = [row({ ms: 1 }), row({ ms: 2 }), row({ ms: 3, accountId: OTHER_ACCOUNT })];
    const kept = row({ ms: 100 });
    await a.audit.append([...old, kept]);
    assert.equal(await b.audit.prune(at(100), 2), 2);
    assert.equal(await b.audit.prune(at(100), 10), 1);
    assert.equal(await b.audit.prune(at(100), 10), 0);
    assert.deepEqual(ids(await a.audit.lookup({ accountId: ACCOUNT, limit: 50 })), [kept.eventId]);
    assert.deepEqual(ids(await a.audit.lookup({ accountId: OTHER_ACCOUNT, limit: 50 })), []);
  });
}
