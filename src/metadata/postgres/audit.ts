/** The audit trail on PostgreSQL (the twin of ../sqlite/audit.ts): a batch and its keys in one transaction. */
import type pg from 'pg';
import {
  ALL_CHUNKS,
  AUDIT_COLUMNS,
  KEY_COLUMNS,
  LEGACY_ROWS_PER_BATCH,
  keyValues,
  legacyBatch,
  toCandidate,
  type AuditAppender,
  type AuditBatchRow,
  type AuditCandidateDbRow,
  type AuditEventDbRow,
  type AuditStore,
} from '../audit-rows.js';
import { changes, createPool, one, rows, withTransaction, type PgContext, type Queryable } from './pool.js';

const KEY_FIELDS = KEY_COLUMNS.split(', ').length;
const CANDIDATE_COLUMNS = 'b.seq, b.batch_id, b.form, b.calls, k.first_time, k.last_time, k.chunks';

/** Stores the batch unless its id is there already, then its keys (one statement); true when it went in. */
async function appendIn(tx: Queryable, b: AuditBatchRow): Promise<boolean> {
  const inserted = await one<{ seq: number }>(
    tx,
    'INSERT INTO audit_batches (batch_id, first_time, last_time, form, calls) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id) DO NOTHING RETURNING seq',
    [b.batchId, b.firstTime, b.lastTime, b.form, Buffer.from(b.calls.buffer, b.calls.byteOffset, b.calls.byteLength)],
  );
  if (!inserted) return false;
  // A batch has tens of keys at most (500 calls): far below the 65535 parameters of one statement.
  const params = b.keys.flatMap((k) => keyValues(k, Number(inserted.seq)));
  const tuples = b.keys.map((_, r) => `(${Array.from({ length: KEY_FIELDS }, (_, c) => `$${r * KEY_FIELDS + c + 1}`).join(', ')})`);
  if (tuples.length > 0) await tx.query(`INSERT INTO audit_keys (${KEY_COLUMNS}) VALUES ${tuples.join(', ')}`, params);
  return true;
}

/**
 * Makes migration 8's rows into form-1 batches, a chunk a transaction (written and deleted
 * together). Nodes starting together may race on a chunk: the batch's id is the first row's
 * event id, so the second insert does nothing and its delete finds nothing.
 */
export async function carryOverPostgresAuditRows(pool: pg.Pool, opts: { chunks?: number } = {}): Promise<number> {
  let moved = 0;
  while (moved < (opts.chunks ?? Number.POSITIVE_INFINITY)) {
    const more = await withTransaction(pool, async (tx) => {
      const found = await rows<AuditEventDbRow>(tx, `SELECT seq, ${AUDIT_COLUMNS} FROM audit_events ORDER BY seq LIMIT $1`, [LEGACY_ROWS_PER_BATCH]);
      if (found.length === 0) return false;
      await appendIn(tx, legacyBatch(found.map((r) => ({ ...r, seq: Number(r.seq), event_time: Number(r.event_time) }))));
      await tx.query('DELETE FROM audit_events WHERE seq <= $1', [found.at(-1)!.seq]);
      return true;
    });
    if (!more) break;
    moved++;
  }
  return moved;
}

/** `connectionString`, when given, lets the audit thread open its own connection (openPostgresAuditAppender). */
export function createPostgresAudit({ pool }: Pick<PgContext, 'pool'>, connectionString?: string): AuditStore {
  return {
    ...(connectionString !== undefined && { appender: { engine: 'postgres', connectionString } as const }),
    async append(batch) {
      await withTransaction(pool, (tx) => appendIn(tx, batch));
    },
    async candidates(q) {
      const params: unknown[] = [];
      const bind = (v: unknown) => {
        params.push(v);
        return `$${params.length}`;
      };
      const where = [`k.account_id = ${bind(q.accountId)}`, `k.attr = ${bind(q.attr)}`, `k.value = ${bind(q.value)}`];
      if (q.minLastTime !== undefined) where.push(`k.last_time >= ${bind(q.minLastTime)}`);
      if (q.maxFirstTime !== undefined) where.push(`k.first_time <= ${bind(q.maxFirstTime)}`);
      if (q.from) where.push(`(k.last_time, k.batch_seq) ${q.from.inclusive ? '<=' : '<'} (${bind(q.from.lastTime)}, ${bind(q.from.seq)})`);
      const found = await rows<AuditCandidateDbRow>(
        pool,
        `SELECT ${CANDIDATE_COLUMNS} FROM audit_keys k JOIN audit_batches b ON b.seq = k.batch_seq WHERE ${where.join(' AND ')}
         ORDER BY k.last_time DESC, k.batch_seq DESC LIMIT ${bind(q.limit)}`,
        params,
      );
      return found.map(toCandidate);
    },
    async batchById(batchId) {
      const r = await one<AuditCandidateDbRow>(
        pool,
        `SELECT seq, batch_id, form, calls, first_time, last_time, ${ALL_CHUNKS} AS chunks FROM audit_batches WHERE batch_id = $1`,
        [batchId],
      );
      return r && toCandidate(r);
    },
    async prune(before, limit) {
      return withTransaction(pool, async (tx) => {
        const seqs = (
          await rows<{ seq: number }>(tx, 'SELECT seq FROM audit_batches WHERE last_time < $1 ORDER BY last_time LIMIT $2', [before.getTime(), limit])
        ).map((r) => r.seq);
        if (seqs.length === 0) return 0;
        await tx.query('DELETE FROM audit_keys WHERE batch_seq = ANY($1)', [seqs]);
        return changes(tx, 'DELETE FROM audit_batches WHERE seq = ANY($1)', [seqs]);
      });
    },
  };
}

/** The audit thread's own connection: one, since the thread stores one batch at a time. */
export function openPostgresAuditAppender(connectionString: string): AuditAppender {
  const pool = createPool(connectionString, 1);
  const store = createPostgresAudit({ pool });
  return { append: (batch) => store.append(batch), close: () => pool.end() };
}
