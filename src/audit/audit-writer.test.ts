/** The audit writer over a real SQLite store: batching, the bounded buffer's drops, retries, retention. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { AuditWriter, type AuditWriterOptions } from './audit-writer.js';
import { recordedCall, type AuditedCall } from './cloudtrail-record.js';
import { batchOfEventId } from './event-id.js';
import { lookupEvents } from './lookup-events.js';

const ACCOUNT = '123456789012';
const T0 = Date.parse('2026-06-01T00:00:00Z');

function call(i: number, at = new Date(T0)): AuditedCall {
  return {
    api: 'ecr',
    operation: 'DescribeImages',
    method: 'POST',
    principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, kind: 'root' },
    params: { repositoryName: `r${i}` },
    requestId: `req-${i}`,
    time: at,
    region: 'us-east-1',
  };
}

/** Every stored event's id, through LookupEvents' pages. */
async function allEventIds(store: Parameters<typeof lookupEvents>[0]): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await lookupEvents(store, ACCOUNT, token === undefined ? {} : { NextToken: token });
    ids.push(...page.Events.map((e) => e.EventId));
    token = page.NextToken;
  } while (token !== undefined);
  return ids;
}

type SqliteStore = ReturnType<typeof createSqliteMetadataStore>;

/** A writer over a database file (so with the audit thread), its file lines collected; cleaned up after `body`. */
async function onFileDatabase(
  extra: Partial<AuditWriterOptions>,
  body: (t: { writer: AuditWriter; meta: SqliteStore; path: string; lines: string[] }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-audit-writer-'));
  const path = join(dir, 'meta.db');
  const meta = createSqliteMetadataStore({ path });
  const lines: string[] = [];
  const writer = new AuditWriter({
    store: meta.audit,
    clock: { now: () => new Date(T0) },
    log: pino({ level: 'silent' }),
    retentionDays: 90,
    file: { write: (text) => lines.push(text) },
    ...extra,
  });
  try {
    assert.ok(meta.audit.appender, 'a file database offers the thread its own connection');
    await body({ writer, meta, path, lines });
  } finally {
    await writer.stop();
    await meta.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function setup(opts: { maxBuffered?: number; now?: () => number } = {}) {
  const meta = createSqliteMetadataStore({ path: ':memory:' });
  let now = T0;
  const clock = { now: () => new Date(opts.now?.() ?? now) };
  const writer = new AuditWriter({ store: meta.audit, clock, log: pino({ level: 'silent' }), retentionDays: 90, maxBuffered: opts.maxBuffered ?? 100 });
  const stored = async () => (await lookupEvents(meta.audit, ACCOUNT, {})).Events.length;
  return { meta, writer, stored, setNow: (ms: number) => (now = ms) };
}

describe('the audit writer', () => {
  it('queues without writing, then stores everything in one flush', async () => {
    const { meta, writer, stored } = setup();
    for (let i = 0; i < 5; i++) writer.record(recordedCall(call(i))!);
    assert.equal(await stored(), 0, 'nothing is written on the request');
    await writer.flush();
    assert.equal(await stored(), 5);
    await meta.close();
  });

  it('drops and counts what a full buffer cannot hold; never blocks', async () => {
    const { meta, writer, stored } = setup({ maxBuffered: 3 });
    for (let i = 0; i < 5; i++) writer.record(recordedCall(call(i))!);
    assert.equal(writer.dropped, 2);
    await writer.stop();
    assert.equal(await stored(), 3, 'stop flushes what was queued');
    await meta.close();
  });

  it('keeps a batch the store refused queued (not dropped) for the next flush', async () => {
    const closed = createSqliteMetadataStore({ path: ':memory:' });
    await closed.close();
    const failing = new AuditWriter({
      store: closed.audit,
      clock: { now: () => new Date(T0) },
      log: pino({ level: 'silent' }),
      retentionDays: 90,
      maxBuffered: 2,
    });
    failing.record(recordedCall(call(1))!);
    await failing.flush();
    assert.equal(failing.dropped, 0);
    // Still queued: it takes one of the two places, so two more records drop one.
    failing.record(recordedCall(call(2))!);
    failing.record(recordedCall(call(3))!);
    assert.equal(failing.dropped, 1);
  });

  it('prunes what is older than the retention on its clock', async () => {
    const { meta, writer, stored, setNow } = setup();
    // Two batches: retention deletes a batch once its newest call is past it.
    writer.record(recordedCall(call(1))!);
    await writer.flush();
    writer.record(recordedCall(call(2, new Date(T0 + 10 * 86_400_000)))!);
    await writer.flush();
    setNow(T0 + 90 * 86_400_000);
    assert.equal(await writer.prune(), 0, 'exactly 90 days old is kept');
    setNow(T0 + 95 * 86_400_000);
    assert.equal(await writer.prune(), 1);
    assert.equal(await stored(), 1);
    await meta.close();
  });

  it('on a database file, builds and stores on the audit thread; a refused batch is retried, its lines written to the file once', async () => {
    await onFileDatabase({}, async ({ writer, meta, path, lines }) => {
      // Another connection hides the table, so the thread's insert fails as a store that is away would.
      const other = new Database(path);
      other.exec('ALTER TABLE audit_batches RENAME TO audit_batches_away');
      writer.record(recordedCall(call(1))!);
      writer.record(recordedCall(call(2))!);
      await writer.flush();
      assert.equal(writer.dropped, 0, 'kept for the next flush');
      assert.equal(lines.join('').trim().split('\n').length, 2, 'the file does not wait for the store');
      other.exec('ALTER TABLE audit_batches_away RENAME TO audit_batches');
      other.close();
      writer.record(recordedCall(call(3))!);
      await writer.flush();
      const stored = (await lookupEvents(meta.audit, ACCOUNT, {})).Events;
      assert.deepEqual(stored.map((e) => JSON.parse(e.CloudTrailEvent).requestID).sort(), ['req-1', 'req-2', 'req-3']);
      const written = lines
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { requestID: string; eventID: string });
      assert.deepEqual(written.map((r) => r.requestID).sort(), ['req-1', 'req-2', 'req-3'], 'each record once in the file');
      // Ids come from the batch's id, drawn once: a retry keeps them.
      assert.deepEqual(stored.map((e) => e.EventId).sort(), written.map((r) => r.eventID).sort());
    });
  });

  it('under a steady stream of calls, ships full batches and leaves the rest to the timer', async () => {
    // The audit thread: each batch is a round trip during which more calls arrive.
    await onFileDatabase({ batchSize: 40, flushMs: 20, maxBuffered: 100_000 }, async ({ writer, meta, lines }) => {
      // The thread started (one batch of one call), so a round trip takes what it takes under load.
      writer.record(recordedCall(call(-1))!);
      await writer.flush();
      const total = 1 + 40 * 25 + 7;
      // 3 calls a millisecond or so, while batches are on their way: a stream, not a burst.
      for (let i = 1; i < total; i++) {
        writer.record(recordedCall(call(i))!);
        if (i % 3 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      // What is left under a batch goes with the timer's next tick: no flush is asked for.
      writer.start();
      while (lines.join('').split('\n').length - 1 < total) await new Promise((r) => setTimeout(r, 10));
      const perBatch = new Map<string, number>();
      for (const id of await allEventIds(meta.audit)) {
        const b = batchOfEventId(id)!.batchId;
        perBatch.set(b, (perBatch.get(b) ?? 0) + 1);
      }
      const sizes = [...perBatch.values()];
      assert.deepEqual(
        sizes.sort((a, b) => a - b),
        [1, 7, ...Array<number>(25).fill(40)],
        "the first call's batch, full batches, and the timer's remainder",
      );
    });
  });

  it('stores a retried batch once when the first try was stored but its answer lost', async () => {
    const meta = createSqliteMetadataStore({ path: ':memory:' });
    let lose = true;
    // The real store, whose first answer is lost after its commit (as when the thread dies between the two).
    const store = {
      ...meta.audit,
      append: async (b: Parameters<typeof meta.audit.append>[0]) => {
        await meta.audit.append(b);
        if (lose) {
          lose = false;
          throw new Error('the answer was lost');
        }
      },
    };
    const writer = new AuditWriter({ store, clock: { now: () => new Date(T0) }, log: pino({ level: 'silent' }), retentionDays: 90 });
    writer.record(recordedCall(call(1))!);
    writer.record(recordedCall(call(2))!);
    await writer.flush();
    writer.record(recordedCall(call(3))!);
    await writer.flush();
    const events = (await lookupEvents(meta.audit, ACCOUNT, {})).Events;
    assert.deepEqual(events.map((e) => JSON.parse(e.CloudTrailEvent).requestID).sort(), ['req-1', 'req-2', 'req-3']);
    assert.equal(new Set(events.map((e) => e.EventId)).size, 3);
    await meta.close();
  });
});
