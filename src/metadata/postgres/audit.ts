/** The audit trail on PostgreSQL (the twin of ../sqlite/audit.ts): one multi-row INSERT per batch. */
import {
  AUDIT_ATTRIBUTE_COLUMNS,
  AUDIT_COLUMNS,
  attributeValue,
  auditValues,
  toAuditEvent,
  type AuditAppender,
  type AuditEventDbRow,
  type AuditStore,
} from '../audit-rows.js';
import { changes, createPool, rows, type PgContext } from './pool.js';

const COLUMNS = AUDIT_COLUMNS.split(', ').length;
/** PostgreSQL binds at most 65535 parameters per statement. */
const ROWS_PER_INSERT = Math.floor(65535 / COLUMNS);

/** `connectionString`, when given, lets the audit thread open its own connection (openPostgresAuditAppender). */
export function createPostgresAudit({ pool }: Pick<PgContext, 'pool'>, connectionString?: string): AuditStore {
  return {
    ...(connectionString !== undefined && { appender: { engine: 'postgres', connectionString } as const }),
    async append(batch) {
      for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) {
        const part = batch.slice(i, i + ROWS_PER_INSERT);
        const params = part.flatMap(auditValues);
        const tuples = part.map((_, r) => `(${Array.from({ length: COLUMNS }, (_, c) => `$${r * COLUMNS + c + 1}`).join(', ')})`);
        await pool.query(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ${tuples.join(', ')} ON CONFLICT (event_id) DO NOTHING`, params);
      }
    },
    async lookup(q) {
      const params: unknown[] = [q.accountId];
      const where = ['account_id = $1'];
      const bind = (v: unknown) => {
        params.push(v);
        return `$${params.length}`;
      };
      if (q.attribute) where.push(`${AUDIT_ATTRIBUTE_COLUMNS[q.attribute.key]} = ${bind(attributeValue(q.attribute))}`);
      if (q.start) where.push(`event_time >= ${bind(q.start.getTime())}`);
      if (q.end) where.push(`event_time <= ${bind(q.end.getTime())}`);
      if (q.before) {
        const t = bind(q.before.time);
        where.push(`(event_time < ${t} OR (event_time = ${t} AND seq < ${bind(q.before.seq)}))`);
      }
      const found = await rows<AuditEventDbRow>(
        pool,
        `SELECT seq, ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY event_time DESC, seq DESC LIMIT ${bind(q.limit)}`,
        params,
      );
      return found.map(toAuditEvent);
    },
    async prune(before, limit) {
      return changes(pool, 'DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE event_time < $1 ORDER BY seq LIMIT $2)', [
        before.getTime(),
        limit,
      ]);
    },
  };
}

/** The audit thread's own connection: one, since the thread stores one batch at a time. */
export function openPostgresAuditAppender(connectionString: string): AuditAppender {
  const pool = createPool(connectionString, 1);
  const store = createPostgresAudit({ pool });
  return { append: (batch) => store.append(batch), close: () => pool.end() };
}
