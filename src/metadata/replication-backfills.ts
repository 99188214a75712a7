/**
 * ECR's replication backfills: a registry's existing images replicated to one destination of
 * its replication configuration, as a durable job whose progress and per-image results can be
 * read (ListReplicationBackfills, DescribeReplicationBackfillResults) and which can be stopped.
 * The store keeps the backfill, one item per image and tag to replicate, and the rules that
 * keep it consistent across nodes: one running backfill per destination region (a unique
 * index), and one job at a time that may advance it (its generation).
 */
import type { Digest } from '../core/digest.js';
import type { RegistryKey } from '../core/registry-key.js';
import type { ReplicationDestination } from './replication.js';
import type { JobRequest } from './types.js';

export type BackfillStatus = 'PREPARING' | 'IN_PROGRESS' | 'COMPLETE' | 'FAILED' | 'STOPPING' | 'STOPPED';
export type BackfillItemStatus = 'COMPLETE' | 'FAILED';

export const TERMINAL_BACKFILL_STATUSES: ReadonlySet<BackfillStatus> = new Set(['COMPLETE', 'FAILED', 'STOPPED']);

export interface BackfillProgress {
  total: number;
  completed: number;
  failed: number;
  /** Each failure code once. */
  failureCodes: string[];
}

export interface BackfillRecord {
  id: string;
  registryKey: RegistryKey;
  destination: ReplicationDestination;
  status: BackfillStatus;
  failureCode?: string;
  /** The generation of the one job that may advance it (0 while PREPARING). */
  generation: number;
  /** Undefined until its items are known (ECR: null while PREPARING). */
  progress?: BackfillProgress;
  startedAt: Date;
  endedAt?: Date;
}

export interface BackfillItem {
  /** The item's place in the backfill's order. */
  seq: number;
  repository: string;
  digest: Digest;
  /** Absent for an untagged image. */
  tag?: string;
  status?: BackfillItemStatus;
  failureCode?: string;
}

export interface ReplicationBackfillStore {
  /**
   * Records a PREPARING backfill with the job that prepares it, in one transaction, unless one
   * is running for the destination's region ('inProgress') or `maxRunning` are ('limit').
   */
  start(
    backfill: { id: string; registryKey: RegistryKey; destination: ReplicationDestination; now: Date },
    job: JobRequest,
    maxRunning: number,
  ): Promise<'started' | 'inProgress' | 'limit'>;
  get(registryKey: RegistryKey, id: string): Promise<BackfillRecord | undefined>;
  /** By start time then id, after `page.after` (a key from backfillKey); ended ones only when they ended at or after `endedSince`. */
  list(registryKey: RegistryKey, page: { after?: string; limit: number }, endedSince: Date): Promise<BackfillRecord[]>;
  /** Its replicated items (COMPLETE or FAILED, or only `status`), in order after `afterSeq`. */
  results(id: string, filter: { status?: BackfillItemStatus; afterSeq: number; limit: number }): Promise<BackfillItem[]>;
  /**
   * PREPARING or IN_PROGRESS becomes STOPPING (the job ends it); STOPPING stays. 'notFound', or
   * 'invalidStatus' when it already ended.
   */
  stop(registryKey: RegistryKey, id: string): Promise<BackfillRecord | 'notFound' | 'invalidStatus'>;
  /**
   * A PREPARING backfill at generation 0 becomes IN_PROGRESS at generation 1 with its items and
   * the job that replicates them, in one transaction; false (nothing written) if it was not.
   */
  prepare(id: string, items: Array<{ repository: string; digest: Digest; tag?: string }>, job: JobRequest, now: Date): Promise<boolean>;
  /** Items not yet replicated, in order. */
  pending(id: string, limit: number): Promise<BackfillItem[]>;
  /** An item's outcome; an item already recorded is left as it is. */
  record(id: string, seq: number, status: BackfillItemStatus, failureCode?: string): Promise<void>;
  /** Moves the backfill from `generation` to the next with the job of that one, in one transaction; false if it was not at `generation`. */
  handOver(id: string, generation: number, job: JobRequest, now: Date): Promise<boolean>;
  /** Ends a backfill not yet ended: its status, when, and that it no longer runs. */
  end(id: string, status: 'COMPLETE' | 'FAILED' | 'STOPPED', now: Date, failureCode?: string): Promise<void>;
  /**
   * Deletes up to `limit` backfills that ended before `before`, with their items (the items go
   * with their backfill: ON DELETE CASCADE). Running ones are never deleted. Returns how many.
   */
  pruneEnded(before: Date, limit: number): Promise<number>;
}

/** The listing key of a backfill: start time, then id. */
export function backfillKey(b: Pick<BackfillRecord, 'startedAt' | 'id'>): string {
  return `${String(b.startedAt.getTime()).padStart(15, '0')}/${b.id}`;
}

export function parseBackfillKey(key: string): { startedAt: number; id: string } | undefined {
  const m = /^(\d{15})\/(.+)$/.exec(key);
  return m ? { startedAt: Number(m[1]), id: m[2]! } : undefined;
}

/** A replication_backfills row with its counts, as both engines read it. */
export interface BackfillRow {
  id: string;
  registry_id: string;
  destination_region: string;
  destination_registry: string;
  status: string;
  failure_code: string | null;
  prepared: number;
  generation: number;
  started_at: number | string;
  ended_at: number | string | null;
  total: number | string;
  completed: number | string;
  failed: number | string;
}

export const BACKFILL_COLUMNS = `b.id, b.registry_id, b.destination_region, b.destination_registry, b.status, b.failure_code, b.prepared, b.generation, b.started_at, b.ended_at,
  (SELECT COUNT(*) FROM replication_backfill_items i WHERE i.backfill_id = b.id) AS total,
  (SELECT COUNT(*) FROM replication_backfill_items i WHERE i.backfill_id = b.id AND i.status = 'COMPLETE') AS completed,
  (SELECT COUNT(*) FROM replication_backfill_items i WHERE i.backfill_id = b.id AND i.status = 'FAILED') AS failed`;

export const FAILURE_CODES_SQL = `SELECT DISTINCT failure_code FROM replication_backfill_items WHERE backfill_id = ? AND status = 'FAILED' AND failure_code IS NOT NULL ORDER BY failure_code`;

export function toBackfill(r: BackfillRow, registryKey: RegistryKey, failureCodes: string[]): BackfillRecord {
  return {
    id: r.id,
    registryKey,
    destination: { region: r.destination_region, registryId: r.destination_registry },
    status: r.status as BackfillStatus,
    ...(r.failure_code !== null && { failureCode: r.failure_code }),
    generation: Number(r.generation),
    ...(Number(r.prepared) === 1 && { progress: { total: Number(r.total), completed: Number(r.completed), failed: Number(r.failed), failureCodes } }),
    startedAt: new Date(Number(r.started_at)),
    ...(r.ended_at !== null && { endedAt: new Date(Number(r.ended_at)) }),
  };
}

export interface BackfillItemRow {
  seq: number;
  repository: string;
  digest: string;
  tag: string;
  status: string | null;
  failure_code: string | null;
}

export function toBackfillItem(r: BackfillItemRow): BackfillItem {
  return {
    seq: Number(r.seq),
    repository: r.repository,
    digest: r.digest as Digest,
    ...(r.tag !== '' && { tag: r.tag }),
    ...(r.status !== null && { status: r.status as BackfillItemStatus }),
    ...(r.failure_code !== null && { failureCode: r.failure_code }),
  };
}
