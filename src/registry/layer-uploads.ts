/**
 * The layer API's push (ECR's InitiateLayerUpload, CompleteLayerUpload, BatchCheckLayerAvailability)
 * over the same upload sessions as /v2, with ECR's rules: the repository must exist (creation on
 * push is /v2's alone), an empty upload is refused, and a layer the repository already has is
 * LayerAlreadyExists (the upload is cancelled), where /v2 would accept it again.
 */
import { isDigest, type Digest } from '../core/digest.js';
import { Codes, isRegistryError, RegistryError } from '../core/errors.js';
import type { Blobs } from './blobs.js';
import type { RegistryContext, RepoScope } from './context.js';
import { requireRepository } from './repositories.js';
import type { Uploads, UploadStatus } from './uploads.js';
import { quotaExceeded, type Quotas } from './quotas.js';
import { Readable } from 'node:stream';

/** One digest of an availability check: invalid, absent, or there with its size. */
export type LayerAvailability =
  | { digest: string; kind: 'invalid' }
  | { digest: Digest; kind: 'unavailable' }
  /** Only archived images of the repository reference it (ECR's layerAvailability ARCHIVED). */
  | { digest: Digest; kind: 'archived' }
  | { digest: Digest; kind: 'available'; size: number };

export class LayerUploads {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly uploads: Uploads,
    private readonly blobs: Blobs,
    private readonly quotas: Quotas,
  ) {}

  /**
   * Starts an upload into an existing repository; RepositoryNotFound otherwise. (A repository
   * deleted between the check and the start is recreated under create-on-push, by the shared
   * session start; the window is one request.)
   */
  async initiate(scope: RepoScope): Promise<UploadStatus> {
    await requireRepository(this.ctx, scope);
    return this.uploads.start(scope);
  }

  /**
   * UploadLayerPart: appends one part at `first`, within ECR's part quotas — at most layerParts
   * parts, each at most maxLayerPartBytes, every part but the last at least minLayerPartBytes
   * (a part after a short one is refused, since the short one was then not the last). The count
   * is recorded after the bytes are accepted: a refused or failed part does not count, and two
   * parts for one offset cannot both be accepted (the upload's offset check).
   */
  async part(scope: RepoScope, id: string, part: Buffer, first: number): Promise<UploadStatus> {
    const q = await this.quotas.values(scope.registryKey);
    if (part.length > q.maxLayerPartBytes) throw quotaExceeded('maxLayerPartBytes', q.maxLayerPartBytes);
    // The counts are read by upload id alone: first the id must be an upload of this repository
    // (else UploadNotFound), so another repository's or account's upload answers nothing of its parts.
    await this.uploads.status(scope, id);
    const counted = await this.ctx.meta.quotas.uploadParts(id);
    if (counted) {
      if (counted.parts >= q.layerParts) throw quotaExceeded('layerParts', q.layerParts);
      if (counted.parts > 0 && counted.lastPartBytes < q.minLayerPartBytes) throw quotaExceeded('minLayerPartBytes', q.minLayerPartBytes);
    }
    const status = await this.uploads.append(scope, id, Readable.from([part]), { start: first });
    await this.ctx.meta.quotas.recordUploadPart(id, part.length);
    return status;
  }

  /** Finishes an upload as `digest`, unless it is empty or the repository already has the layer. */
  async complete(scope: RepoScope, id: string, digest: Digest): Promise<Digest> {
    const status = await this.uploads.status(scope, id);
    if (status.size === 0) throw new RegistryError(Codes.EmptyUpload, 'The upload contains no parts');
    if (await this.has(scope, digest)) {
      await this.uploads.cancel(scope, id);
      throw new RegistryError(Codes.LayerAlreadyExists, `The layer ${digest} already exists in the repository ${scope.name}`);
    }
    return this.uploads.complete(scope, id, digest);
  }

  /** For each digest, whether the repository has it (and its size); the repository must exist. */
  async availability(scope: RepoScope, digests: string[]): Promise<LayerAvailability[]> {
    await requireRepository(this.ctx, scope);
    const out: LayerAvailability[] = [];
    for (const d of digests) {
      if (!isDigest(d)) {
        out.push({ digest: d, kind: 'invalid' });
        continue;
      }
      const blob = await this.stat(scope, d);
      out.push(
        blob === 'archived' ? { digest: d, kind: 'archived' } : blob ? { digest: d, kind: 'available', size: blob.size } : { digest: d, kind: 'unavailable' },
      );
    }
    return out;
  }

  private async has(scope: RepoScope, digest: Digest): Promise<boolean> {
    const blob = await this.stat(scope, digest);
    return blob !== undefined && blob !== 'archived';
  }

  private async stat(scope: RepoScope, digest: Digest): Promise<{ size: number } | 'archived' | undefined> {
    try {
      return await this.blobs.stat(scope, digest);
    } catch (e) {
      if (isRegistryError(e) && e.code === Codes.BlobUnknown) return undefined;
      if (isRegistryError(e) && e.code === Codes.LayerArchived) return 'archived';
      throw e;
    }
  }
}
