/**
 * Service quotas as the metadata store sees them: the per-account overrides an operator sets,
 * the counts a store checks inside the transaction that would exceed them, and the parts of
 * a layer upload (ECR's layer API counts them). The values themselves and which one applies
 * are the registry core's (registry/quotas.ts); a store only compares and refuses.
 */

/** The count limits a manifest put checks in its own transaction; absent: not checked. */
export interface ManifestQuotaLimits {
  /** Repositories in the registry, when the put creates one (create-on-push). */
  repositoriesPerRegistry?: number;
  /** Images (manifests) in the repository, when the put adds one. */
  imagesPerRepository?: number;
  /** Tags on the image, when the put writes tags. */
  tagsPerImage?: number;
  /** Manifests whose subject is the new manifest's subject, when it has one. */
  referrersPerSubject?: number;
}

/**
 * Thrown by a store, inside the transaction, when a write would exceed a count limit: the
 * transaction rolls back, so nothing of the write stays. The registry core names the quota.
 */
export class QuotaRefusal extends Error {
  constructor(
    readonly quota: keyof ManifestQuotaLimits,
    readonly limit: number,
  ) {
    super(`quota ${quota} (${limit}) reached`);
    this.name = 'QuotaRefusal';
  }
}

export interface QuotaOverride {
  accountId: string;
  name: string;
  value: number;
}

export interface UploadParts {
  /** Parts received through the layer API (UploadLayerPart). */
  parts: number;
  /** Bytes of the last of them (0 before the first). */
  lastPartBytes: number;
}

export interface QuotaStore {
  /** The overrides of one account, or of every account, by account then name. */
  list(accountId?: string): Promise<QuotaOverride[]>;
  /** Sets (or, with `undefined`, removes) one account's value of a quota. */
  set(accountId: string, name: string, value: number | undefined): Promise<void>;
  /** The layer-API parts an upload has received; undefined if the upload is gone. */
  uploadParts(uploadId: string): Promise<UploadParts | undefined>;
  /** Counts one more part of `bytes` bytes, after the part's bytes were accepted. */
  recordUploadPart(uploadId: string, bytes: number): Promise<void>;
}
