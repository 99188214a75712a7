/**
 * Blob stores per encryption key. A repository's blobs live in the store of its encryption
 * (the registry key for AES256, or its KMS key), so a layer is stored once per key rather than
 * once per registry: deduplication never crosses a key, which is also ECR's rule for layer
 * mounting. The metadata knows a blob by digest only; the bytes of one digest may therefore sit
 * in several stores, and the garbage collector deletes them from every one.
 */
import type { Digest } from '../core/digest.js';
import type { RepositorySettings } from '../core/repository-settings.js';
import type { BlobInfo, BlobStore } from './blob-store.js';
import type { RegistryKey } from '../core/registry-key.js';

export interface BlobVaults {
  /**
   * A new repository's encryption settings, checked and completed: its KMS key must exist and be
   * enabled, and is named by its ARN (KMS without a key gets the registry's `aws/ecr` key).
   * Rejects with KmsException otherwise. `check` is asked with the completed settings before
   * anything is recorded about the key, so a creation it refuses leaves nothing behind.
   */
  settle(registryKey: RegistryKey, settings: RepositorySettings, check?: SettleCheck): Promise<RepositorySettings>;
  /** The store holding the blobs of repositories with these settings (a disabled key fails on use). */
  of(settings: RepositorySettings): Promise<BlobStore>;
  /**
   * The archive twin of `of`: where the bytes of blobs in the archive storage class live, sealed
   * as in the standard store. Absent when the deployment has no archive location (tests).
   */
  archiveOf?(settings: RepositorySettings): Promise<BlobStore>;
  /** Every store there is (the archive's too), for deletions that must reach all of them. */
  all(): Promise<BlobStore[]>;
}

/** A check of a new repository's completed encryption settings (whether its creator may use the key). */
export type SettleCheck = (settled: RepositorySettings) => Promise<void>;

/** What the garbage collector does to bytes: the same on every store. */
export type ReclaimableBlobs = Pick<BlobStore, 'stat' | 'delete' | 'deleteUpload' | 'listUploads'>;

/** One store for every repository (tests, and registries with nothing to separate). */
export function singleVault(store: BlobStore): BlobVaults {
  const settle = async (_registryKey: RegistryKey, settings: RepositorySettings, check?: SettleCheck) => {
    await check?.(settings);
    return settings;
  };
  return { settle, of: async () => store, all: async () => [store] };
}

/**
 * The collector's view of every store at once: a digest or upload is deleted from each (all
 * deletes are no-ops when absent), stat reports the first copy found, uploads are listed once.
 */
export function everyVault(vaults: BlobVaults): ReclaimableBlobs {
  return {
    async stat(digest: Digest): Promise<BlobInfo | undefined> {
      for (const s of await vaults.all()) {
        const info = await s.stat(digest);
        if (info) return info;
      }
      return undefined;
    },
    async delete(digest: Digest): Promise<void> {
      for (const s of await vaults.all()) await s.delete(digest);
    },
    async deleteUpload(id: string): Promise<void> {
      for (const s of await vaults.all()) await s.deleteUpload(id);
    },
    async *listUploads() {
      const seen = new Set<string>();
      for (const s of await vaults.all()) {
        if (!s.listUploads) continue;
        for await (const u of s.listUploads()) {
          if (seen.has(u.id)) continue;
          seen.add(u.id);
          yield u;
        }
      }
    },
  };
}
