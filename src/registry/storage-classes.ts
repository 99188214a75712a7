/**
 * The archive storage class (ECR's UpdateImageStorageClass and lifecycle `transition`): an
 * archived image keeps its manifest, tags and listing, but cannot be pulled; restoring it
 * makes it ACTIVATING until its bytes are back in the standard store, then ACTIVE.
 *
 * The status is changed here, in one transaction with the job that moves the bytes
 * (ARCHIVE_MOVE_JOB, run by lifecycle/archive-mover.ts) and the events that report it. The
 * bytes follow the status; pulls are refused on the status alone, so an archived image is
 * unpullable at once, whether or not its bytes have moved yet.
 */
import type { Digest } from '../core/digest.js';
import { Codes, isRegistryError, RegistryError } from '../core/errors.js';
import { accountOf, parseRegistryKey, registryKeyText } from '../core/registry-key.js';
import type { ImageStatus } from '../metadata/archive.js';
import type { ManifestRecord, OutboxEvent } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';
import { type ClassChangedImage, lifecycleTransitionEvents, storageClassEvents } from './events.js';
import { type ImageId, imageIdText, type Images } from './images.js';
import { requireRepository } from './repositories.js';

export const ARCHIVE_MOVE_JOB = 'archive.move';

/** What the move job is told: the image whose bytes follow its status. */
export interface ArchiveMovePayload {
  registryKey: string;
  repository: string;
  repositoryId: number;
  digest: string;
  target: 'ARCHIVE' | 'STANDARD';
}

export function parseArchiveMovePayload(payload: unknown): ArchiveMovePayload & { scope: RepoScope } {
  const p = payload as ArchiveMovePayload;
  return { ...p, scope: { registryKey: parseRegistryKey(p.registryKey), name: p.repository } };
}

function moveJob(scope: RepoScope, repositoryId: number, digest: Digest, target: 'ARCHIVE' | 'STANDARD') {
  const payload: ArchiveMovePayload = { registryKey: registryKeyText(scope.registryKey), repository: scope.name, repositoryId, digest, target };
  return { kind: ARCHIVE_MOVE_JOB, account: accountOf(scope.registryKey), payload };
}

function unsupported(message: string): RegistryError {
  return new RegistryError(Codes.ImageStorageClassUpdateNotSupported, message);
}

/**
 * Changes the image's status (ARCHIVE: ACTIVE → ARCHIVED; STANDARD: ARCHIVED → ACTIVATING) with
 * its move job and events, in one transaction; returns the status the image is left in, or
 * 'changed' when `plannedTags` (a lifecycle transition's) are no longer the image's.
 */
async function changeStatus(
  ctx: RegistryContext,
  scope: RepoScope,
  repositoryId: number,
  m: ManifestRecord,
  target: 'ARCHIVE' | 'STANDARD',
  events: OutboxEvent[],
): Promise<ImageStatus>;
async function changeStatus(
  ctx: RegistryContext,
  scope: RepoScope,
  repositoryId: number,
  m: ManifestRecord,
  target: 'ARCHIVE' | 'STANDARD',
  events: OutboxEvent[],
  plannedTags: readonly string[],
): Promise<ImageStatus | 'changed'>;
async function changeStatus(
  ctx: RegistryContext,
  scope: RepoScope,
  repositoryId: number,
  m: ManifestRecord,
  target: 'ARCHIVE' | 'STANDARD',
  events: OutboxEvent[],
  plannedTags?: readonly string[],
): Promise<ImageStatus | 'changed'> {
  const change = target === 'ARCHIVE' ? ({ from: 'ACTIVE', to: 'ARCHIVED' } as const) : ({ from: 'ARCHIVED', to: 'ACTIVATING' } as const);
  const found = await ctx.meta.archive.setStatus(
    repositoryId,
    m.digest,
    { ...change, ...(plannedTags && { plannedTags }) },
    ctx.clock.now(),
    [moveJob(scope, repositoryId, m.digest, target)],
    events,
  );
  if (found === undefined) throw new RegistryError(Codes.ManifestUnknown, 'the image was deleted while its storage class was being changed');
  if (found === 'listed') throw unsupported('The image is listed by an image index in the repository: archive the index instead');
  if (found === 'changed') return found;
  // A concurrent change got there first: report the status it left.
  if (found !== change.from) return found;
  ctx.jobsQueued?.();
  if (events.length > 0) ctx.eventsQueued?.();
  ctx.log.info({ registryKey: scope.registryKey, repository: scope.name, digest: m.digest, imageStatus: change.to }, 'image storage class changed');
  return change.to;
}

/**
 * After a push: a manifest that is stored ARCHIVED is restored, as a push does on ECR (its
 * bytes come back as a restore's do); an ACTIVE image that shares a blob still in the archive
 * gets a move job to bring it back (until then the blob is read from the archive).
 */
export async function restoreOnPush(ctx: RegistryContext, scope: RepoScope, repositoryId: number, digest: Digest): Promise<void> {
  const m = await ctx.meta.manifests.find(repositoryId, digest);
  if (m?.imageStatus === 'ARCHIVED') await changeStatus(ctx, scope, repositoryId, m, 'STANDARD', []);
  else if (m?.imageStatus === 'ACTIVE' && (await ctx.meta.archive.hasArchivedBlobs(repositoryId, digest))) {
    await ctx.meta.jobs.enqueue([moveJob(scope, repositoryId, digest, 'STANDARD')], ctx.clock.now());
    ctx.jobsQueued?.();
  }
}

