/**
 * The archive storage class in the metadata store: each image's status (ECR's imageStatus) and
 * each blob's storage class (where its bytes are). The status is the fact clients see; the class
 * follows it, moved by a background job (lifecycle/archive-mover.ts) under a per-blob lease.
 *
 * A blob belongs in the archive when images reference it and every one of them, in any
 * repository, is ARCHIVED; anything else (an ACTIVE or ACTIVATING image shares it, or nothing
 * references it) keeps it in, or brings it back to, the standard store.
 */
import type { Digest } from '../core/digest.js';
import type { RepositorySettings } from '../core/repository-settings.js';
import type { RegistryKey } from '../core/registry-key.js';
import type { JobRequest, OutboxEvent } from './types.js';

export type ImageStatus = 'ACTIVE' | 'ARCHIVED' | 'ACTIVATING';
export type ImageStatusFilter = ImageStatus | 'ANY';
export type StorageClass = 'STANDARD' | 'ARCHIVE';

/** A blob's placement, read in one snapshot: where its bytes are, where they belong, and whose stores hold them. */
export interface BlobPlacement {
  storageClass: StorageClass;
  wanted: StorageClass;
  /** The settings of every repository the blob is linked into: each names a store (by encryption key) holding a copy. */
  holders: RepositorySettings[];
}

/** What a layer read in a repository may do, by the images of that repository that reference the layer. */
export type LayerAccess = 'readable' | 'archived';

export interface ArchiveStore {
  /**
   * Moves an image from status `from` to `to` (ARCHIVED stamps archivedAt), enqueuing `jobs`
   * and writing `events` in the same transaction. Returns the status it found: the change was
   * made only when that equals `from`; undefined when there is no such image. An image an index
   * of the repository lists is never archived ('listed'); with `plannedTags` (a lifecycle
   * transition), nor is one whose tags are no longer those ('changed').
   */
  setStatus(
    repositoryId: number,
    digest: Digest,
    change: { from: ImageStatus; to: 'ARCHIVED' | 'ACTIVATING'; plannedTags?: readonly string[] },
    now: Date,
    jobs: JobRequest[],
    events: OutboxEvent[],
  ): Promise<ImageStatus | 'listed' | 'changed' | undefined>;
  /**
   * ACTIVATING → ACTIVE (stamping activatedAt, writing `events`) once none of the image's blobs
   * is in the archive class. 'active' when done or already active; 'waiting' when a blob is
   * still archived; 'missing' when the image is gone or in another status.
   */
  activate(repositoryId: number, digest: Digest, now: Date, events: OutboxEvent[]): Promise<'active' | 'waiting' | 'missing'>;
  /** Whether a blob the image references directly is in the archive class. */
  hasArchivedBlobs(repositoryId: number, digest: Digest): Promise<boolean>;
  /** The blobs the image references directly (config and layers). */
  imageBlobs(repositoryId: number, digest: Digest): Promise<Digest[]>;
  /** Undefined when no blob row exists (collected). */
  placement(digest: Digest): Promise<BlobPlacement | undefined>;
  /** The blob's class, or undefined when unknown; the data path reads its bytes from that class's store. */
  storageClass(digest: Digest): Promise<StorageClass | undefined>;
  /**
   * Records that the blob's bytes are now in `to`, if its class is still `from` and it still
   * belongs in `to` (both checked in the same transaction); false otherwise, changing nothing.
   */
  setStorageClass(digest: Digest, from: StorageClass, to: StorageClass): Promise<boolean>;
  /**
   * Whether the repository's clients may read the blob: 'archived' when images of the repository
   * reference it and none of them is ACTIVE; otherwise 'readable'.
   */
  layerAccess(repositoryId: number, digest: Digest): Promise<LayerAccess>;
  /** The `limit` repositories with the most bytes in the archive class (of the blobs linked into them), most first. */
  largestArchived(limit: number): Promise<Array<{ registryKey: RegistryKey; repository: string; bytes: number }>>;
}
