/** Replication backfills on SQLite (../replication-backfills.ts). */
import { parseRegistryKey, registryKeyText } from '../../core/registry-key.js';
import {
  BACKFILL_COLUMNS,
  FAILURE_CODES_SQL,
  parseBackfillKey,
  toBackfill,
  toBackfillItem,
  type BackfillItemRow,
  type BackfillRow,
  type ReplicationBackfillStore,
} from '../replication-backfills.js';
import { prepareEnqueue } from './jobs.js';
import type { Db } from './open.js';

const RUNNING = `('PREPARING', 'IN_PROGRESS', 'STOPPING')`;

export function createSqliteReplicationBackfills(db: Db): ReplicationBackfillStore {
  const enqueue = prepareEnqueue(db);
  const getStmt = db.prepare<[string, string], BackfillRow>(`SELECT ${BACKFILL_COLUMNS} FROM replication_backfills b WHERE b.registry_id = ? AND b.id = ?`);
  const codesStmt = db.prepare<[string], { failure_code: string }>(FAILURE_CODES_SQL);
  const listStmt = db.prepare<[string, number, number, string, number, number], BackfillRow>(
    `SELECT ${BACKFILL_COLUMNS} FROM replication_backfills b
     WHERE b.registry_id = ? AND (b.started_at > ? OR (b.started_at = ? AND b.id > ?)) AND (b.ended_at IS NULL OR b.ended_at >= ?)
     ORDER BY b.started_at, b.id LIMIT ?`,
  );
  const runningRegion = db.prepare<[string, string], { one: number }>(
    `SELECT 1 AS one FROM replication_backfills WHERE registry_id = ? AND destination_region = ? AND running = 1`,
  );
  const runningCount = db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM replication_backfills WHERE registry_id = ? AND running = 1`);
  const insert = db.prepare(
    `INSERT INTO replication_backfills (id, registry_id, destination_region, destination_registry, status, running, started_at) VALUES (?, ?, ?, ?, 'PREPARING', 1, ?)`,
  );
  const stopStmt = db.prepare(`UPDATE replication_backfills SET status = 'STOPPING' WHERE id = ? AND status IN ('PREPARING', 'IN_PROGRESS')`);
  const prepareStmt = db.prepare(
    `UPDATE replication_backfills SET status = 'IN_PROGRESS', prepared = 1, generation = 1 WHERE id = ? AND status = 'PREPARING' AND generation = 0`,
  );
  const insertItem = db.prepare('INSERT INTO replication_backfill_items (backfill_id, seq, repository, digest, tag) VALUES (?, ?, ?, ?, ?)');
  const pendingStmt = db.prepare<[string, number], BackfillItemRow>(
    'SELECT seq, repository, digest, tag, status, failure_code FROM replication_backfill_items WHERE backfill_id = ? AND status IS NULL ORDER BY seq LIMIT ?',
  );
  const resultsStmt = db.prepare<[string, number, string, string, number], BackfillItemRow>(
    `SELECT seq, repository, digest, tag, status, failure_code FROM replication_backfill_items
     WHERE backfill_id = ? AND seq > ? AND status IN (?, ?) ORDER BY seq LIMIT ?`,
  );
  const recordStmt = db.prepare('UPDATE replication_backfill_items SET status = ?, failure_code = ? WHERE backfill_id = ? AND seq = ? AND status IS NULL');
  const handOverStmt = db.prepare('UPDATE replication_backfills SET generation = generation + 1 WHERE id = ? AND generation = ?');
  const endStmt = db.prepare(
    `UPDATE replication_backfills SET status = ?, failure_code = ?, ended_at = ?, running = NULL WHERE id = ? AND status IN ${RUNNING}`,
  );

  const pruneStmt = db.prepare(
    'DELETE FROM replication_backfills WHERE id IN (SELECT id FROM replication_backfills WHERE ended_at IS NOT NULL AND ended_at < ? LIMIT ?)',
  );
  const withCodes = (r: BackfillRow) =>
    toBackfill(
      r,
      parseRegistryKey(r.registry_id),
      codesStmt.all(r.id).map((c) => c.failure_code),
    );
  const start = db.transaction((id: string, key: string, region: string, registry: string, now: number, job, maxRunning: number) => {
    if (runningRegion.get(key, region)) return 'inProgress' as const;
    if (runningCount.get(key)!.n >= maxRunning) return 'limit' as const;
    insert.run(id, key, region, registry, now);
    enqueue(job, now);
    return 'started' as const;
  });
  const stop = db.transaction((key: string, id: string) => {
    const r = getStmt.get(key, id);
    if (!r) return 'notFound' as const;
    if (r.status === 'STOPPING') return withCodes(r);
    if (stopStmt.run(id).changes === 0) return 'invalidStatus' as const;
    return withCodes(getStmt.get(key, id)!);
  });
  const prepare = db.transaction((id: string, items: Array<{ repository: string; digest: string; tag?: string }>, job, now: number) => {
    if (prepareStmt.run(id).changes === 0) return false;
    for (const [i, it] of items.entries()) insertItem.run(id, i + 1, it.repository, it.digest, it.tag ?? '');
    enqueue(job, now);
    return true;
  });
  const handOver = db.transaction((id: string, generation: number, job, now: number) => {
    if (handOverStmt.run(id, generation).changes === 0) return false;
    enqueue(job, now);
    return true;
  });
  return {
    async start(b, job, maxRunning) {
      return start.immediate(b.id, registryKeyText(b.registryKey), b.destination.region, b.destination.registryId, b.now.getTime(), job, maxRunning);
    },
    async get(registryKey, id) {
      const r = getStmt.get(registryKeyText(registryKey), id);
      return r && withCodes(r);
    },
    async list(registryKey, page, endedSince) {
      const after = page.after !== undefined ? parseBackfillKey(page.after) : undefined;
      const from = after ?? { startedAt: -1, id: '' };
      return listStmt.all(registryKeyText(registryKey), from.startedAt, from.startedAt, from.id, endedSince.getTime(), page.limit).map(withCodes);
    },
    async results(id, filter) {
      const [a, b] = filter.status ? [filter.status, filter.status] : ['COMPLETE', 'FAILED'];
      return resultsStmt.all(id, filter.afterSeq, a, b, filter.limit).map(toBackfillItem);
    },
    async stop(registryKey, id) {
      return stop.immediate(registryKeyText(registryKey), id);
    },
    async prepare(id, items, job, now) {
      return prepare.immediate(id, items, job, now.getTime());
    },
    async pending(id, limit) {
      return pendingStmt.all(id, limit).map(toBackfillItem);
    },
    async record(id, seq, status, failureCode) {
      recordStmt.run(status, failureCode ?? null, id, seq);
    },
    async handOver(id, generation, job, now) {
      return handOver.immediate(id, generation, job, now.getTime());
    },
    async end(id, status, now, failureCode) {
      endStmt.run(status, failureCode ?? null, now.getTime(), id);
    },
    async pruneEnded(before, limit) {
      return pruneStmt.run(before.getTime(), limit).changes;
    },
  };
}
