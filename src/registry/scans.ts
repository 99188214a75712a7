/**
 * Image scanning as ECR exposes it: which pushes start a scan (the repository's scanOnPush or
 * the registry's scanning rules), StartImageScan with ECR's one-scan-per-image-per-24-hours
 * quota, and the recorded status and findings. A scan itself is a durable job (SCAN_JOB) that
 * the scanner worker runs; starting one writes the IN_PROGRESS status and the job together.
 */
import type { Digest } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import { isContainerImage } from '../core/media-types.js';
import type { ImageScanRecord, JobRequest } from '../metadata/types.js';
import { accountOf, parseRegistryKey, registryKeyText } from '../core/registry-key.js';
import type { RegistryContext, RepoScope } from './context.js';
import { emitsEvents, scanEvents } from './events.js';
import { imageIdText, type ImageId, type Images } from './images.js';
import { requireRepository } from './repositories.js';

export const SCAN_JOB = 'scan-image';
const QUOTA_MS = 24 * 3600_000;

/**
 * A scan job as stored in the job queue. The stored field name predates the registry key type:
 * `registryId` here holds the key's stored text ("account:region"), not ECR's registryId; it
 * stays so that jobs already queued, and nodes of the previous version, read the same payload.
 */
export interface ScanJobPayload {
  registryId: string;
  repository: string;
  digest: Digest;
}

/** ECR's basic finding shape, as stored and served. */
export interface BasicFinding {
  name: string;
  description?: string;
  uri?: string;
  severity: 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | 'UNDEFINED';
  attributes: Array<{ key: string; value: string }>;
}

/** What a finished scan stores (ImageScanRecord.findings, as JSON). */
export interface StoredFindings {
  findingSeverityCounts: Record<string, number>;
  findings: BasicFinding[];
  /** ECR's enhanced shape, for registries whose scan type is ENHANCED. */
  enhancedFindings?: Array<Record<string, unknown>>;
}

export function scanJob(scope: RepoScope, digest: Digest): JobRequest {
  const payload: ScanJobPayload = { registryId: registryKeyText(scope.registryKey), repository: scope.name, digest };
  return { kind: SCAN_JOB, account: accountOf(scope.registryKey), payload };
}

/** The repository and image a stored scan job names. */
export function scanJobTarget(payload: ScanJobPayload): { scope: RepoScope; digest: Digest } {
  return { scope: { registryKey: parseRegistryKey(payload.registryId), name: payload.repository }, digest: payload.digest };
}

export class Scans {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly images: Images,
  ) {}

  /** StartImageScan: resolves the image, applies the quota, records IN_PROGRESS and enqueues. */
  async start(scope: RepoScope, id: ImageId): Promise<{ digest: Digest; tag?: string }> {
    const repo = await requireRepository(this.ctx, scope);
    const { found, failures } = await this.images.resolve(scope, [id]);
    const image = found[0];
    if (!image) throw this.notFound(scope, id, failures[0]?.failureCode);
    // ECR: ImageArchivedException, "The specified image is archived and cannot be scanned".
    if (image.manifest.imageStatus !== 'ACTIVE') {
      throw new RegistryError(Codes.ImageArchived, `The image ${image.manifest.digest} is ${image.manifest.imageStatus} and cannot be scanned`);
    }
    if (!isContainerImage(image.manifest.mediaType, image.manifest.artifactType)) {
      throw new RegistryError(Codes.Unsupported, 'The operation is not supported for this image type.');
    }
    const now = this.ctx.clock.now();
    const started = await this.ctx.meta.scans.start(
      repo.id,
      image.manifest.digest,
      scanJob(scope, image.manifest.digest),
      now,
      new Date(now.getTime() - QUOTA_MS),
    );
    if (started === 'quota') throw new RegistryError(Codes.LimitExceeded, 'The scan quota per image has been exceeded. Wait and try again.');
    if (started === 'missing') throw this.notFound(scope, id);
    this.ctx.jobsQueued?.();
    return { digest: image.manifest.digest, ...(id.imageTag !== undefined && { tag: id.imageTag }) };
  }

  /** The recorded scan of an image; ScanNotFound if it was never scanned. */
  async get(scope: RepoScope, id: ImageId): Promise<{ digest: Digest; scan: ImageScanRecord }> {
    const repo = await requireRepository(this.ctx, scope);
    const { found, failures } = await this.images.resolve(scope, [id]);
    const image = found[0];
    if (!image) throw this.notFound(scope, id, failures[0]?.failureCode);
    const scan = await this.ctx.meta.scans.get(repo.id, image.manifest.digest);
    if (!scan) {
      throw new RegistryError(
        Codes.ScanNotFound,
        `Image scan does not exist for the image with '${imageIdText(id)}' in the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    return { digest: image.manifest.digest, scan };
  }

  /**
   * Records a scan's end and reports it ("ECR Image Scan") in the same transaction; `counts`
   * are the findings by severity. Nothing is reported when the image is gone meanwhile.
   */
  async finish(
    scope: RepoScope,
    repositoryId: number,
    digest: Digest,
    result: Omit<ImageScanRecord, 'startedAt'>,
    counts: Record<string, number> = {},
  ): Promise<void> {
    const at = result.completedAt ?? this.ctx.clock.now();
    const tags = emitsEvents(scope.registryKey) ? ((await this.ctx.meta.images.get(repositoryId, [digest]))[0]?.tags ?? []) : [];
    const events = scanEvents(scope, digest, tags, result.status, counts, at);
    await this.ctx.meta.scans.finish(repositoryId, digest, result, events);
    if (events.length > 0) this.ctx.eventsQueued?.();
  }

  private notFound(scope: RepoScope, id: ImageId, failureCode?: string): RegistryError {
    if (failureCode !== undefined && failureCode !== 'ImageNotFound') return new RegistryError(Codes.InvalidParameter, `Invalid image id ${imageIdText(id)}`);
    return new RegistryError(
      Codes.ManifestUnknown,
      `The image with imageId ${imageIdText(id)} does not exist within the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
    );
  }
}
