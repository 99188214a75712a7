/** Replication backfills on PostgreSQL (the twin of ../sqlite/replication-backfills.ts). */
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
import { enqueueIn } from './jobs.js';
import { changes, one, Rollback, rows, withTransaction, type PgContext, type Queryable } from './pool.js';

const RUNNING = `('PREPARING', 'IN_PROGRESS', 'STOPPING')`;
const CODES = FAILURE_CODES_SQL.replace('?', '$1');

async function withCodes(db: Queryable, r: BackfillRow) {
  const codes = await rows<{ failure_code: string }>(db, CODES, [r.id]);
  return toBackfill(
    r,
    parseRegistryKey(r.registry_id),
    codes.map((c) => c.failure_code),
  );
}

export function createPostgresReplicationBackfills({ pool }: PgContext): ReplicationBackfillStore {
  const get = (db: Queryable, key: string, id: string) =>
    one<BackfillRow>(db, `SELECT ${BACKFILL_COLUMNS} FROM replication_backfills b WHERE b.registry_id = $1 AND b.id = $2`, [key, id]);
  return {
    async start(b, job, maxRunning) {
      const key = registryKeyText(b.registryKey);
      // Serializable: two nodes starting the limit's last one cannot both count below it; the
      // unique index on running backfills refuses a second for the region in any case.
      return withTransaction(
        pool,
        async (tx) => {
          if (
            await one(tx, 'SELECT 1 FROM replication_backfills WHERE registry_id = $1 AND destination_region = $2 AND running = 1', [key, b.destination.region])
          ) {
            return 'inProgress' as const;
          }
          const n = await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM replication_backfills WHERE registry_id = $1 AND running = 1', [key]);
          if (Number(n!.n) >= maxRunning) return 'limit' as const;
          await tx.query(
            `INSERT INTO replication_backfills (id, registry_id, destination_region, destination_registry, status, running, started_at)
             VALUES ($1, $2, $3, $4, 'PREPARING', 1, $5)`,
            [b.id, key, b.destination.region, b.destination.registryId, b.now.getTime()],
          );
          await enqueueIn(tx, [job], b.now.getTime());
          return 'started' as const;
        },
        { isolation: 'SERIALIZABLE' },
      ).catch((e: unknown) => {
        if ((e as { code?: unknown }).code === '23505') return 'inProgress' as const;
        throw e;
      });
    },
    async get(registryKey, id) {
      const r = await get(pool, registryKeyText(registryKey), id);
      return r && withCodes(pool, r);
    },
    async list(registryKey, page, endedSince) {
      const from = (page.after !== undefined ? parseBackfillKey(page.after) : undefined) ?? { startedAt: -1, id: '' };
      const found = await rows<BackfillRow>(
        pool,
        `SELECT ${BACKFILL_COLUMNS} FROM replication_backfills b
         WHERE b.registry_id = $1 AND (b.started_at > $2 OR (b.started_at = $2 AND b.id COLLATE "C" > $3)) AND (b.ended_at IS NULL OR b.ended_at >= $4)
         ORDER BY b.started_at, b.id COLLATE "C" LIMIT $5`,
        [registryKeyText(registryKey), from.startedAt, from.id, endedSince.getTime(), page.limit],
      );
      return Promise.all(found.map((r) => withCodes(pool, r)));
    },
    async results(id, filter) {
      const statuses = filter.status ? [filter.status] : ['COMPLETE', 'FAILED'];
      const found = await rows<BackfillItemRow>(
        pool,
        `SELECT seq, repository, digest, tag, status, failure_code FROM replication_backfill_items
         WHERE backfill_id = $1 AND seq > $2 AND status = ANY($3::text[]) ORDER BY seq LIMIT $4`,
        [id, filter.afterSeq, statuses, filter.limit],
      );
      return found.map(toBackfillItem);
    },
    async stop(registryKey, id) {
      const key = registryKeyText(registryKey);
      return withTransaction(pool, async (tx) => {
        const r = await one<BackfillRow>(tx, `SELECT ${BACKFILL_COLUMNS} FROM replication_backfills b WHERE b.registry_id = $1 AND b.id = $2 FOR UPDATE OF b`, [
          key,
          id,
        ]);
        if (!r) return 'notFound' as const;
        if (r.status === 'STOPPING') return withCodes(tx, r);
        if ((await changes(tx, `UPDATE replication_backfills SET status = 'STOPPING' WHERE id = $1 AND status IN ('PREPARING', 'IN_PROGRESS')`, [id])) === 0) {
          return 'invalidStatus' as const;
        }
        return withCodes(tx, (await get(tx, key, id))!);
      });
    },
    async prepare(id, items, job, now) {
      return withTransaction(pool, async (tx) => {
        const moved = await changes(
          tx,
          `UPDATE replication_backfills SET status = 'IN_PROGRESS', prepared = 1, generation = 1 WHERE id = $1 AND status = 'PREPARING' AND generation = 0`,
          [id],
        );
        if (moved === 0) return false;
        if (items.length > 0) {
          await tx.query(
            `INSERT INTO replication_backfill_items (backfill_id, seq, repository, digest, tag)
             SELECT $1, n, r, d, t FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS i(r, d, t, n)`,
            [id, items.map((i) => i.repository), items.map((i) => i.digest), items.map((i) => i.tag ?? '')],
          );
        }
        await enqueueIn(tx, [job], now.getTime());
        return true;
      });
    },
    async pending(id, limit) {
      const found = await rows<BackfillItemRow>(
        pool,
        'SELECT seq, repository, digest, tag, status, failure_code FROM replication_backfill_items WHERE backfill_id = $1 AND status IS NULL ORDER BY seq LIMIT $2',
        [id, limit],
      );
      return found.map(toBackfillItem);
    },
    async record(id, seq, status, failureCode) {
      await pool.query('UPDATE replication_backfill_items SET status = $1, failure_code = $2 WHERE backfill_id = $3 AND seq = $4 AND status IS NULL', [
        status,
        failureCode ?? null,
        id,
        seq,
      ]);
    },
    async handOver(id, generation, job, now) {
      return withTransaction(pool, async (tx) => {
        if ((await changes(tx, 'UPDATE replication_backfills SET generation = generation + 1 WHERE id = $1 AND generation = $2', [id, generation])) === 0) {
          throw new Rollback(false);
        }
        await enqueueIn(tx, [job], now.getTime());
        return true;
      });
    },
    async end(id, status, now, failureCode) {
      await pool.query(
        `UPDATE replication_backfills SET status = $1, failure_code = $2, ended_at = $3, running = NULL WHERE id = $4 AND status IN ${RUNNING}`,
        [status, failureCode ?? null, now.getTime(), id],
      );
    },
    async pruneEnded(before, limit) {
      return changes(
        pool,
        'DELETE FROM replication_backfills WHERE id IN (SELECT id FROM replication_backfills WHERE ended_at IS NOT NULL AND ended_at < $1 LIMIT $2)',
        [before.getTime(), limit],
      );
    },
  };
}
