/** Replication status on SQLite (see ../replication.ts). */
import { registryKeyText } from '../../core/registry-key.js';
import type { ReplicationStart, ReplicationState, ReplicationStatusStore } from '../replication.js';
import { prepareOutboxWriter } from './events.js';
import { prepareEnqueue } from './jobs.js';
import type { Db } from './open.js';

interface Row {
  destination_region: string;
  destination_registry: string;
  status: string;
  failure_code: string | null;
  updated_at: number;
}

const UPSERT = `INSERT INTO replication_status (registry_id, repository, digest, destination_region, destination_registry, status, failure_code, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (registry_id, repository, digest, destination_region, destination_registry)
  DO UPDATE SET status = excluded.status, failure_code = excluded.failure_code, updated_at = excluded.updated_at`;

/** What a manifest put runs inside its transaction: IN_PROGRESS rows and the jobs. */
export function prepareReplicationStart(db: Db): (registryId: string, repository: string, digest: string, starts: ReplicationStart[], now: number) => void {
  const upsert = db.prepare(UPSERT);
  const enqueue = prepareEnqueue(db);
  return (registryId, repository, digest, starts, now) => {
    for (const s of starts) {
      upsert.run(registryId, repository, digest, s.destination.region, s.destination.registryId, 'IN_PROGRESS', null, now);
      enqueue(s.job, now);
    }
  };
}

export function createSqliteReplication(db: Db): ReplicationStatusStore {
  const listStmt = db.prepare<[string, string, string], Row>(
    `SELECT destination_region, destination_registry, status, failure_code, updated_at FROM replication_status
     WHERE registry_id = ? AND repository = ? AND digest = ? ORDER BY destination_region, destination_registry`,
  );
  const upsert = db.prepare(UPSERT);
  const outbox = prepareOutboxWriter(db);
  const set = db.transaction(
    (
      registryId: string,
      repository: string,
      digest: string,
      r: { region: string; registryId: string; status: string; failureCode: string | null },
      now: number,
      events,
    ) => {
      upsert.run(registryId, repository, digest, r.region, r.registryId, r.status, r.failureCode, now);
      if (events) outbox.write(events, now);
    },
  );
  const pendingStmt = db.prepare<[], { destination_region: string; destination_registry: string; since: number }>(
    `SELECT destination_region, destination_registry, MIN(updated_at) AS since FROM replication_status WHERE status = 'IN_PROGRESS' GROUP BY destination_region, destination_registry ORDER BY destination_region, destination_registry`,
  );
  return {
    async oldestPending() {
      return pendingStmt.all().map((r) => ({ destination: { region: r.destination_region, registryId: r.destination_registry }, since: new Date(r.since) }));
    },
    async list(registryKey, repository, digest) {
      return listStmt.all(registryKeyText(registryKey), repository, digest).map((r) => ({
        destination: { region: r.destination_region, registryId: r.destination_registry },
        status: r.status as ReplicationState,
        ...(r.failure_code !== null && { failureCode: r.failure_code }),
        updatedAt: new Date(r.updated_at),
      }));
    },
    async set(registryKey, repository, digest, record, now, events) {
      set.immediate(
        registryKeyText(registryKey),
        repository,
        digest,
        { ...record.destination, status: record.status, failureCode: record.failureCode ?? null },
        now.getTime(),
        events,
      );
    },
  };
}
