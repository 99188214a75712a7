/** Replication status on PostgreSQL (the twin of ../sqlite/replication.ts). */
import { registryKeyText } from '../../core/registry-key.js';
import type { ReplicationStart, ReplicationState, ReplicationStatusStore } from '../replication.js';
import { writeEventsIn } from './events.js';
import { enqueueIn } from './jobs.js';
import { rows, withTransaction, type PgContext, type Queryable } from './pool.js';

const UPSERT = `INSERT INTO replication_status (registry_id, repository, digest, destination_region, destination_registry, status, failure_code, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (registry_id, repository, digest, destination_region, destination_registry)
  DO UPDATE SET status = excluded.status, failure_code = excluded.failure_code, updated_at = excluded.updated_at`;

/** Inside a manifest put's transaction: IN_PROGRESS rows and the jobs. */
export async function startReplicationIn(
  tx: Queryable,
  registryId: string,
  repository: string,
  digest: string,
  starts: ReplicationStart[],
  now: number,
): Promise<void> {
  for (const s of starts) {
    await tx.query(UPSERT, [registryId, repository, digest, s.destination.region, s.destination.registryId, 'IN_PROGRESS', null, now]);
  }
  await enqueueIn(
    tx,
    starts.map((s) => s.job),
    now,
  );
}

export function createPostgresReplication({ pool }: PgContext): ReplicationStatusStore {
  return {
    async oldestPending() {
      const found = await rows<{ destination_region: string; destination_registry: string; since: string }>(
        pool,
        `SELECT destination_region, destination_registry, MIN(updated_at) AS since FROM replication_status WHERE status = 'IN_PROGRESS' GROUP BY destination_region, destination_registry ORDER BY destination_region, destination_registry`,
        [],
      );
      return found.map((r) => ({ destination: { region: r.destination_region, registryId: r.destination_registry }, since: new Date(Number(r.since)) }));
    },
    async list(registryKey, repository, digest) {
      const found = await rows<{ destination_region: string; destination_registry: string; status: string; failure_code: string | null; updated_at: number }>(
        pool,
        `SELECT destination_region, destination_registry, status, failure_code, updated_at FROM replication_status
         WHERE registry_id = $1 AND repository = $2 AND digest = $3 ORDER BY destination_region, destination_registry`,
        [registryKeyText(registryKey), repository, digest],
      );
      return found.map((r) => ({
        destination: { region: r.destination_region, registryId: r.destination_registry },
        status: r.status as ReplicationState,
        ...(r.failure_code !== null && { failureCode: r.failure_code }),
        updatedAt: new Date(Number(r.updated_at)),
      }));
    },
    async set(registryKey, repository, digest, record, now, events) {
      await withTransaction(pool, async (tx) => {
        await tx.query(UPSERT, [
          registryKeyText(registryKey),
          repository,
          digest,
          record.destination.region,
          record.destination.registryId,
          record.status,
          record.failureCode ?? null,
          now.getTime(),
        ]);
        if (events) await writeEventsIn(tx, events, now.getTime());
      });
    },
  };
}
