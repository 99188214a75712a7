/**
 * What the registry bills and what its operators watch, as the metadata sees it: durable daily
 * aggregates per repository (transfer in and out, pulls, storage samples), the figures `berth
 * usage` turns into GB-months, and a few small live counts a metrics scrape reads. Every write
 * adds to a row (an upsert with increments), so several nodes flushing the same day and
 * repository add up instead of overwriting each other.
 */

import { parseRegistryKey, type RegistryKey } from '../core/registry-key.js';

/** A day is counted in whole days since 1970-01-01 UTC. */
export const DAY_MS = 86_400_000;

export function dayOf(at: Date): number {
  return Math.floor(at.getTime() / DAY_MS);
}

/**
 * The repository name of a registry's own row: the registry's deduplicated storage (each distinct
 * blob once), beside its repositories' rows. No repository is named '' (names are checked).
 */
export const REGISTRY_ROW = '';

/** Increments to one day's row of one repository. */
export interface TransferDelta {
  day: number;
  registryKey: RegistryKey;
  repository: string;
  bytesIn: number;
  bytesOut: number;
  pulls: number;
}

/** One storage sample: what a repository (or, under REGISTRY_ROW, a registry) held at sampling time. */
export interface StorageSample {
  registryKey: RegistryKey;
  repository: string;
  bytes: number;
}

/** A day's row as stored. The day's storage is storageSum / storageSamples (when sampled). */
export interface DailyUsage {
  day: number;
  registryKey: RegistryKey;
  repository: string;
  bytesIn: number;
  bytesOut: number;
  pulls: number;
  storageSum: number;
  storageSamples: number;
}

export interface JobQueueStats {
  kind: string;
  queued: number;
  /** created_at of the oldest job of the kind still queued. */
  oldest: Date;
}

export interface UsageStore {
  /** Adds each delta to its day's row (created when missing). One transaction. */
  addTransfer(deltas: TransferDelta[]): Promise<void>;
  /**
   * What every repository holds now (the bytes of the blobs linked into it) and, under
   * REGISTRY_ROW, each registry's deduplicated bytes. One consistent read.
   */
  currentStorage(): Promise<StorageSample[]>;
  /** The keys whose latest sampled day at or before `day` averaged more than zero bytes. */
  lastNonZeroSamples(day: number): Promise<Array<{ registryKey: RegistryKey; repository: string }>>;
  /** Adds one sample to each key's row of `day`. One transaction. */
  addStorageSamples(day: number, samples: StorageSample[]): Promise<void>;
  /**
   * Rows of days in [from, to), and for each key the latest sampled row in the `lookback` days
   * before `from` (what storage carries into the period). Only `accountId`'s registries when given.
   */
  daily(from: number, to: number, lookback: number, accountId?: string): Promise<DailyUsage[]>;
  /** The latest day any storage sample was taken, or undefined. */
  lastSampledDay(): Promise<number | undefined>;
  /** Upload sessions open now. */
  openUploads(): Promise<number>;
  /** Jobs queued per kind, and the oldest one's age. */
  jobQueues(): Promise<JobQueueStats[]>;
  /** The `limit` largest repositories by linked bytes. */
  largestRepositories(limit: number): Promise<StorageSample[]>;
}

/** A usage_daily row as both engines read it, and the columns that select one (alias `u`). */
export interface DailyUsageRow {
  day: number;
  registry_id: string;
  repository: string;
  bytes_in: number;
  bytes_out: number;
  pulls: number;
  storage_sum: number;
  storage_samples: number;
}

export const DAILY_USAGE_COLUMNS = 'u.day, u.registry_id, u.repository, u.bytes_in, u.bytes_out, u.pulls, u.storage_sum, u.storage_samples';

export const toDailyUsage = (r: DailyUsageRow): DailyUsage => ({
  day: r.day,
  registryKey: parseRegistryKey(r.registry_id),
  repository: r.repository,
  bytesIn: r.bytes_in,
  bytesOut: r.bytes_out,
  pulls: r.pulls,
  storageSum: r.storage_sum,
  storageSamples: r.storage_samples,
});
