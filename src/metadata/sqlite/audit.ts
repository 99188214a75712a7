/**
 * The audit trail on SQLite: a batch and its keys in one transaction; candidates by keyset on
 * the keys, newest first. When the database is a file, the trail is a file of its own
 * (audit-file.ts) and its writer appends through a connection of its own on the audit thread
 * (openSqliteAuditAppender); in memory (tests) no second connection could see the rows, so they
 * go into the registry's own database through its connection.
 */
import Database from 'better-sqlite3';
import {
  AUDIT_COLUMNS,
  KEY_COLUMNS,
  LEGACY_ROWS_PER_BATCH,
  keyValues,
  legacyBatch,
  toCandidate,
  type AuditAppender,
  type AuditBatchRow,
  type AuditCandidateDbRow,
  type AuditCandidateQuery,
  type AuditEventDbRow,
  type AuditStore,
} from '../audit-rows.js';
import { openTrailFile, trailPathOf } from './audit-file.js';
import type { Db } from './open.js';

const CANDIDATE_COLUMNS = 'b.seq, b.batch_id, b.form, b.calls, k.first_time, k.last_time, k.chunks';

/** A batch and its keys in one transaction, taken at once (IMMEDIATE) rather than upgraded mid-way; keys only when the batch is new. */
function batchAppend(db: Db): (b: AuditBatchRow) => boolean {
  const insertBatch = db.prepare(
    'INSERT INTO audit_batches (batch_id, first_time, last_time, form, calls) VALUES (?, ?, ?, ?, ?) ON CONFLICT (batch_id) DO NOTHING',
  );
  const insertKey = db.prepare(`INSERT INTO audit_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const append = db.transaction((b: AuditBatchRow) => {
    const calls = Buffer.isBuffer(b.calls) ? b.calls : Buffer.from(b.calls.buffer, b.calls.byteOffset, b.calls.byteLength);
    const r = insertBatch.run(b.batchId, b.firstTime, b.lastTime, b.form, calls);
    if (r.changes === 0) return false;
    const seq = Number(r.lastInsertRowid);
    for (const k of b.keys) insertKey.run(...keyValues(k, seq));
    return true;
  });
  return (b) => append.immediate(b);
}

/**
 * Makes migration 8's rows (audit_events) into form-1 batches: each chunk's batch is written and
 * its rows deleted in one transaction, so a crash leaves a chunk moved or not, never both or
 * neither. `chunks` stops after that many (tests: an open cut short); returns how many were moved.
 */
export function carryOverSqliteAuditRows(db: Db, opts: { chunks?: number } = {}): number {
  const next = db.prepare<[number]>(`SELECT seq, ${AUDIT_COLUMNS} FROM audit_events ORDER BY seq LIMIT ?`);
  const drop = db.prepare<[number]>('DELETE FROM audit_events WHERE seq <= ?');
  const append = batchAppend(db);
  const move = db.transaction(() => {
    const rows = next.all(LEGACY_ROWS_PER_BATCH) as AuditEventDbRow[];
    if (rows.length === 0) return false;
    append(legacyBatch(rows));
    drop.run(rows.at(-1)!.seq);
    return true;
  });
  let moved = 0;
  while (moved < (opts.chunks ?? Number.POSITIVE_INFINITY) && move.immediate()) moved++;
  return moved;
}

/** The trail of the registry database `db` at `path`; `close` closes the trail's own file, if any. */
export function createSqliteAudit(registryDb: Db, path: string): AuditStore & { close(): void } {
  const inMemory = path === ':memory:';
  const db = inMemory ? registryDb : openTrailFile(registryDb, path);
  const append = batchAppend(db);
  const byId = db.prepare<[string]>(`SELECT seq, batch_id, form, calls, first_time, last_time, ${0x7fffffff} AS chunks FROM audit_batches WHERE batch_id = ?`);
  const expired = db.prepare<[number, number]>('SELECT seq FROM audit_batches WHERE last_time < ? ORDER BY last_time LIMIT ?').pluck();
  const dropKeys = db.prepare<[number]>('DELETE FROM audit_keys WHERE batch_seq = ?');
  const dropBatch = db.prepare<[number]>('DELETE FROM audit_batches WHERE seq = ?');
  const prune = db.transaction((before: number, limit: number) => {
    const seqs = expired.all(before, limit) as number[];
    for (const s of seqs) {
      dropKeys.run(s);
      dropBatch.run(s);
    }
    return seqs.length;
  });
  return {
    ...(!inMemory && { appender: { engine: 'sqlite', path: trailPathOf(path) } as const }),
    async append(batch) {
      append(batch);
    },
    async candidates(q) {
      const { where, params } = candidateFilter(q);
      params.push(q.limit);
      const found = db
        .prepare(
          `SELECT ${CANDIDATE_COLUMNS} FROM audit_keys k JOIN audit_batches b ON b.seq = k.batch_seq WHERE ${where} ORDER BY k.last_time DESC, k.batch_seq DESC LIMIT ?`,
        )
        .all(...params) as AuditCandidateDbRow[];
      return found.map(toCandidate);
    },
    async batchById(batchId) {
      const r = byId.get(batchId) as AuditCandidateDbRow | undefined;
      return r && toCandidate(r);
    },
    async prune(before, limit) {
      return prune.immediate(before.getTime(), limit);
    },
    close() {
      if (!inMemory) db.close();
    },
  };
}

function candidateFilter(q: AuditCandidateQuery): { where: string; params: unknown[] } {
  const where = ['k.account_id = ?', 'k.attr = ?', 'k.value = ?'];
  const params: unknown[] = [q.accountId, q.attr, q.value];
  if (q.minLastTime !== undefined) {
    where.push('k.last_time >= ?');
    params.push(q.minLastTime);
  }
  if (q.maxFirstTime !== undefined) {
    where.push('k.first_time <= ?');
    params.push(q.maxFirstTime);
  }
  if (q.from) {
    where.push(`(k.last_time < ? OR (k.last_time = ? AND k.batch_seq ${q.from.inclusive ? '<=' : '<'} ?))`);
    params.push(q.from.lastTime, q.from.lastTime, q.from.seq);
  }
  return { where: where.join(' AND '), params };
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
  let append: ReturnType<typeof batchAppend> | undefined;
  return {
    async append(batch) {
      append ??= batchAppend(db);
      append(batch);
    },
    async close() {
      db.close();
    },
  };
}
