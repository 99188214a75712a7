/**
 * What every use case needs: the stores, the clock, the limits, a logger. Built once by app/
 * and passed down; nothing in registry/ reads config or the wall clock on its own.
 */
import type { Logger } from 'pino';
import type { BlobVaults } from '../blobstore/vaults.js';
import type { Clock } from '../core/clock.js';
import type { DownloadBudget } from '../core/download-budget.js';
import type { ChangeSignal } from '../core/expiring-cache.js';
import type { RegistryKey } from '../core/registry-key.js';
import type { MetadataStore } from '../metadata/types.js';
import type { HashPool } from './hash-pool.js';
import type { KeyUse } from './repository-admin.js';

export interface RegistryLimits {
  createOnPush: boolean;
  deleteEnabled: boolean;
  autoMount: boolean;
  maxUploadSessions: number;
  maxManifestBytes: number;
  maxBlobBytes: number;
  maxPageSize: number;
  /** Answer blob GETs with a 307 to a presigned URL when the store can presign. */
  redirectBlobGets?: boolean;
  /** The deployment's service-quota values (config `quotas`), over ECR's defaults (registry/quotas.ts). */
  quotas?: Record<string, number>;
  /** API rates per account and operation (registry/api-rates.ts), for the deployment; unset: no throttling. */
  apiRates?: Record<string, number>;
  /** Nodes sharing apiRates: each allows its share. */
  apiRateNodes?: number;
}

export interface RegistryContext {
  /** The blob store of each repository's encryption key. */
  vaults: BlobVaults;
  meta: MetadataStore;
  /** Worker threads that hash uploaded bytes off the event loop. */
  hashing: HashPool;
  clock: Clock;
  limits: RegistryLimits;
  log: Logger;
  /** Bumped by writes that can change an authorization decision (policies, resource tags). */
  authzChanges: ChangeSignal;
  /**
   * What downloads in flight may hold (core/download-budget.ts): `blobs`, shared with the open
   * pool, and `manifests`, their own; unset, unbounded (tests that build a bare context).
   */
  budgets?: { blobs: DownloadBudget; manifests: DownloadBudget };
  /**
   * What a creation template's KMS key asks of the role the template names (http/kms-key-use.ts),
   * for the repositories templates make; set by app/. Unset: nothing is asked (tests of the core alone).
   */
  templateKeyUse?: (registryKey: RegistryKey, template: { prefix: string; customRoleArn?: string }) => KeyUse;
  /** Called after a use case enqueued a job, so this node's worker looks at once. */
  jobsQueued?: () => void;
  /** Called after a use case wrote events to the outbox, so this node's deliverer looks soon. */
  eventsQueued?: () => void;
}

/** A repository as a request names it: which registry (account and region) and which name. */
export interface RepoScope {
  registryKey: RegistryKey;
  name: string;
}
