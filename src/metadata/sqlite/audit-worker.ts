/**
 * The audit trail's SQLite writer thread: its own connection to the database file, inserting the
 * batches the main thread posts (see audit.ts), so the inserts and their fsync never hold up the
 * event loop. WAL lets the main connection read meanwhile; writers queue on SQLite's lock.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { AUDIT_COLUMNS } from '../audit-rows.js';

export interface AuditBatch {
  id: number;
  /** Each row's values in AUDIT_COLUMNS order. */
  rows: unknown[][];
}

export type AuditBatchResult = { id: number; error?: string };

const db = new Database((workerData as { path: string }).path);
db.pragma('journal_mode = WAL');
// NORMAL: in WAL mode a commit is not fsynced, a checkpoint is. A process crash loses nothing
// committed; a power loss may lose the last commits, as the writer's buffer would lose its last
// second anyway. The registry's own connection stays FULL.
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
const insert = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`);
const append = db.transaction((rows: unknown[][]) => {
  for (const r of rows) insert.run(...r);
});

parentPort!.on('message', (m: AuditBatch) => {
  let result: AuditBatchResult;
  try {
    append.immediate(m.rows);
    result = { id: m.id };
  } catch (e) {
    result = { id: m.id, error: (e as Error).message };
  }
  parentPort!.postMessage(result);
});
