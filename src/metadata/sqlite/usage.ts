/** Daily usage aggregates and live counts on SQLite (see ../usage.ts). */
import { parseRegistryKey, registryKeyText } from '../../core/registry-key.js';
import {
  DAILY_USAGE_COLUMNS as COLUMNS,
  REGISTRY_ROW,
  toDailyUsage as toDaily,
  type DailyUsageRow as DailyRow,
  type StorageSample,
  type UsageStore,
} from '../usage.js';
import type { Db } from './open.js';

export function createSqliteUsage(db: Db): UsageStore {
  const addTransferStmt = db.prepare(
    `INSERT INTO usage_daily (day, registry_id, repository, bytes_in, bytes_out, pulls) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (day, registry_id, repository) DO UPDATE SET
       bytes_in = usage_daily.bytes_in + excluded.bytes_in,
       bytes_out = usage_daily.bytes_out + excluded.bytes_out,
       pulls = usage_daily.pulls + excluded.pulls`,
  );
  const addSampleStmt = db.prepare(
    `INSERT INTO usage_daily (day, registry_id, repository, storage_sum, storage_samples) VALUES (?, ?, ?, ?, 1)
     ON CONFLICT (day, registry_id, repository) DO UPDATE SET
       storage_sum = usage_daily.storage_sum + excluded.storage_sum,
       storage_samples = usage_daily.storage_samples + 1`,
  );
  const repoBytesStmt = db.prepare<[], { registry_id: string; name: string; bytes: number }>(
    `SELECT r.registry_id, r.name, COALESCE(SUM(b.size), 0) AS bytes
     FROM repositories r LEFT JOIN repository_blobs rb ON rb.repository_id = r.id LEFT JOIN blobs b ON b.digest = rb.digest
     GROUP BY r.id, r.registry_id, r.name`,
  );
  const registryBytesStmt = db.prepare<[], { registry_id: string; bytes: number }>(
    `SELECT d.registry_id, COALESCE(SUM(b.size), 0) AS bytes
     FROM (SELECT DISTINCT r.registry_id, rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id) d
     JOIN blobs b ON b.digest = d.digest GROUP BY d.registry_id`,
  );
  const lastNonZeroStmt = db.prepare<[number], { registry_id: string; repository: string }>(
    `SELECT u.registry_id, u.repository FROM usage_daily u
     JOIN (SELECT registry_id, repository, MAX(day) AS day FROM usage_daily WHERE day <= ? AND storage_samples > 0 GROUP BY registry_id, repository) l
       ON l.registry_id = u.registry_id AND l.repository = u.repository AND l.day = u.day
     WHERE u.storage_sum > 0`,
  );
  const dailyStmts = [false, true].map((filtered) =>
    db.prepare<unknown[], DailyRow>(
      `SELECT ${COLUMNS} FROM usage_daily u WHERE u.day >= ? AND u.day < ? ${filtered ? 'AND u.registry_id LIKE ?' : ''}
       UNION ALL
       SELECT ${COLUMNS} FROM usage_daily u
       JOIN (SELECT registry_id, repository, MAX(day) AS day FROM usage_daily
             WHERE day < ? AND day >= ? AND storage_samples > 0 ${filtered ? 'AND registry_id LIKE ?' : ''} GROUP BY registry_id, repository) l
         ON l.registry_id = u.registry_id AND l.repository = u.repository AND l.day = u.day
       ORDER BY 1, 2, 3`,
    ),
  );
  const lastSampledStmt = db.prepare<[], { day: number | null }>('SELECT MAX(day) AS day FROM usage_daily WHERE storage_samples > 0');
  const uploadsStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM uploads');
  const jobsStmt = db.prepare<[], { kind: string; queued: number; oldest: number }>(
    'SELECT kind, COUNT(*) AS queued, MIN(created_at) AS oldest FROM jobs GROUP BY kind ORDER BY kind',
  );
  const largestStmt = db.prepare<[number], { registry_id: string; name: string; bytes: number }>(
    `SELECT r.registry_id, r.name, COALESCE(SUM(b.size), 0) AS bytes
     FROM repositories r LEFT JOIN repository_blobs rb ON rb.repository_id = r.id LEFT JOIN blobs b ON b.digest = rb.digest
     GROUP BY r.id, r.registry_id, r.name ORDER BY bytes DESC, r.registry_id, r.name LIMIT ?`,
  );

  const addTransfer = db.transaction((deltas: Parameters<UsageStore['addTransfer']>[0]) => {
    for (const d of deltas) addTransferStmt.run(d.day, registryKeyText(d.registryKey), d.repository, d.bytesIn, d.bytesOut, d.pulls);
  });
  const addSamples = db.transaction((day: number, samples: StorageSample[]) => {
    for (const s of samples) addSampleStmt.run(day, registryKeyText(s.registryKey), s.repository, s.bytes);
  });
  const currentStorage = db.transaction((): StorageSample[] => [
    ...repoBytesStmt.all().map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.name, bytes: r.bytes })),
    ...registryBytesStmt.all().map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: REGISTRY_ROW, bytes: r.bytes })),
  ]);

  return {
    async addTransfer(deltas) {
      if (deltas.length > 0) addTransfer.immediate(deltas);
    },
    async currentStorage() {
      return currentStorage.deferred();
    },
    async lastNonZeroSamples(day) {
      return lastNonZeroStmt.all(day).map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.repository }));
    },
    async addStorageSamples(day, samples) {
      if (samples.length > 0) addSamples.immediate(day, samples);
    },
    async daily(from, to, lookback, accountId) {
      const like = accountId === undefined ? [] : [`${accountId}:%`];
      const args = [from, to, ...like, from, from - lookback, ...like];
      return dailyStmts[accountId === undefined ? 0 : 1]!.all(...args).map(toDaily);
    },
    async lastSampledDay() {
      return lastSampledStmt.get()?.day ?? undefined;
    },
    async openUploads() {
      return uploadsStmt.get()!.n;
    },
    async jobQueues() {
      return jobsStmt.all().map((r) => ({ kind: r.kind, queued: r.queued, oldest: new Date(r.oldest) }));
    },
    async largestRepositories(limit) {
      return largestStmt.all(limit).map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.name, bytes: r.bytes }));
    },
  };
}
