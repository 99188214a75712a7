/**
 * Reading, mounting and deleting blobs in a repository. A repository's clients may read only
 * the blobs linked into it; the bytes themselves are shared by every repository (stored once).
 */
import type { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobStore, type ByteRange } from '../blobstore/blob-store.js';
import type { Digest } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import type { StorageClass } from '../metadata/archive.js';
import type { BlobRecord, RepositoryRecord } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';
import { repositoryForPush } from './create-on-push.js';
import { requireRepository } from './repositories.js';
import type { Quotas } from './quotas.js';
import { layerArchivedError } from './storage-classes.js';

/** The repositories holding a blob an automatic mount considers, at most, for one the caller may read. */
const AUTO_MOUNT_SOURCES = 100;

/** How long a presigned blob URL works; long enough for a slow pull of a large layer. */
const PRESIGN_TTL_SECONDS = 3600;

/** A blob a repository's client may read, with what opening it needs (Blobs.find). */
export interface FoundBlob {
  blob: BlobRecord;
  repository: RepositoryRecord;
  /** The class holding its bytes when it was found; a move since is met as a store fault would be. */
  storageClass: StorageClass;
}

export class Blobs {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly quotas: Quotas,
  ) {}

  /**
   * The blob as the repository sees it, or BLOB_UNKNOWN; a layer only archived images of the
   * repository reference is refused (LayerArchived). Revives a blob queued for GC review.
   */
  async stat(scope: RepoScope, digest: Digest): Promise<BlobRecord> {
    return (await this.find(scope, digest)).blob;
  }

  /**
   * As stat(), with what a GET then needs (open()): the repository found on the way, whose
   * settings choose the store, and the blob's storage class, read with it in one statement.
   */
  async find(scope: RepoScope, digest: Digest): Promise<FoundBlob> {
    const repository = await requireRepository(this.ctx, scope);
    const found = await this.ctx.meta.blobs.stat(repository.id, digest, this.ctx.clock.now());
    if (!found) throw new RegistryError(Codes.BlobUnknown, 'blob unknown to registry', { digest });
    if (found.layerAccess !== 'readable') throw layerArchivedError(scope, digest);
    return { blob: { digest: found.digest, size: found.size, createdAt: found.createdAt }, repository, storageClass: found.storageClass };
  }

  /**
   * A URL the client may GET the blob from directly, for `presignTtlSeconds`, when the store can
   * presign (S3); undefined otherwise. The caller has checked the blob is readable in the scope.
   */
  async presignedUrl(scope: RepoScope, digest: Digest): Promise<string | undefined> {
    const store = await this.storeOf(scope, digest);
    return store.presignedUrl ? store.presignedUrl(digest, PRESIGN_TTL_SECONDS) : undefined;
  }

  /** `found`: what find() just read for the caller; else the repository and the class are looked up again. */
  async open(scope: RepoScope, digest: Digest, range?: ByteRange, signal?: AbortSignal, found?: FoundBlob): Promise<Readable> {
    const store = await this.storeOf(scope, digest, found);
    try {
      return await store.read(digest, range, signal);
    } catch (e) {
      if (e instanceof BlobNotFoundError) {
        // Metadata says the blob exists but its bytes are gone: a store fault, not a client error.
        this.ctx.log.error({ digest, repository: scope.name }, 'blob bytes missing');
      }
      throw e;
    }
  }

  /**
   * The blob store of the repository's encryption key, in the class that holds the blob's bytes:
   * the archive's while they are there (an image pushed since may share them before they move back).
   */
  private async storeOf(scope: RepoScope, digest: Digest, found?: FoundBlob): Promise<BlobStore> {
    const settings = (found?.repository ?? (await requireRepository(this.ctx, scope))).settings;
    const storageClass = found ? found.storageClass : await this.ctx.meta.archive.storageClass(digest);
    if (storageClass === 'ARCHIVE' && this.ctx.vaults.archiveOf) return this.ctx.vaults.archiveOf(settings);
    return this.ctx.vaults.of(settings);
  }

  /**
   * Mounts a blob into `scope` from repository `from` (the caller was authorized to read it), or,
   * with automatic mounting, from a repository of the same registry that `mayRead` allows: never
   * from one the caller could not read, nor from another registry. Returns undefined when it
   * can't, and the client then uploads. Bytes are never shared across encryption keys (ECR's
   * rule too): a mount needs a copy sealed under the target repository's key.
   */
  async mount(
    scope: RepoScope,
    digest: Digest,
    from: RepoScope | undefined,
    mayRead?: (repository: string) => Promise<boolean>,
  ): Promise<BlobRecord | undefined> {
    let source: BlobRecord | undefined;
    if (from) {
      const fromRepo = await this.ctx.meta.repositories.find(from.registryKey, from.name);
      source = fromRepo && (await this.ctx.meta.blobs.findInRepository(fromRepo.id, digest));
    } else if (this.ctx.limits.autoMount && mayRead) {
      for (const name of await this.ctx.meta.blobs.repositoriesWith(scope.registryKey, digest, AUTO_MOUNT_SOURCES)) {
        if (await mayRead(name)) {
          source = await this.ctx.meta.blobs.find(digest);
          break;
        }
      }
    }
    if (!source) return undefined;
    const repo = await repositoryForPush(this.ctx, scope, this.quotas);
    const store = await this.ctx.vaults.of(repo.settings);
    if (!(await store.stat(digest))) return undefined;
    return this.ctx.meta.blobs.link(repo.id, digest, this.ctx.clock.now());
  }

  async delete(scope: RepoScope, digest: Digest): Promise<void> {
    if (!this.ctx.limits.deleteEnabled) throw new RegistryError(Codes.MethodNotAllowed, 'deletes are disabled');
    const repo = await requireRepository(this.ctx, scope);
    const removed = await this.ctx.meta.blobs.unlink(repo.id, digest, this.ctx.clock.now());
    if (!removed) throw new RegistryError(Codes.BlobUnknown, 'blob unknown to registry', { digest });
    this.ctx.log.info({ repository: scope.name, digest }, 'blob unlinked');
  }
}
