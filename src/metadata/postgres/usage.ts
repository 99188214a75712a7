/**
 * Daily usage aggregates and live counts on PostgreSQL (see ../usage.ts). Several nodes add to
 * the same rows: each batch is one multi-row upsert with increments, its rows in key order so two
 * nodes' batches lock rows in the same order (and a deadlock, were one to happen, is retried).
 */
import { parseRegistryKey, registryKeyText } from '../../core/registry-key.js';
import {
  DAILY_USAGE_COLUMNS as COLUMNS,
  REGISTRY_ROW,
  toDailyUsage as toDaily,
  type DailyUsageRow as DailyRow,
  type TransferDelta,
  type UsageStore,
} from '../usage.js';
import { one, rows, withTransaction, type PgContext } from './pool.js';

/** Merges deltas of the same key (one upsert may not touch a row twice) and sorts by key. */
function merged(deltas: TransferDelta[]): TransferDelta[] {
  const byKey = new Map<string, TransferDelta>();
  for (const d of deltas) {
    const key = `${d.day}\n${registryKeyText(d.registryKey)}\n${d.repository}`;
    const m = byKey.get(key);
    if (m) {
      m.bytesIn += d.bytesIn;
      m.bytesOut += d.bytesOut;
      m.pulls += d.pulls;
    } else byKey.set(key, { ...d });
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
}

export function createPostgresUsage({ pool, collate }: PgContext): UsageStore {
  return {
    async addTransfer(deltas) {
      if (deltas.length === 0) return;
      const m = merged(deltas);
      await withTransaction(pool, (tx) =>
        tx.query(
          `INSERT INTO usage_daily (day, registry_id, repository, bytes_in, bytes_out, pulls)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
           ON CONFLICT (day, registry_id, repository) DO UPDATE SET
             bytes_in = usage_daily.bytes_in + excluded.bytes_in,
             bytes_out = usage_daily.bytes_out + excluded.bytes_out,
             pulls = usage_daily.pulls + excluded.pulls`,
          [
            m.map((d) => d.day),
            m.map((d) => registryKeyText(d.registryKey)),
            m.map((d) => d.repository),
            m.map((d) => d.bytesIn),
            m.map((d) => d.bytesOut),
            m.map((d) => d.pulls),
          ],
        ),
      );
    },
    async currentStorage() {
      return withTransaction(
        pool,
        async (tx) => {
          const repos = await rows<{ registry_id: string; name: string; bytes: number }>(
            tx,
            `SELECT r.registry_id, r.name, COALESCE(SUM(b.size), 0)::bigint AS bytes
             FROM repositories r LEFT JOIN repository_blobs rb ON rb.repository_id = r.id LEFT JOIN blobs b ON b.digest = rb.digest
             GROUP BY r.id, r.registry_id, r.name`,
          );
          const registries = await rows<{ registry_id: string; bytes: number }>(
            tx,
            `SELECT d.registry_id, COALESCE(SUM(b.size), 0)::bigint AS bytes
             FROM (SELECT DISTINCT r.registry_id, rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id) d
             JOIN blobs b ON b.digest = d.digest GROUP BY d.registry_id`,
          );
          return [
            ...repos.map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.name, bytes: r.bytes })),
            ...registries.map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: REGISTRY_ROW, bytes: r.bytes })),
          ];
        },
        { isolation: 'REPEATABLE READ', readOnly: true },
      );
    },
    async lastNonZeroSamples(day) {
      const found = await rows<{ registry_id: string; repository: string }>(
        pool,
        `SELECT u.registry_id, u.repository FROM usage_daily u
         JOIN (SELECT registry_id, repository, MAX(day) AS day FROM usage_daily WHERE day <= $1 AND storage_samples > 0 GROUP BY registry_id, repository) l
           ON l.registry_id = u.registry_id AND l.repository = u.repository AND l.day = u.day
         WHERE u.storage_sum > 0`,
        [day],
      );
      return found.map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.repository }));
    },
    async addStorageSamples(day, samples) {
      if (samples.length === 0) return;
      const s = [...samples].sort((a, b) =>
        registryKeyText(a.registryKey) < registryKeyText(b.registryKey)
          ? -1
          : registryKeyText(a.registryKey) > registryKeyText(b.registryKey)
            ? 1
            : a.repository < b.repository
              ? -1
              : 1,
      );
      await withTransaction(pool, (tx) =>
        tx.query(
          `INSERT INTO usage_daily (day, registry_id, repository, storage_sum, storage_samples)
           SELECT $1::bigint, r, n, b, 1 FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t(r, n, b)
           ON CONFLICT (day, registry_id, repository) DO UPDATE SET
             storage_sum = usage_daily.storage_sum + excluded.storage_sum,
             storage_samples = usage_daily.storage_samples + 1`,
          [day, s.map((x) => registryKeyText(x.registryKey)), s.map((x) => x.repository), s.map((x) => x.bytes)],
        ),
      );
    },
    async daily(from, to, lookback, accountId) {
      const filter = accountId === undefined ? '' : 'AND registry_id LIKE $4';
      const args: unknown[] = [from, to, from - lookback];
      if (accountId !== undefined) args.push(`${accountId.replace(/[\\%_]/g, '\\$&')}:%`);
      const found = await rows<DailyRow>(
        pool,
        `SELECT ${COLUMNS} FROM usage_daily u WHERE u.day >= $1 AND u.day < $2 ${filter.replace('registry_id', 'u.registry_id')}
         UNION ALL
         SELECT ${COLUMNS} FROM usage_daily u
         JOIN (SELECT registry_id, repository, MAX(day) AS day FROM usage_daily
               WHERE day < $1 AND day >= $3 AND storage_samples > 0 ${filter} GROUP BY registry_id, repository) l
           ON l.registry_id = u.registry_id AND l.repository = u.repository AND l.day = u.day
         ORDER BY 1, 2${collate}, 3${collate}`,
        args,
      );
      return found.map(toDaily);
    },
    async lastSampledDay() {
      const r = await one<{ day: number | null }>(pool, 'SELECT MAX(day) AS day FROM usage_daily WHERE storage_samples > 0');
      return r?.day ?? undefined;
    },
    async openUploads() {
      return (await one<{ n: number }>(pool, 'SELECT COUNT(*)::int AS n FROM uploads'))!.n;
    },
    async jobQueues() {
      const found = await rows<{ kind: string; queued: number; oldest: number }>(
        pool,
        `SELECT kind, COUNT(*)::int AS queued, MIN(created_at) AS oldest FROM jobs GROUP BY kind ORDER BY kind${collate}`,
      );
      return found.map((r) => ({ kind: r.kind, queued: r.queued, oldest: new Date(r.oldest) }));
    },
    async largestRepositories(limit) {
      const found = await rows<{ registry_id: string; name: string; bytes: number }>(
        pool,
        `SELECT r.registry_id, r.name, COALESCE(SUM(b.size), 0)::bigint AS bytes
         FROM repositories r LEFT JOIN repository_blobs rb ON rb.repository_id = r.id LEFT JOIN blobs b ON b.digest = rb.digest
         GROUP BY r.id, r.registry_id, r.name ORDER BY bytes DESC, r.registry_id${collate}, r.name${collate} LIMIT $1`,
        [limit],
      );
      return found.map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.name, bytes: r.bytes }));
    },
  };
}
