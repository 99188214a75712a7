/** The audit trail on SQLite: batched appends in one transaction, keyset pages newest first. */
import {
  AUDIT_ATTRIBUTE_COLUMNS,
  AUDIT_COLUMNS,
  attributeValue,
  auditValues,
  toAuditEvent,
  type AuditEventDbRow,
  type AuditEventRow,
  type AuditStore,
} from '../audit-rows.js';
import type { Db } from './open.js';

export function createSqliteAudit(db: Db): AuditStore {
  const insert = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`);
  const append = db.transaction((rows: readonly AuditEventRow[]) => {
    for (const r of rows) insert.run(...auditValues(r));
  });
  const prune = db.prepare<[number, number]>(
    'DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE event_time < ? ORDER BY event_time LIMIT ?)',
  );
  return {
    async append(rows) {
      if (rows.length > 0) append.immediate(rows);
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
  };
}
