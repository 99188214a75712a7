/**
 * The trail's own file (audit-file.ts): rows an older Berth left in the registry's database are
 * moved in at open, whole and once, including after a crash in the middle of the move, and made
 * into batches (migration 20), again whole and once when the conversion is cut short.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lookupEvents } from '../../audit/lookup-events.js';
import { AUDIT_COLUMNS, legacyBatch } from '../audit-rows.js';
import { carryOverSqliteAuditRows } from './audit.js';
import { migrations } from '../migrations.js';
import { trailPathOf } from './audit-file.js';
import { sqliteDialect } from './open.js';
import { createSqliteMetadataStore } from './sqlite-store.js';

const ACCOUNT = '123456789012';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A registry database as an older Berth left it: `n` rows in its own audit_events, one a millisecond. */
async function oldDatabase(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-audit-file-'));
  dirs.push(dir);
  const path = join(dir, 'metadata.db');
  await (await createSqliteMetadataStore({ path })).close();
  rmSync(trailPathOf(path));
  const db = new Database(path);
  const insert = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, 'PutImage', 'ecr.amazonaws.com', 0, 'root', NULL, NULL, NULL, ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(eventId(i), ACCOUNT, 1_000_000 + i, JSON.stringify({ eventID: eventId(i) }));
  })();
  db.close();
  return path;
}

const eventId = (i: number) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;
const count = (path: string, table = 'audit_events') => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

/** Every event, newest first, through LookupEvents in pages of 50. */
async function allIds(path: string): Promise<string[]> {
  const store = createSqliteMetadataStore({ path });
  try {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await lookupEvents(store.audit, ACCOUNT, { MaxResults: 50, ...(token && { NextToken: token }) });
      ids.push(...page.Events.map((e) => e.EventId));
      token = page.NextToken;
    } while (token);
    return ids;
  } finally {
    await store.close();
  }
}

const newestFirst = (n: number) => Array.from({ length: n }, (_, i) => eventId(n - 1 - i));

describe('the SQLite trail in its own file', () => {
  it('moves the rows an older Berth stored in the registry database, which then holds none', async () => {
    const path = await oldDatabase(12_345);
    assert.deepEqual(await allIds(path), newestFirst(12_345));
    assert.equal(count(path), 0);
    assert.equal(count(trailPathOf(path)), 0, 'the moved rows are batches now');
    assert.equal(count(trailPathOf(path), 'audit_batches'), 25, 'of 500 rows each');
    // Opened again: nothing left to move, nothing moved twice.
    assert.deepEqual(await allIds(path), newestFirst(12_345));
  });

  it('finishes a move a crash cut short: each row once, none lost', async () => {
    const path = await oldDatabase(12_345);
    // The state a crash leaves: the trail file made, two chunks copied, only the first deleted.
    const trail = new Database(trailPathOf(path));
    for (const stmt of migrations.find((m) => m.version === 8)!.sql(sqliteDialect)) trail.exec(stmt);
    trail.pragma('user_version = 1');
    trail.prepare('ATTACH DATABASE ? AS registry').run(path);
    trail.exec(`INSERT INTO main.audit_events (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM registry.audit_events WHERE seq <= 10000 ORDER BY seq`);
    trail.exec('DELETE FROM registry.audit_events WHERE seq <= 5000');
    trail.exec('DETACH DATABASE registry');
    trail.close();
    assert.deepEqual(await allIds(path), newestFirst(12_345));
    assert.equal(count(path), 0);
    assert.equal(count(trailPathOf(path), 'audit_batches'), 25);
  });

  it('makes rows into batches a chunk a transaction: stopped after some, the rest follow at the next open, each row once', async () => {
    const path = await oldDatabase(2_345);
    // A trail file of version 1 holding the rows (moved from the registry by an earlier Berth).
    const trail = new Database(trailPathOf(path));
    for (const stmt of migrations.find((m) => m.version === 8)!.sql(sqliteDialect)) trail.exec(stmt);
    trail.pragma('user_version = 1');
    trail.prepare('ATTACH DATABASE ? AS registry').run(path);
    trail.exec(`INSERT INTO main.audit_events (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM registry.audit_events ORDER BY seq`);
    trail.exec('DELETE FROM registry.audit_events');
    trail.exec('DETACH DATABASE registry');
    for (const stmt of migrations.find((m) => m.version === 20)!.sql(sqliteDialect)) trail.exec(stmt);
    trail.pragma('user_version = 2');
    assert.equal(carryOverSqliteAuditRows(trail, { chunks: 2 }), 2);
    assert.equal((trail.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n, 1_345, 'two chunks moved, their rows gone');
    trail.close();
    assert.deepEqual(await allIds(path), newestFirst(2_345));
    assert.equal(count(trailPathOf(path)), 0);
    assert.equal(count(trailPathOf(path), 'audit_batches'), 5);
  });

  it('keeps an in-memory trail in the one database', async () => {
    const store = createSqliteMetadataStore({ path: ':memory:' });
    try {
      assert.equal(store.audit.appender, undefined);
      const row = { seq: 1, event_id: eventId(1), account_id: ACCOUNT, event_time: 1, event_name: 'PutImage', event_source: 'ecr.amazonaws.com' };
      await store.audit.append(
        legacyBatch([{ ...row, read_only: 0, username: null, access_key_id: null, resource_type: null, resource_name: null, record: '{}' }]),
      );
      assert.deepEqual(
        (await lookupEvents(store.audit, ACCOUNT, {})).Events.map((e) => e.EventId),
        [eventId(1)],
      );
      assert.ok(!existsSync(trailPathOf(':memory:')));
    } finally {
      await store.close();
    }
  });
});
