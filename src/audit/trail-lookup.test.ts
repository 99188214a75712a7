/**
 * LookupEvents over the batch-shaped trail, on both engines (a SQLite file and PostgreSQL): the
 * attribute filters inside a batch, pages that end and resume inside a batch, a time range that
 * cuts one, tokens that cannot be pointed at another account's batches, and the carry-over of
 * migration 8's rows on PostgreSQL (SQLite's is in metadata/sqlite/audit-file.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AUDIT_COLUMNS, type AuditStore } from '../metadata/audit-rows.js';
import { carryOverPostgresAuditRows } from '../metadata/postgres/audit.js';
import { createPool } from '../metadata/postgres/pool.js';
import { createPostgresMetadataStore } from '../metadata/postgres/postgres-store.js';
import { startTestPostgres } from '../metadata/postgres/testing/cluster.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../metadata/types.js';
import { storedBatch } from './audit-batch.js';
import { wireOf } from './packed-calls.js';
import type { AuditedCall } from './cloudtrail-record.js';
import { batchIdAt, eventIdOf } from './event-id.js';
import { LookupEventsError, lookupEvents } from './lookup-events.js';

const ACCOUNT = '123456789012';
const OTHER = '210987654321';
const T0 = Date.parse('2026-06-01T00:00:00Z');

const pg = await startTestPostgres();
const dirs: string[] = [];
after(async () => {
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Engine {
  name: string;
  skip: string | false;
  open(): Promise<{ store: MetadataStore; connectionString?: string }>;
}

const engines: Engine[] = [
  {
    name: 'SQLite',
    skip: false,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'berth-trail-lookup-'));
      dirs.push(dir);
      return { store: createSqliteMetadataStore({ path: join(dir, 'metadata.db') }) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: pg ? false : 'PostgreSQL is not installed',
    async open() {
      const db = await pg!.newDatabase();
      return { store: await createPostgresMetadataStore({ connectionString: db.connectionString, poolSize: 2 }), connectionString: db.connectionString };
    },
  },
];

/** A call at T0 + `s` seconds; `user` and `repo` vary the attributes. */
function call(n: number, s: number, o: { user?: string; repo?: string; account?: string; op?: string } = {}): AuditedCall {
  const account = o.account ?? ACCOUNT;
  const user = o.user ?? 'alice';
  return {
    api: 'ecr',
    operation: o.op ?? 'DescribeImages',
    method: 'POST',
    principal: { arn: `arn:aws:iam::${account}:user/${user}`, accountId: account, kind: 'user', userName: user, accessKeyId: `AKIA${user.toUpperCase()}` },
    params: { repositoryName: o.repo ?? 'team/web' },
    requestId: `req-${n}`,
    time: new Date(T0 + s * 1000),
    region: 'us-east-1',
  };
}

/** Stores the calls as the writer does (one batch); returns its id. */
async function store(audit: AuditStore, calls: AuditedCall[]): Promise<string> {
  const id = batchIdAt(calls[0]!.time);
  await audit.append(storedBatch(id, wireOf(calls), false).batch!);
  return id;
}

const requestIds = (out: Awaited<ReturnType<typeof lookupEvents>>) => out.Events.map((e) => (JSON.parse(e.CloudTrailEvent) as { requestID: string }).requestID);

async function all(audit: AuditStore, body: Record<string, unknown>, account = ACCOUNT): Promise<string[]> {
  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await lookupEvents(audit, account, { ...body, ...(token && { NextToken: token }) });
    seen.push(...requestIds(page));
    token = page.NextToken;
  } while (token);
  return seen;
}

const refused = (code: string) => (e: unknown) => e instanceof LookupEventsError && e.code.code === code;

