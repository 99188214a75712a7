/**
 * Replication status of pushed images, per destination (DescribeImageReplicationStatus). A push
 * that a replication rule covers writes IN_PROGRESS and the replication job in its own
 * transaction (PutManifestInput.replications); the job moves the row to COMPLETE or FAILED.
 */
import type { Digest } from '../core/digest.js';
import type { RegistryKey } from '../core/registry-key.js';
import type { JobRequest, OutboxEvent } from './types.js';

export type ReplicationState = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface ReplicationDestination {
  region: string;
  /** The destination account (ECR's registryId). */
  registryId: string;
}

export interface ReplicationStatusRecord {
  destination: ReplicationDestination;
  status: ReplicationState;
  failureCode?: string;
  updatedAt: Date;
}

/** One destination of a push: its status row (IN_PROGRESS) and its job, written with the manifest. */
export interface ReplicationStart {
  destination: ReplicationDestination;
  job: JobRequest;
}

export interface ReplicationStatusStore {
  /** Every destination's status of one image of a source repository, by region then account. */
  list(registryKey: RegistryKey, repository: string, digest: Digest): Promise<ReplicationStatusRecord[]>;
  /** Records a destination's status (created or overwritten), with events in the same transaction. */
  set(
    registryKey: RegistryKey,
    repository: string,
    digest: Digest,
    record: Omit<ReplicationStatusRecord, 'updatedAt'>,
    now: Date,
    events?: OutboxEvent[],
  ): Promise<void>;
  /** Per destination with images still IN_PROGRESS, when the oldest of them was started (the replication lag). */
  oldestPending(): Promise<Array<{ destination: ReplicationDestination; since: Date }>>;
}
