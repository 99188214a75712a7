/**
 * Image use cases in ECR's terms: images named by `{imageDigest?, imageTag?}`, listed and
 * described with their tags and sizes, fetched and deleted in batches with per-item failures.
 * Pushes and deletes go through Manifests, the one code path both APIs share.
 */
import { digestOf, isDigest, type Digest } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import { isTag, parseTag } from '../core/names.js';
import type { ImageExpiryResult, ImageSummary, ManifestRecord, Page, TagStatus } from '../metadata/types.js';
import type { ImageStatusFilter } from '../metadata/archive.js';
import { accountOf } from '../core/registry-key.js';
import type { RegistryContext, RepoScope } from './context.js';
import { deleteEvents, lifecycleEvents } from './events.js';
import { ImageListing, type ImageDetail } from './image-listing.js';
import type { Manifests } from './manifests.js';
import type { MaySign } from './signing.js';
import { requireRepository } from './repositories.js';

export interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

export interface ImageFailure {
  imageId: ImageId;
  failureCode: string;
  failureReason: string;
}

export type { ImageDetail } from './image-listing.js';

export interface ResolvedImage {
  id: ImageId;
  manifest: ManifestRecord;
}

export function imageIdText(id: ImageId): string {
  return `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
}

export class Images {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly manifests: Manifests,
  ) {}

  /**
   * PutImage: pushes a manifest given as text, by tag or untagged. Re-pushing a manifest under
   * a tag it already has is ImageAlreadyExists, as on ECR.
   */
  async put(
    scope: RepoScope,
    input: { manifest: string; mediaType?: string; tag?: string; digest?: string; pushedBy?: string; maySign?: MaySign },
  ): Promise<{ digest: Digest; manifest: ManifestRecord }> {
    const payload = Buffer.from(input.manifest, 'utf8');
    const computed = digestOf(payload);
    if (input.digest !== undefined && input.digest !== computed) {
      throw new RegistryError(
        Codes.ImageDigestDoesNotMatch,
        `Invalid parameter at 'imageDigest' failed to satisfy constraint: 'digest of the manifest is ${computed}'`,
      );
    }
    const tag = input.tag === undefined ? undefined : parseTag(input.tag);
    // The JSON API pushes only into an existing repository (creation on push is /v2's alone).
    const repo = await requireRepository(this.ctx, scope);
    if (tag !== undefined) {
      const current = await this.ctx.meta.manifests.findByTag(repo.id, tag);
      if (current?.digest === computed) {
        throw new RegistryError(
          Codes.ImageAlreadyExists,
          `Image with digest '${computed}' and tag '${tag}' already exists in the repository with name '${scope.name}' in registry with id '${accountOf(scope.registryKey)}'`,
        );
      }
    }
    const ref = tag !== undefined ? { kind: 'tag' as const, tag } : { kind: 'digest' as const, digest: computed };
    const pushed = await this.manifests.push(scope, ref, payload, input.mediaType, {
      typeDeclared: input.mediaType !== undefined,
      ...(input.pushedBy !== undefined && { pushedBy: input.pushedBy }),
      ...(input.maySign && { maySign: input.maySign }),
      createRepository: false,
    });
    const manifest = await this.ctx.meta.manifests.find(repo.id, pushed.digest);
    if (!manifest) throw new RegistryError(Codes.ManifestUnknown, 'the image was deleted while it was being pushed');
    return { digest: pushed.digest, manifest };
  }

  /** A listing of one status (ECR's default: ACTIVE) or ANY, the repository looked up once for all its reads. */
  async listing(scope: RepoScope, tagStatus: TagStatus = 'ANY', imageStatus: ImageStatusFilter = 'ACTIVE'): Promise<ImageListing> {
    return new ImageListing(this.ctx.meta, await requireRepository(this.ctx, scope), tagStatus, imageStatus);
  }

  /** Images of one status (ECR's default: ACTIVE) or ANY. */
  async list(scope: RepoScope, page: Page, tagStatus: TagStatus, imageStatus: ImageStatusFilter = 'ACTIVE'): Promise<ImageSummary[]> {
    return (await this.listing(scope, tagStatus, imageStatus)).list(page);
  }

  /** Details with sizes; an index's size is its largest child's, as ECR reports it. */
  async details(scope: RepoScope, images: ImageSummary[]): Promise<ImageDetail[]> {
    return (await this.listing(scope)).details(images);
  }

  /**
   * One image's digest, for the operations that describe one image (DescribeImageReplicationStatus,
   * DescribeImageSigningStatus): RepositoryNotFound, ImageNotFound, or InvalidParameter for an id
   * that names no image at all.
   */
  async digestOf(scope: RepoScope, id: ImageId): Promise<Digest> {
    const { found, failures } = await this.resolve(scope, [id]);
    const image = found[0];
    if (image) return image.manifest.digest;
    if (failures[0]?.failureCode !== undefined && failures[0].failureCode !== 'ImageNotFound') {
      throw new RegistryError(Codes.InvalidParameter, `Invalid image id ${imageIdText(id)}`);
    }
    throw new RegistryError(
      Codes.ManifestUnknown,
      `The image with imageId ${imageIdText(id)} does not exist within the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
    );
  }

  /**
   * Resolves image ids; each one that can't be resolved becomes a failure. For a `pull`
   * (BatchGetImage), an image that is not ACTIVE is a failure too: archived images can't be pulled.
   */
  async resolve(scope: RepoScope, ids: ImageId[], opts: { pull?: boolean } = {}): Promise<{ found: ResolvedImage[]; failures: ImageFailure[] }> {
    const repo = await requireRepository(this.ctx, scope);
    const found: ResolvedImage[] = [];
    const failures: ImageFailure[] = [];
    for (const id of ids) {
      const problem = checkImageId(id);
      if (problem) {
        failures.push({ imageId: id, ...problem });
        continue;
      }
      const byTag = id.imageTag !== undefined ? await this.ctx.meta.manifests.findByTag(repo.id, id.imageTag) : undefined;
      const manifest = byTag ?? (id.imageDigest !== undefined ? await this.ctx.meta.manifests.find(repo.id, id.imageDigest as Digest) : undefined);
      if (!manifest || (id.imageTag !== undefined && !byTag)) {
        failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
      } else if (id.imageDigest !== undefined && manifest.digest !== id.imageDigest) {
        failures.push({ imageId: id, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid image digest and tag combination' });
      } else if (opts.pull && manifest.imageStatus !== 'ACTIVE') {
        failures.push({
          imageId: id,
          failureCode: 'ImageNotFound',
          failureReason:
            manifest.imageStatus === 'ARCHIVED'
              ? 'Requested image is archived; restore it with UpdateImageStorageClass'
              : 'Requested image is being restored from the archive (ACTIVATING)',
        });
      } else {
        found.push({ id, manifest });
      }
    }
    return { found, failures };
  }

  /** Like resolve, but an unknown image fails the whole call (DescribeImages' behaviour). */
  async requireAll(scope: RepoScope, ids: ImageId[]): Promise<ImageSummary[]> {
    const repo = await requireRepository(this.ctx, scope);
    const { found, failures } = await this.resolve(scope, ids);
    const first = failures[0];
    if (first) {
      if (first.failureCode !== 'ImageNotFound') throw new RegistryError(Codes.InvalidParameter, first.failureReason);
      throw new RegistryError(
        Codes.ManifestUnknown,
        `The image with imageId ${imageIdText(first.imageId)} does not exist within the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    return this.ctx.meta.images.get(
      repo.id,
      found.map((f) => f.manifest.digest),
    );
  }

  /**
   * A lifecycle expiry of one image, with its referrers, all or nothing, and only while the image
   * is what the policy was evaluated on (`plannedTags`, no index listing it): a user's push or
   * untag between the evaluation and the delete wins, and the image is kept. Reported as the
   * lifecycle policy's action.
   */
  async expire(scope: RepoScope, digest: Digest, plannedTags: readonly string[]): Promise<ImageExpiryResult> {
    if (!this.ctx.limits.deleteEnabled) throw new RegistryError(Codes.MethodNotAllowed, 'deletes are disabled');
    const repo = await requireRepository(this.ctx, scope);
    const now = this.ctx.clock.now();
    const events = lifecycleEvents(scope, now);
    const result = await this.ctx.meta.manifests.expireImage(repo.id, digest, plannedTags, now, events);
    if (events && result.kind === 'expired') this.ctx.eventsQueued?.();
    return result;
  }

  /**
   * Deletes by tag (untag; the image goes with its last tag) or by digest (the image and all
   * its tags), every image in one metadata transaction. A manifest still listed by an index is
   * kept and reported, as ECR does (the same rule /v2's delete obeys, in the store). Failures
   * come in ECR's order: those found while resolving the names first, then refused deletes.
   */
  async batchDelete(scope: RepoScope, ids: ImageId[]): Promise<{ deleted: ImageId[]; failures: ImageFailure[] }> {
    const repo = await requireRepository(this.ctx, scope);
    const now = this.ctx.clock.now();
    const events = deleteEvents(scope, now);
    const problems = ids.map(checkImageId);
    const valid = ids.filter((_, n) => problems[n] === undefined);
    if (valid.length > 0 && !this.ctx.limits.deleteEnabled) throw new RegistryError(Codes.MethodNotAllowed, 'deletes are disabled');
    const results =
      valid.length === 0
        ? []
        : await this.ctx.meta.manifests.deleteImages(
            repo.id,
            valid.map((id) => ({
              ...(id.imageTag !== undefined && { tag: id.imageTag }),
              ...(id.imageDigest !== undefined && { digest: id.imageDigest as Digest }),
            })),
            now,
            events,
          );
    if (events && results.some((r) => r.kind === 'deleted')) this.ctx.eventsQueued?.();
    const deleted: ImageId[] = [];
    const failures: ImageFailure[] = [];
    const refused: ImageFailure[] = [];
    let next = 0;
    for (const [n, id] of ids.entries()) {
      const problem = problems[n];
      if (problem) {
        failures.push({ imageId: id, ...problem });
        continue;
      }
      const r = results[next++]!;
      switch (r.kind) {
        case 'deleted':
          deleted.push(
            id.imageTag !== undefined && id.imageDigest === undefined ? { imageDigest: r.digest, imageTag: id.imageTag } : { ...id, imageDigest: r.digest },
          );
          this.ctx.log.info({ repository: scope.name, imageId: imageIdText(id), digest: r.digest }, 'image deleted');
          break;
        case 'notFound':
          failures.push({ imageId: id, ...IMAGE_NOT_FOUND });
          break;
        case 'tagDigestMismatch':
          failures.push({ imageId: id, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid image digest and tag combination' });
          break;
        case 'gone':
          refused.push({ imageId: id, ...IMAGE_NOT_FOUND });
          break;
        case 'referenced':
          refused.push({
            imageId: id,
            failureCode: 'ImageReferencedByManifestList',
            failureReason: `Requested image referenced by manifest list: [${r.parents.join(', ')}]`,
          });
          break;
      }
    }
    return { deleted, failures: [...failures, ...refused] };
  }
}

const IMAGE_NOT_FOUND = { failureCode: 'ImageNotFound', failureReason: 'Requested image not found' };

/** ECR's per-item validation of an image id. */
function checkImageId(id: ImageId): { failureCode: string; failureReason: string } | undefined {
  if (id.imageDigest === undefined && id.imageTag === undefined) {
    return { failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request parameters: both tag and digest cannot be null' };
  }
  if (id.imageDigest !== undefined && !isDigest(id.imageDigest)) {
    return {
      failureCode: 'InvalidImageDigest',
      failureReason: "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
    };
  }
  if (id.imageTag !== undefined && !isTag(id.imageTag)) {
    return { failureCode: 'InvalidImageTag', failureReason: 'Invalid request parameters: invalid image tag' };
  }
  return undefined;
}