for (const engine of engines) {
  describe(`LookupEvents over batches: ${engine.name}`, { skip: engine.skip }, () => {
    it('finds by each attribute the calls of a batch that have it, and not the others of the same batch', async () => {
      const { store: meta } = await engine.open();
      try {
        const id = await store(meta.audit, [
          call(0, 1),
          call(1, 2, { user: 'bob', repo: 'team/api' }),
          call(2, 3, { op: 'PutLifecyclePolicy' }),
          call(3, 4, { account: OTHER, user: 'bob' }),
          call(4, 5, { user: 'bob' }),
        ]);
        const by = (key: string, value: string, account = ACCOUNT) =>
          all(meta.audit, { LookupAttributes: [{ AttributeKey: key, AttributeValue: value }] }, account);
        assert.deepEqual(await all(meta.audit, {}), ['req-4', 'req-2', 'req-1', 'req-0']);
        assert.deepEqual(await by('Username', 'bob'), ['req-4', 'req-1'], "another account's bob is not found");
        assert.deepEqual(await by('Username', 'bob', OTHER), ['req-3']);
        assert.deepEqual(await by('AccessKeyId', 'AKIABOB'), ['req-4', 'req-1']);
        assert.deepEqual(await by('EventName', 'PutLifecyclePolicy'), ['req-2']);
        assert.deepEqual(await by('ReadOnly', 'false'), ['req-2']);
        assert.deepEqual(await by('ReadOnly', 'true'), ['req-4', 'req-1', 'req-0']);
        assert.deepEqual(await by('ReadOnly', 'yes'), []);
        assert.deepEqual(await by('ResourceName', 'team/api'), ['req-1']);
        assert.deepEqual(await by('ResourceType', 'AWS::ECR::Repository'), ['req-4', 'req-2', 'req-1', 'req-0']);
        assert.deepEqual(await by('EventSource', 'ecr.amazonaws.com'), ['req-4', 'req-2', 'req-1', 'req-0']);
        assert.deepEqual(await by('EventSource', 'kms.amazonaws.com'), []);
        const third = await lookupEvents(meta.audit, ACCOUNT, { LookupAttributes: [{ AttributeKey: 'EventId', AttributeValue: eventIdOf(id, 2) }] });
        assert.deepEqual(requestIds(third), ['req-2']);
        assert.equal(third.Events[0]!.EventId, eventIdOf(id, 2));
        assert.deepEqual(await by('EventId', eventIdOf(id, 3)), [], "another account's call is not found by its id");
        assert.deepEqual(await by('EventId', eventIdOf(id, 3), OTHER), ['req-3']);
        assert.deepEqual(await by('EventId', eventIdOf(id, 9)), [], 'an index past the batch');
        assert.deepEqual(await by('EventId', 'not-an-id'), []);
      } finally {
        await meta.close();
      }
    });

    it('ends pages inside a batch and resumes there, unfiltered and filtered, neither skipping nor repeating', async () => {
      const { store: meta } = await engine.open();
      try {
        // 250 calls (three texts) with ties in time, then a second batch overlapping its end.
        const first = Array.from({ length: 250 }, (_, i) => call(i, Math.floor(i / 3), { user: i % 4 === 0 ? 'bob' : 'alice' }));
        const second = Array.from({ length: 20 }, (_, i) => call(1000 + i, 80 + i, { user: i % 2 === 0 ? 'bob' : 'alice' }));
        await store(meta.audit, first);
        await store(meta.audit, second);
        const everything = await all(meta.audit, { MaxResults: 50 });
        assert.equal(everything.length, 270);
        assert.equal(new Set(everything).size, 270);
        assert.deepEqual(await all(meta.audit, { MaxResults: 7 }), everything);
        const bob = await all(meta.audit, { LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'bob' }], MaxResults: 50 });
        assert.equal(bob.length, 63 + 10);
        assert.deepEqual(
          bob,
          everything.filter((r) => bob.includes(r)),
        );
        assert.deepEqual(await all(meta.audit, { LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'bob' }], MaxResults: 4 }), bob);
      } finally {
        await meta.close();
      }
    });

    it('cuts a batch by a time range, bounds included', async () => {
      const { store: meta } = await engine.open();
      try {
        await store(
          meta.audit,
          Array.from({ length: 100 }, (_, i) => call(i, i)),
        );
        const got = await all(meta.audit, { StartTime: (T0 + 30_000) / 1000, EndTime: (T0 + 60_000) / 1000, MaxResults: 9 });
        assert.deepEqual(
          got,
          Array.from({ length: 31 }, (_, i) => `req-${60 - i}`),
        );
      } finally {
        await meta.close();
      }
    });

    it("refuses a NextToken pointed at another account's batch, and the one-row-per-call trail's tokens", async () => {
      const { store: meta } = await engine.open();
      try {
        await store(
          meta.audit,
          Array.from({ length: 10 }, (_, i) => call(i, i)),
        );
        await store(
          meta.audit,
          Array.from({ length: 10 }, (_, i) => call(100 + i, 20 + i, { account: OTHER })),
        );
        const decode = (t: string) => JSON.parse(Buffer.from(t, 'base64url').toString()) as Record<string, unknown>;
        const encode = (t: Record<string, unknown>) => Buffer.from(JSON.stringify(t)).toString('base64url');
        const mine = decode((await lookupEvents(meta.audit, ACCOUNT, { MaxResults: 2 })).NextToken!);
        const theirs = decode((await lookupEvents(meta.audit, OTHER, { MaxResults: 2 })).NextToken!);
        // Bound to this account's parameters (b), but naming the other account's batch.
        const forged = encode({ ...theirs, b: mine.b });
        await assert.rejects(lookupEvents(meta.audit, ACCOUNT, { MaxResults: 2, NextToken: forged }), refused('InvalidNextTokenException'));
        await assert.rejects(lookupEvents(meta.audit, OTHER, { MaxResults: 2, NextToken: encode(mine) }), refused('InvalidNextTokenException'));
        await assert.rejects(
          lookupEvents(meta.audit, ACCOUNT, { MaxResults: 2, NextToken: encode({ t: mine.t, s: 1, b: mine.b }) }),
          refused('InvalidNextTokenException'),
        );
        assert.deepEqual(requestIds(await lookupEvents(meta.audit, ACCOUNT, { MaxResults: 2, NextToken: encode(mine) })), ['req-7', 'req-6']);
      } finally {
        await meta.close();
      }
    });
  });
}

