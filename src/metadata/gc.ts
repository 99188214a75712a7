/**
 * The garbage collector's view of the metadata (design decision 3, "GC is online"). Blobs that
 * may have lost their last reference are queued for review in the same transaction as the change
 * that caused it (a blob recorded, a manifest or repository deleted, a link removed); a worker
 * reviews each once its grace period has passed, in one transaction that re-checks references;
 * a blob found unreferenced loses its metadata and gets a deletion row (the outbox), and only then
 * are its bytes removed. Each method is one atomic unit, as everywhere in the metadata store.
 */
import type { Digest } from '../core/digest.js';
import { parseRegistryKey, type RegistryKey } from '../core/registry-key.js';

/**
 * A claim on a deletion ('deleting') older than this was left by a worker that died: another
 * worker may take it over, and an upload of the digest may cancel it. The claim covers one
 * unlink per blob, so a live worker never holds one this long.
 */
export const GC_CLAIM_STALE_MS = 60_000;

/** A HEAD or GET revives a queued blob at most once per this period (the hot path stays read-only). */
export const GC_REVIVE_COALESCE_MS = 1_000;

export interface ReviewOutcome {
  digest: Digest;
  /**
   * 'kept': a manifest references it (its review is dropped); 'deleted': unreferenced, its
   * metadata is gone and its bytes are queued for deletion; 'gone': no blob row (nothing to do).
   */
  outcome: 'kept' | 'deleted' | 'gone';
  size: number;
}

export interface RepositoryUsage {
  registryKey: RegistryKey;
  name: string;
  /** Manifests in the repository (ECR counts each as an image). */
  images: number;
  /** Blobs linked into the repository, and their bytes. */
  blobs: number;
  bytes: number;
}

export interface RegistryUsage {
  registryKey: RegistryKey;
  repositories: number;
  images: number;
  /** Sum over repositories: a layer linked into three repositories counts three times. */
  linkedBlobs: number;
  linkedBytes: number;
  /** Each distinct blob once: what the registry's repositories hold in the blob store. */
  blobs: number;
  bytes: number;
}

export interface StorageUsage {
  repositories: RepositoryUsage[];
  registries: RegistryUsage[];
  /** Every blob stored, across all registries (the bytes on disk, manifests aside). */
  stored: { blobs: number; bytes: number };
}

/** One repository's usage row as both engines read it (registry_id as stored). */
export interface RepositoryUsageRow {
  registry_id: string;
  name: string;
  images: number;
  blobs: number;
  bytes: number;
}

/**
 * StorageUsage from the engines' rows: per repository, each registry's distinct blobs, and
 * what is stored in all. The registries' sums are made here so both engines add up alike.
 */
export function storageUsage(
  perRepository: readonly RepositoryUsageRow[],
  distinct: readonly { registry_id: string; blobs: number; bytes: number }[],
  stored: { blobs: number; bytes: number },
): StorageUsage {
  const repositories: RepositoryUsage[] = perRepository.map((r) => ({
    registryKey: parseRegistryKey(r.registry_id),
    name: r.name,
    images: r.images,
    blobs: r.blobs,
    bytes: r.bytes,
  }));
  const registries = new Map<RegistryKey, RegistryUsage>();
  for (const r of repositories) {
    let g = registries.get(r.registryKey);
    if (!g) {
      g = { registryKey: r.registryKey, repositories: 0, images: 0, linkedBlobs: 0, linkedBytes: 0, blobs: 0, bytes: 0 };
      registries.set(r.registryKey, g);
    }
    g.repositories++;
    g.images += r.images;
    g.linkedBlobs += r.blobs;
    g.linkedBytes += r.bytes;
  }
  for (const d of distinct) {
    const g = registries.get(parseRegistryKey(d.registry_id));
    if (g) Object.assign(g, { blobs: d.blobs, bytes: d.bytes });
  }
  return { repositories, registries: [...registries.values()], stored };
}

export interface GcStore {
  /**
   * Reviews up to `limit` blobs queued at or before `dueBefore`, each decided atomically against
   * the references at that instant. A kept blob's repository links that no manifest of that
   * repository references and that were made before `dueBefore` are removed too.
   */
  review(dueBefore: Date, now: Date, limit: number): Promise<ReviewOutcome[]>;
  /** What review would decide for every blob due at `dueBefore`, changing nothing (dry run). */
  previewReview(dueBefore: Date): Promise<ReviewOutcome[]>;
  /**
   * Claims up to `limit` deletions after `after` (digest order): pending ones, and claims older
   * than `staleBefore`, provided no blob row and no upload commit exists for the digest.
   * `next` is the cursor for the following batch, undefined at the end.
   */
  claimDeletions(after: string, now: Date, staleBefore: Date, limit: number): Promise<{ claimed: Digest[]; next?: string }>;
  /** Removes deletion rows whose bytes are gone. */
  finishDeletions(digests: Digest[]): Promise<void>;
  /** Deletion rows, any state (dry run). */
  countDeletions(): Promise<number>;
  /**
   * Removes upload-commit markers started before `staleBefore` (their node died between the
   * commit of the bytes and the blob row) and queues the bytes for deletion when no blob row
   * exists. Returns how many were removed.
   */
  reclaimCommitMarkers(staleBefore: Date, now: Date): Promise<number>;
  /** Upload sessions with no progress since `idleBefore`, oldest first. */
  idleUploads(idleBefore: Date, limit: number): Promise<string[]>;
  /** Deletes the session if it is still idle since `idleBefore`; true if it did. */
  deleteIdleUpload(id: string, idleBefore: Date): Promise<boolean>;
  /** Which of `ids` are open upload sessions. */
  existingUploads(ids: string[]): Promise<Set<string>>;
  /** Storage per repository and per registry, optionally of one account only. */
  usage(accountId?: string): Promise<StorageUsage>;
}
