/**
 * The audit trail on SQLite: keyset pages newest first; batched appends in one transaction each.
 * When the database is a file, the trail is a file of its own (audit-file.ts) and its writer
 * appends through a connection of its own on the audit thread (openSqliteAuditAppender), since an
 * insert with its indexes costs µs a row; in memory (tests) no second connection could see the
 * rows, so they go into the registry's own database through its connection.
 */
import Database from 'better-sqlite3';
import {
  AUDIT_ATTRIBUTE_COLUMNS,
  AUDIT_COLUMNS,
  attributeValue,
  auditValues,
  toAuditEvent,
  type AuditEventDbRow,
  type AuditAppender,
  type AuditEventRow,
  type AuditStore,
} from '../audit-rows.js';
import { openTrailFile, trailPathOf } from './audit-file.js';
import type { Db } from './open.js';

/** One batch of rows in one transaction, taken at once (IMMEDIATE) rather than upgraded mid-way. */
function batchInsert(db: Db): (rows: readonly AuditEventRow[]) => void {
  const insert = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`);
  const append = db.transaction((rows: readonly AuditEventRow[]) => {
    for (const r of rows) insert.run(...auditValues(r));
  });
  return (rows) => {
    if (rows.length > 0) append.immediate(rows);
  };
}

/** The trail of the registry database `db` at `path`; `close` closes the trail's own file, if any. */
export function createSqliteAudit(registryDb: Db, path: string): AuditStore & { close(): void } {
  const inMemory = path === ':memory:';
  const db = inMemory ? registryDb : openTrailFile(registryDb, path);
  const append = batchInsert(db);
  const prune = db.prepare<[number, number]>('DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE event_time < ? ORDER BY seq LIMIT ?)');
  return {
    ...(!inMemory && { appender: { engine: 'sqlite', path: trailPathOf(path) } as const }),
    async append(rows) {
      append(rows);
    },
    async lookup(q) {
      const where = ['account_id = ?'];
      const params: unknown[] = [q.accountId];
      if (q.attribute) {
        where.push(`${AUDIT_ATTRIBUTE_COLUMNS[q.attribute.key]} = ?`);
        params.push(attributeValue(q.attribute));
      }
      if (q.start) {
        where.push('event_time >= ?');
        params.push(q.start.getTime());
      }
      if (q.end) {
        where.push('event_time <= ?');
        params.push(q.end.getTime());
      }
      if (q.before) {
        where.push('(event_time < ? OR (event_time = ? AND seq < ?))');
        params.push(q.before.time, q.before.time, q.before.seq);
      }
      params.push(q.limit);
      const found = db
        .prepare(`SELECT seq, ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY event_time DESC, seq DESC LIMIT ?`)
        .all(...params) as AuditEventDbRow[];
      return found.map(toAuditEvent);
    },
    async prune(before, limit) {
      return prune.run(before.getTime(), limit).changes;
    },
    close() {
      if (!inMemory) db.close();
    },
  };
}

/**
 * The audit thread's own connection to the trail's file (the store's appender path), which the
 * store created. synchronous NORMAL: in WAL mode a commit is not fsynced, a checkpoint is. A
 * process crash loses nothing committed; a power loss may lose the last commits, as the writer's
 * buffer would lose its last second anyway. Writers queue on SQLite's lock (busy_timeout; only
 * retention pruning shares it now); WAL lets LookupEvents read meanwhile.
 */
export function openSqliteAuditAppender(path: string): AuditAppender {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  // Prepared at the first batch, so that a trail that cannot be written fails that batch (retried) rather than the thread.
  let append: ReturnType<typeof batchInsert> | undefined;
  return {
    async append(rows) {
      append ??= batchInsert(db);
      append(rows);
    },
    async close() {
      db.close();
    },
  };
}