describe('carry-over of one-row-per-call rows on PostgreSQL', { skip: pg ? false : 'PostgreSQL is not installed' }, () => {
  it('makes them into batches a chunk a transaction; stopped after some, the next open finishes, each row once', async () => {
    const db = await pg!.newDatabase();
    const first = await createPostgresMetadataStore({ connectionString: db.connectionString, poolSize: 2 });
    await first.close();
    const pool = createPool(db.connectionString, 2);
    try {
      const ids = Array.from({ length: 1_234 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`);
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500);
        await pool.query(
          `INSERT INTO audit_events (${AUDIT_COLUMNS}) SELECT id, $1, $2::bigint + n, 'PutImage', 'ecr.amazonaws.com', 0, 'root', NULL, NULL, NULL, '{"eventID":"' || id || '"}'
           FROM unnest($3::text[]) WITH ORDINALITY AS u(id, n)`,
          [ACCOUNT, T0 + i, part],
        );
      }
      assert.equal(await carryOverPostgresAuditRows(pool, { chunks: 2 }), 2);
      assert.equal(Number((await pool.query('SELECT count(*) AS n FROM audit_events')).rows[0].n), 234);
      const store = await createPostgresMetadataStore({ connectionString: db.connectionString, poolSize: 2 });
      try {
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await lookupEvents(store.audit, ACCOUNT, { ...(token && { NextToken: token }) });
          seen.push(...page.Events.map((e) => e.EventId));
          token = page.NextToken;
        } while (token);
        assert.deepEqual(seen, [...ids].reverse());
        assert.equal(Number((await pool.query('SELECT count(*) AS n FROM audit_events')).rows[0].n), 0);
        assert.equal(Number((await pool.query('SELECT count(*) AS n FROM audit_batches')).rows[0].n), 3);
        const one = await lookupEvents(store.audit, ACCOUNT, { LookupAttributes: [{ AttributeKey: 'EventId', AttributeValue: ids[700]! }] });
        assert.equal(JSON.parse(one.Events[0]!.CloudTrailEvent).eventID, ids[700]);
      } finally {
        await store.close();
      }
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
