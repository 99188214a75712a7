/**
 * The audit trail on SQLite: keyset pages newest first; batched appends in one transaction each,
 * made on a writer thread with its own connection when the database is a file (an insert with
 * its indexes and fsync costs the event loop ~0.1 ms a row otherwise), on this connection when it
 * is in memory (tests), where no second connection could see it.
 */
import { Worker } from 'node:worker_threads';
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
import type { AuditBatch, AuditBatchResult } from './audit-worker.js';
import type { Db } from './open.js';

export function createSqliteAudit(db: Db, path: string): AuditStore & { close(): Promise<void> } {
  const insert = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`);
  const append = db.transaction((rows: readonly AuditEventRow[]) => {
    for (const r of rows) insert.run(...auditValues(r));
  });
  const prune = db.prepare<[number, number]>('DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE event_time < ? ORDER BY seq LIMIT ?)');
  const writer = path === ':memory:' ? undefined : new WriterThread(path);
  return {
    async append(rows) {
      if (rows.length === 0) return;
      if (writer) await writer.append(rows.map(auditValues));
      else append.immediate(rows);
    },
    async close() {
      await writer?.close();
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

/** The writer thread (audit-worker.ts), started on first use and again after it died. */
class WriterThread {
  #worker: Worker | undefined;
  #next = 0;
  readonly #waiting = new Map<number, { resolve(): void; reject(e: Error): void }>();

  constructor(private readonly path: string) {}

  append(rows: unknown[][]): Promise<void> {
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, rows } satisfies AuditBatch);
    });
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./audit-worker.js', import.meta.url), { workerData: { path: this.path } });
    w.unref();
    w.on('message', (m: AuditBatchResult) => {
      const waiter = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error === undefined) waiter?.resolve();
      else waiter?.reject(new Error(`audit insert failed: ${m.error}`));
    });
    const lost = (e: Error) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      for (const waiter of this.#waiting.values()) waiter.reject(e);
      this.#waiting.clear();
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`the audit writer thread exited (${code})`)));
    this.#worker = w;
    return w;
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
    for (const waiter of this.#waiting.values()) waiter.reject(new Error('the metadata store is closed'));
    this.#waiting.clear();
  }
}