/** Refuses a pull (manifest GET or HEAD, BatchGetImage) of an image that is not ACTIVE. */
export function checkPullable(scope: RepoScope, m: ManifestRecord): void {
  if (m.imageStatus === 'ACTIVE') return;
  throw new RegistryError(
    Codes.ImageArchived,
    m.imageStatus === 'ARCHIVED'
      ? `The image ${m.digest} in repository '${scope.name}' is archived and cannot be pulled; restore it with UpdateImageStorageClass (targetStorageClass STANDARD)`
      : `The image ${m.digest} in repository '${scope.name}' is being restored from the archive (ACTIVATING); pull it once it is ACTIVE`,
    { digest: m.digest, imageStatus: m.imageStatus },
  );
}

/**
 * The refusal of a read of a layer that, in this repository, only images that are not ACTIVE
 * reference (BlobStat.layerAccess 'archived').
 */
export function layerArchivedError(scope: RepoScope, digest: Digest): RegistryError {
  return new RegistryError(
    Codes.LayerArchived,
    `The layer ${digest} in repository '${scope.name}' belongs only to archived images and cannot be pulled; restore an image with UpdateImageStorageClass`,
    { digest },
  );
}

export class StorageClasses {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly images: Images,
  ) {}

  /**
   * UpdateImageStorageClass: ARCHIVE archives an ACTIVE image, STANDARD restores an ARCHIVED
   * one; any other change is ImageStorageClassUpdateNotSupported and changes nothing.
   */
  async update(scope: RepoScope, id: ImageId, target: 'ARCHIVE' | 'STANDARD'): Promise<{ imageId: ImageId; imageStatus: ImageStatus }> {
    const repo = await requireRepository(this.ctx, scope);
    const { found, failures } = await this.images.resolve(scope, [id]);
    const failure = failures[0];
    if (failure) {
      if (failure.failureCode !== 'ImageNotFound') throw new RegistryError(Codes.InvalidParameter, failure.failureReason);
      throw new RegistryError(
        Codes.ManifestUnknown,
        `The image with imageId ${imageIdText(id)} does not exist within the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    const m = found[0]!.manifest;
    const imageId = { imageDigest: m.digest, ...(id.imageTag !== undefined && { imageTag: id.imageTag }) };
    if (target === 'ARCHIVE') {
      if (m.imageStatus !== 'ACTIVE') throw unsupported(`The image is ${m.imageStatus}: only an ACTIVE image can be archived`);
      // An image an index lists is refused by the store, in the change's own transaction.
      const status = await changeStatus(
        this.ctx,
        scope,
        repo.id,
        m,
        'ARCHIVE',
        storageClassEvents(scope, await this.describe(repo.id, m), 'ARCHIVE', this.now()),
      );
      return { imageId, imageStatus: status };
    }
    if (m.imageStatus !== 'ARCHIVED') throw unsupported(`The image is ${m.imageStatus}: only an ARCHIVED image can be restored`);
    return { imageId, imageStatus: await changeStatus(this.ctx, scope, repo.id, m, 'STANDARD', []) };
  }

  /**
   * A lifecycle `transition`: archives the image if it is still ACTIVE and still what the policy
   * was evaluated on (`plannedTags`, no index listing it); 'skipped' when it is not ACTIVE (or
   * gone), 'kept' with the reason when a user changed it since.
   */
  async transition(
    scope: RepoScope,
    repositoryId: number,
    digest: Digest,
    plannedTags: readonly string[],
  ): Promise<{ kind: 'archived' | 'skipped' } | { kind: 'kept'; reason: string }> {
    const m = await this.ctx.meta.manifests.find(repositoryId, digest);
    if (m?.imageStatus !== 'ACTIVE') return { kind: 'skipped' };
    const events = lifecycleTransitionEvents(scope, await this.describe(repositoryId, m), this.now());
    let status: ImageStatus | 'changed';
    try {
      status = await changeStatus(this.ctx, scope, repositoryId, m, 'ARCHIVE', events, plannedTags);
    } catch (e) {
      if (isRegistryError(e) && e.code === Codes.ImageStorageClassUpdateNotSupported) return { kind: 'kept', reason: 'an index now lists it' };
      if (isRegistryError(e) && e.code === Codes.ManifestUnknown) return { kind: 'skipped' };
      throw e;
    }
    if (status === 'changed') return { kind: 'kept', reason: 'its tags changed since the evaluation' };
    return { kind: status === 'ARCHIVED' ? 'archived' : 'skipped' };
  }

  /** Marks a restored image ACTIVE once its bytes are back; the move job calls it. */
  async activate(scope: RepoScope, repositoryId: number, digest: Digest): Promise<'active' | 'waiting' | 'missing'> {
    const m = await this.ctx.meta.manifests.find(repositoryId, digest);
    if (!m) return 'missing';
    const events = storageClassEvents(scope, await this.describe(repositoryId, m), 'STANDARD', this.now());
    const result = await this.ctx.meta.archive.activate(repositoryId, digest, this.now(), events);
    if (result === 'active' && m.imageStatus === 'ACTIVATING') {
      this.ctx.eventsQueued?.();
      this.ctx.log.info({ registryKey: scope.registryKey, repository: scope.name, digest }, 'image restored from the archive');
    }
    return result;
  }

  private async describe(repositoryId: number, m: ManifestRecord): Promise<ClassChangedImage> {
    const [summary] = await this.ctx.meta.images.get(repositoryId, [m.digest]);
    return { digest: m.digest, mediaType: m.mediaType, ...(m.artifactType !== undefined && { artifactType: m.artifactType }), tags: summary?.tags ?? [] };
  }

  private now(): Date {
    return this.ctx.clock.now();
  }
}
